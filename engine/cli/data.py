"""`python -m engine data`: where the dataset is, what it holds, and downloading it."""

from __future__ import annotations

from ..data import DatasetMissing, download_omniglot, find_runs, find_sources, load_omniglot, resolve_data_dir
from .common import add_data_dir, info
from .progress import bar


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="find, check or download Omniglot")
    p.add_argument("action", choices=["info", "download"],
                   help="info: check the data; download: fetch the image archives and Lake's official runs")
    add_data_dir(p)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.action == "download":
        with bar(0, "download", unit="B") as b:
            def progress(name: str, done: int, total: int) -> None:
                b.set_description(name)
                b.total, b.n = total, done
                b.refresh()
            paths = download_omniglot(args.data_dir, progress=progress)
        for name, path in paths.items():
            info(f"{name}: {path}")
    try:
        sources = find_sources(args.data_dir)
    except DatasetMissing as exc:
        info(str(exc))
        return 1
    data = load_omniglot(args.data_dir)
    info(f"Omniglot in {resolve_data_dir(args.data_dir)}")
    for s in (data.background, data.evaluation):
        info(f"  {s.summary()}  ({sources[s.name]})")
    runs = find_runs(args.data_dir)
    info(f"  official one-shot runs: {runs}" if runs else
         "  official one-shot runs: not found (all_runs.zip or all_runs/; `data download` fetches them)")
    return 0
