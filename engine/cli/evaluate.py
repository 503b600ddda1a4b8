"""`python -m engine evaluate`: Lake's N-way k-shot within-alphabet benchmark, or Lake's 20 official runs."""

from __future__ import annotations

from ..data import find_runs, load_omniglot, resolve_data_dir, split_background, validation_split_of
from ..evaluation.evaluate import PUBLISHED, OneShotConfig, evaluate_one_shot, score_runs
from ..evaluation.official_runs import PROTOCOL, SEEDED_PROTOCOL_NOTE, RunsMissing, RunsSummary, read_runs, resolve_runs_source
from ..weights import load_weights
from ..device import select_device
from ..recognition.views import describe_views
from .common import add_data_dir, add_device, add_views, add_weights, info, print_json_line, views_from_args
from .progress import bar, callback_for

OFFICIAL = ""  # --runs with no path: the runs located beside the Omniglot archives


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="one-shot benchmark (Lake et al. 2015 protocol)",
                       description="N-way k-shot within-alphabet one-shot classification on seeded tasks from "
                                   "the evaluation alphabets, or on Lake's 20 official one-shot runs (--runs), "
                                   "the protocol behind the published figures.")
    add_weights(p)
    p.add_argument("--way", type=int, default=20)
    p.add_argument("--shot", type=int, default=1)
    p.add_argument("--tasks", type=int, default=400, help="tasks; each classifies WAY test items")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", choices=["evaluation", "validation"], default="evaluation",
                   help="evaluation alphabets (testing) or the held-out background alphabets (model selection)")
    p.add_argument("--val-alphabets", type=int, default=None,
                   help="with --split validation and a model whose card holds no split: how many to hold out")
    p.add_argument("--runs", nargs="?", const=OFFICIAL, metavar="PATH",
                   help="Lake's official one-shot runs: all_runs.zip, its extracted folder, or a folder holding "
                        "either; with no PATH, the ones found beside the Omniglot archives (--data-dir)")
    p.add_argument("--official", dest="runs", action="store_const", const=OFFICIAL,
                   help="the same as --runs with no PATH")
    add_views(p)
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    p.add_argument("--quiet", action="store_true")
    add_device(p)
    add_data_dir(p)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.runs:
        resolve_runs_source(args.runs)  # a missing PATH is said at once, before the model loads
    loaded = load_weights(args.weights, select_device(args.device))
    info(f"Model: {loaded.name} ({loaded.model.config.preset}, {loaded.path})")
    if args.runs is not None:
        return _run_runs(args, loaded)
    data = load_omniglot(args.data_dir, with_evaluation=args.split == "evaluation")
    if args.split == "evaluation":
        dataset, chars = data.evaluation, None
    else:
        dataset = data.background
        chars = split_background(dataset, validation_split_of(loaded.card, args.val_alphabets)).val_chars
    cfg = OneShotConfig(way=args.way, shot=args.shot, tasks=args.tasks, seed=args.seed)
    views = views_from_args(args, loaded.card)
    with bar(0, "embedding", unit="img", quiet=args.quiet) as b:
        result = evaluate_one_shot(loaded.model, dataset, cfg, chars=chars, progress=callback_for(b), views=views)
    info(f"\n{cfg.way}-way {cfg.shot}-shot within-alphabet, {args.split} alphabets, {result.n_tasks} tasks "
         f"({result.n_trials} trials), seed {cfg.seed}")
    info(f"accuracy {result.accuracy:.2%} +- {result.ci95:.2%} (95% CI); {describe_views(views)}\n")
    for name, (acc, n) in result.per_alphabet.items():
        info(f"  {name:<45} {acc:7.2%}  ({n} trials)")
    if cfg.way == 20 and cfg.shot == 1 and args.split == "evaluation":
        info(f"\n{SEEDED_PROTOCOL_NOTE} (`--runs`)")
    if args.json:
        print_json_line({**result.to_dict(), "split": args.split, "weights": str(loaded.path)})
    return 0


def _run_runs(args, loaded) -> int:
    path = args.runs or find_runs(args.data_dir)
    if path is None:
        raise RunsMissing(f"Lake's official runs (all_runs.zip) are not in {resolve_data_dir(args.data_dir)}: "
                          f"fetch them with `python -m engine data download`, or give --runs PATH.")
    runs = read_runs(path)
    views = views_from_args(args, loaded.card)
    with bar(len(runs.runs), "runs", unit="run", quiet=args.quiet) as b:
        results = score_runs(loaded.model, runs.runs, progress=callback_for(b), views=views)
    summary = RunsSummary.of(results, runs)
    what = PROTOCOL if runs.official else "Runs in the official one-shot format (not Lake's own runs)"
    info(f"\n{what}, from {runs.source}")
    for r in results:
        info(f"  {r.name}: error {r.error:6.1%} ({r.n_items} items)")
    info(f"accuracy {summary.accuracy:.2%} +- {summary.ci95:.2%} (95% CI, {summary.n_trials} trials); "
         f"mean error {summary.mean_error:.2%} over {len(results)} runs; {describe_views(views)}")
    if runs.official:
        info("\npublished (Lake's 20 official runs; Koch et al.: trials built the same way):")
        for name, acc in PUBLISHED.items():
            info(f"  {name:<45} {acc:7.1%}")
    if args.json:
        print_json_line({**summary.to_dict(), "views": views.to_dict(), "weights": str(loaded.path)})
    return 0
