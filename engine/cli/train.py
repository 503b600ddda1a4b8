"""`python -m engine train`: train a siamese network on the background alphabets."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from dataclasses import replace
from pathlib import Path

from ..atomic import write_bytes_atomic
from ..data import load_omniglot
from ..model import PRESETS, DEFAULT_PRESET
from ..train import (FailedEvent, FinishedEvent, StepEvent, TrainConfig, Trainer,
                     ValidationEvent, preset_defaults)
from ..train.distributed import DistContext, init_from_env
from ..train.fields import TRAIN_FIELDS
from ..train.run_folder import RunFolder
from ..weights import card_path
from .common import add_data_dir, add_device, info
from .progress import bar


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a model on Omniglot's background alphabets",
                       description="Train a siamese network on the background alphabets (validation on held-out "
                                   "background alphabets; the evaluation alphabets are never used).")
    p.add_argument("--preset", choices=sorted(PRESETS),
                   help=f"the network and its recommended settings (default {DEFAULT_PRESET}; a resumed run keeps its "
                        "own)")
    add_config_arguments(p)
    p.add_argument("--out", default="runs/latest", help="run folder: checkpoint.pt, best/last weights, log.jsonl")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint (its settings; a new --steps / --minutes "
                        "gives it another length)")
    p.add_argument("--export", help="copy the best weights (and card) here when training ends")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--dist-timeout", type=float, metavar="SECONDS",
                   help="under torchrun: how long a rank waits for the others before failing (default 600; must "
                        "cover rank 0's validation and checkpoints). See docs/distributed.md")
    add_device(p)
    add_data_dir(p)
    p.set_defaults(func=run)


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """Add an option for each setting of TRAIN_FIELDS (default None: the preset's value)."""
    for field in TRAIN_FIELDS:
        if field.kind is bool:
            p.add_argument(field.flag, action=argparse.BooleanOptionalAction, default=None, help=field.help)
        else:
            p.add_argument(field.flag, type=field.kind, help=field.help)


def config_from_args(args) -> TrainConfig:
    """Return the preset's default config with the command line's overrides applied."""
    cfg = replace(preset_defaults(args.preset or DEFAULT_PRESET), device=args.device)
    for field in TRAIN_FIELDS:
        value = getattr(args, field.dest)
        if value is not None:
            cfg = field.apply(cfg, value)
    if args.minutes and args.steps is None:
        cfg.steps = None  # the time budget alone bounds the run
    return cfg


def run(args) -> int:
    # Under torchrun (2+ processes in all) join the process group; a plain run gets None and no group.
    dist = init_from_env(args.device, args.dist_timeout)
    ok = False
    try:
        code = _train(args, dist)
        ok = True
        return code
    finally:
        if dist is not None:
            dist.close(ok)


def _train(args, dist: DistContext | None) -> int:
    main = dist is None or dist.is_main
    say = info if main else (lambda message: None)  # under torchrun only rank 0 talks
    run_folder = RunFolder(args.out)
    out = run_folder.path
    cfg = config_from_args(args)
    checkpoint = None
    if args.resume:  # read and checked before the data: a run that cannot continue says so at once
        checkpoint = run_folder.read_checkpoint()
        saved = TrainConfig.from_dict(checkpoint["config"])
        if args.preset and args.preset != saved.preset:
            raise ValueError(f"{out} holds a {saved.preset} run, not {args.preset}: a resumed run keeps its preset. "
                             f"Resume without --preset, or train {args.preset} in another --out.")
        say(f"Resuming {out} from step {checkpoint['step']:,}")
        cfg = RunFolder.continued_config(saved, cfg, keep_length=args.steps is None and not args.minutes)
    elif run_folder.holds_checkpoint():
        raise ValueError(f"{out} already holds a run: pass --resume to continue it or choose another --out")
    data = load_omniglot(args.data_dir, with_evaluation=False).background
    progress = bar(cfg.steps or 0, "train", unit="step", quiet=args.quiet or not main)
    trainer = Trainer(cfg, data, out, callback=_printer(progress), checkpoint=checkpoint, dist=dist)
    progress.n = trainer.step
    say(f"Training {trainer.config.preset} on {trainer.device} ({len(trainer.split.train_alphabets)} training "
        f"alphabets, validation on {', '.join(trainer.split.val_alphabets) or 'none'})")
    if dist is not None:
        b = trainer.config.batch.size
        say(f"Distributed: {dist.world_size} processes ({dist.backend}), batch {b} per rank and {b * dist.world_size} "
            f"in all (the loss covers the pairs across ranks); rank 0 validates and writes {out}")
    try:
        with _stop_signals(trainer, dist):
            result = trainer.run()
    finally:
        progress.close()
    if not main:
        return 0
    print_summary(result)
    if result.reason == "stopped":
        again = "the same torchrun command with --resume" if dist else f"python -m engine train --resume --out {out}"
        info(f"Checkpoint saved. Continue with: {again}")
    if args.export:
        export_weights(result.best_weights or result.last_weights, Path(args.export))
    return 0


@contextlib.contextmanager
def stop_on_signal(trainer, signum: int, message: str | None):
    """While training, the first `signum` asks the trainer (anything with `request_stop()`) to stop after the
    current step (with a checkpoint); the handler then steps aside, so a second one acts as usual (Ctrl+C aborts).
    Yields nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(received, frame):
        signal.signal(signum, previous)
        trainer.request_stop()
        if message:
            info(message)

    previous = signal.signal(signum, handler)
    try:
        yield
    finally:
        signal.signal(signum, previous)


def _stop_signals(trainer: Trainer, dist: DistContext | None) -> contextlib.ExitStack:
    """Ctrl+C stops cleanly; under torchrun, so does the SIGTERM the launcher sends every rank on Ctrl+C (and a
    SIGKILL 30 s later), all ranks at the same step since rank 0's request counts. Only rank 0 speaks."""
    stack = contextlib.ExitStack()
    main = dist is None or dist.is_main
    stack.enter_context(stop_on_signal(
        trainer, signal.SIGINT, "\nStopping after this step (Ctrl+C again to abort without a checkpoint)..." if main else None))
    if dist is not None:
        stack.enter_context(stop_on_signal(
            trainer, signal.SIGTERM, "\nStopping after this step (torchrun is shutting the ranks down)..." if main else None))
    return stack


def _printer(progress):
    def on_event(event) -> None:
        if isinstance(event, StepEvent):
            progress.n = event.step
            progress.set_postfix(loss=f"{event.loss:.3f}", pair_acc=f"{event.pair_accuracy:.3f}",
                                 img_s=f"{event.images_per_s:.0f}", refresh=False)
            progress.refresh()
        else:
            write_outcome(progress, event, "training")
    return on_event


def write_outcome(progress, event, what: str) -> None:
    """Write a line above the bar for a validation or failure event (`what` names the work); ignore others."""
    if isinstance(event, ValidationEvent):
        progress.write(f"step {event.step}: validation one-shot accuracy {event.accuracy:.1%} "
                       f"+- {event.ci95:.1%}{' (best)' if event.is_best else ''}")
    elif isinstance(event, FailedEvent):
        progress.write(f"{what} failed at step {event.step}: {event.message}")


def print_summary(result: FinishedEvent) -> None:
    """Print how a run ended and where its weights are (returns nothing)."""
    best = f"{result.best_accuracy:.1%}" if result.best_accuracy is not None else "n/a"
    info(f"Finished ({result.reason}) at step {result.step} after {result.elapsed_s / 60:.1f} min; "
         f"best validation accuracy {best}\n  best weights: {result.best_weights}\n  last weights: {result.last_weights}")


def export_weights(src: str | None, dest: Path) -> None:
    """Copy weights `src` and their card to `dest`, each atomically (an existing file there is replaced only by a
    complete copy); returns nothing."""
    if not src:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(dest, Path(src).read_bytes())
    write_bytes_atomic(card_path(dest), card_path(src).read_bytes())
    info(f"Exported {src} to {dest}")
