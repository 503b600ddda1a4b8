"""Plot a run's logged curves (log.jsonl): training loss and validation one-shot accuracy against wall time.

    pip install matplotlib   # only this script needs it
    python benchmarks/plot_training.py runs/default/log.jsonl --out docs/training_curves.png [--label NAME]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_log(path: Path) -> tuple[list[dict], list[dict]]:
    """Return (step rows, validation rows) of a Trainer log."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["kind"] == "step"], [r for r in rows if r["kind"] == "val"]


def smooth(values: list[float], alpha: float = 0.05) -> list[float]:
    """Return an exponential moving average of `values`."""
    out, acc = [], None
    for v in values:
        acc = v if acc is None else (1 - alpha) * acc + alpha * v
        out.append(acc)
    return out


def main() -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("logs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, default=Path("docs/training_curves.png"))
    p.add_argument("--label", action="append", help="one per log (default: file stem)")
    p.add_argument("--target", type=float, action="append", default=[], help="horizontal accuracy lines")
    args = p.parse_args()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for i, log in enumerate(args.logs):
        name = args.label[i] if args.label and i < len(args.label) else log.stem
        steps, vals = read_log(log)
        t = [r["elapsed_s"] / 60 for r in steps]
        ax_loss.plot(t, [r["loss"] for r in steps], alpha=0.25, lw=0.8)
        ax_loss.plot(t, smooth([r["loss"] for r in steps]), lw=1.6, label=name, color=ax_loss.lines[-1].get_color())
        ax_acc.plot([r["elapsed_s"] / 60 for r in vals], [100 * r["accuracy"] for r in vals], "o-", ms=3, label=name)
    for target in args.target:
        ax_acc.axhline(100 * target, color="grey", ls="--", lw=0.8)
    ax_loss.set(xlabel="wall time (min)", ylabel="training loss (raw and smoothed)", yscale="log")
    ax_acc.set(xlabel="wall time (min)", ylabel="validation 20-way one-shot accuracy (%)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
