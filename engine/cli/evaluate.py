"""`python -m engine evaluate`: Lake's N-way k-shot within-alphabet benchmark, or official runs folders."""

from __future__ import annotations

from ..data import load_omniglot, split_background, validation_split_of
from ..evaluate import PUBLISHED, OneShotConfig, evaluate_one_shot, evaluate_runs
from ..weights import load_weights
from ..device import select_device
from .common import add_data_dir, add_device, add_weights, info, print_json_line
from .progress import bar, callback_for


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="one-shot benchmark (Lake et al. 2015 protocol)",
                       description="N-way k-shot within-alphabet one-shot classification on the evaluation "
                                   "alphabets, or on a folder of official one-shot runs (--runs).")
    add_weights(p)
    p.add_argument("--way", type=int, default=20)
    p.add_argument("--shot", type=int, default=1)
    p.add_argument("--tasks", type=int, default=400, help="tasks; each classifies WAY test items")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", choices=["evaluation", "validation"], default="evaluation",
                   help="evaluation alphabets (testing) or the held-out background alphabets (model selection)")
    p.add_argument("--val-alphabets", type=int, default=None,
                   help="with --split validation and a model whose card holds no split: how many to hold out")
    p.add_argument("--runs", help="folder of runNN/ folders in the official one-shot format")
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    p.add_argument("--quiet", action="store_true")
    add_device(p)
    add_data_dir(p)
    p.set_defaults(func=run)


def run(args) -> int:
    loaded = load_weights(args.weights, select_device(args.device))
    info(f"Model: {loaded.name} ({loaded.model.config.preset}, {loaded.path})")
    if args.runs:
        return _run_folder(args, loaded)
    data = load_omniglot(args.data_dir, with_evaluation=args.split == "evaluation")
    if args.split == "evaluation":
        dataset, chars = data.evaluation, None
    else:
        dataset = data.background
        chars = split_background(dataset, validation_split_of(loaded.card, args.val_alphabets)).val_chars
    cfg = OneShotConfig(way=args.way, shot=args.shot, tasks=args.tasks, seed=args.seed)
    with bar(0, "embedding", unit="img", quiet=args.quiet) as b:
        result = evaluate_one_shot(loaded.model, dataset, cfg, chars=chars, progress=callback_for(b))
    info(f"\n{cfg.way}-way {cfg.shot}-shot within-alphabet, {args.split} alphabets, {result.n_tasks} tasks "
         f"({result.n_trials} trials), seed {cfg.seed}")
    info(f"accuracy {result.accuracy:.2%} +- {result.ci95:.2%} (95% CI)\n")
    for name, (acc, n) in result.per_alphabet.items():
        info(f"  {name:<45} {acc:7.2%}  ({n} trials)")
    if cfg.way == 20 and cfg.shot == 1:
        info("\npublished (20-way 1-shot, evaluation alphabets):")
        for name, acc in PUBLISHED.items():
            info(f"  {name:<45} {acc:7.1%}")
    if args.json:
        print_json_line({**result.to_dict(), "split": args.split, "weights": str(loaded.path)})
    return 0


def _run_folder(args, loaded) -> int:
    results = evaluate_runs(loaded.model, args.runs)
    for r in results:
        info(f"  {r.name}: error {r.error:.1%} ({r.n_items} items)")
    mean_error = sum(r.error for r in results) / len(results)
    n = sum(r.n_items for r in results)
    accuracy = 1 - mean_error
    ci = 1.96 * (accuracy * (1 - accuracy) / n) ** 0.5
    info(f"mean error {mean_error:.2%} over {len(results)} runs (accuracy {accuracy:.2%})")
    if args.json:
        print_json_line({"accuracy": accuracy, "mean_error": mean_error, "n_trials": n, "ci95": ci,
                         "runs": {r.name: r.error for r in results}, "weights": str(loaded.path)})
    return 0
