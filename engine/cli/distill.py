"""`python -m engine distill`: train a cheaper student (a smaller input size) to reproduce a model's embeddings."""

from __future__ import annotations

import signal
from pathlib import Path

from ..data import load_omniglot
from ..paths import SHIPPED_TEACHER
from ..train.distill import DistillConfig, Distiller, DistillStep
from ..train.events import ValidationEvent
from ..weights import load_weights
from .common import add_data_dir, add_device, info
from .progress import bar
from .train import export_weights, print_summary, stop_on_signal, write_outcome


def add_parser(sub) -> None:
    defaults = DistillConfig()
    p = sub.add_parser("distill", help="distil a model into a faster one that reads smaller glyphs",
                       description="Start from a trained model's weights at a smaller input size and train it to "
                                   "reproduce the original's embeddings on the training alphabets (the original's "
                                   "head is kept, its bias matched so that scores keep their scale). Validation "
                                   "uses the original's held-out background alphabets; the evaluation alphabets "
                                   "are never used.")
    p.add_argument("--teacher", default=str(SHIPPED_TEACHER),
                   help=f"weights to distil (.safetensors); default: {SHIPPED_TEACHER.name}, the full-size model "
                        "the shipped one was distilled from")
    p.add_argument("--input-size", type=int, default=defaults.input_size,
                   help=f"the student's input size in pixels (default {defaults.input_size}; the query cost on a "
                        "CPU scales with its square)")
    p.add_argument("--steps", type=int, default=defaults.steps, help="optimisation steps")
    p.add_argument("--batch", type=int, default=defaults.batch, help="images per step")
    p.add_argument("--lr", type=float, default=defaults.lr, help="peak learning rate (AdamW, cosine schedule)")
    p.add_argument("--val-every", type=int, default=defaults.val_every, help="validate every N steps (0: at the end)")
    p.add_argument("--val-tasks", type=int, default=defaults.val_tasks, help="20-way validation tasks")
    p.add_argument("--seed", type=int, default=defaults.seed, help="seeds the images and distortions drawn")
    p.add_argument("--out", default="runs/distill", help="run folder: best/last weights, log.jsonl")
    p.add_argument("--export", help="copy the best weights (and card) here when it ends")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device(p)
    add_data_dir(p)
    p.set_defaults(func=run)


def run(args) -> int:
    cfg = DistillConfig(input_size=args.input_size, steps=args.steps, batch=args.batch, lr=args.lr,
                        val_every=args.val_every, val_tasks=args.val_tasks, seed=args.seed, device=args.device)
    if min(cfg.steps, cfg.batch, cfg.val_tasks) < 1 or cfg.val_every < 0:
        raise ValueError("--steps, --batch and --val-tasks must be positive and --val-every not negative")
    teacher = load_weights(args.teacher)
    data = load_omniglot(args.data_dir, with_evaluation=False).background
    progress = bar(cfg.steps, "distill", unit="step", quiet=args.quiet)
    distiller = Distiller(teacher, data, cfg, Path(args.out), callback=_printer(progress))
    info(f"Distilling {teacher.path.name} ({teacher.model.config.input_size} px) into a {cfg.input_size} px student "
         f"on {distiller.device}; validation on {', '.join(distiller.split.val_alphabets) or 'none'}")
    try:
        with stop_on_signal(distiller, signal.SIGINT, "\nStopping after this step (Ctrl+C again to abort)..."):
            result = distiller.run()
    finally:
        progress.close()
    print_summary(result)
    if args.export:
        export_weights(result.best_weights or result.last_weights, Path(args.export))
    return 0


def _printer(progress):
    def on_event(event) -> None:
        if isinstance(event, DistillStep):
            progress.n = event.step
            progress.set_postfix(loss=f"{event.loss:.3f}", img_s=f"{event.images_per_s:.0f}", refresh=False)
            progress.refresh()
        else:
            write_outcome(progress, event, "distillation")
            if isinstance(event, ValidationEvent) and event.step == 0:
                progress.reset()  # the rate and ETA count steps from here, not the baseline's validation
    return on_event
