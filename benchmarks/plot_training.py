"""Plot a run's logged curves (log.jsonl): training loss and validation one-shot accuracy against wall time.

    python benchmarks/plot_training.py runs/default/log.jsonl --out docs/training_curves.png [--label NAME]

Drawn with pyqtgraph (a dependency of the app) and saved by its image exporter; it runs headless
(QT_QPA_PLATFORM=offscreen is set when there is no display).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


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


def plot(logs: list[Path], labels: list[str], targets: list[float], out: Path, size: tuple[int, int] = (1210, 440)):
    """Draw the loss (log scale, raw and smoothed) and validation accuracy of each log; save a PNG to `out` and
    return its path."""
    import pyqtgraph as pg
    from pyqtgraph.exporters import ImageExporter
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 - pyqtgraph needs one
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    layout = pg.GraphicsLayoutWidget()
    layout.resize(*size)
    loss = layout.addPlot(title="Training loss (raw and smoothed)")
    acc = layout.addPlot(title="Validation 20-way one-shot accuracy (%)")
    loss.setLogMode(y=True)
    for p in (loss, acc):
        p.showGrid(x=True, y=True, alpha=0.3)
        p.setLabel("bottom", "wall time (min)")
        p.addLegend(offset=(-10, 10) if p is acc else (10, 10))
    for i, log in enumerate(logs):
        colour = QColor(COLOURS[i % len(COLOURS)])
        faint = QColor(colour)
        faint.setAlpha(64)
        steps, vals = read_log(log)
        t = [r["elapsed_s"] / 60 for r in steps]
        values = [r["loss"] for r in steps if r["loss"] > 0 and math.isfinite(r["loss"])]
        if len(values) == len(t) and t:
            loss.plot(t, values, pen=pg.mkPen(faint, width=1))
            loss.plot(t, smooth(values), pen=pg.mkPen(colour, width=2), name=labels[i])
        if vals:
            acc.plot([r["elapsed_s"] / 60 for r in vals], [100 * r["accuracy"] for r in vals],
                     pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5, symbolBrush=colour, name=labels[i])
    for target in targets:
        acc.addLine(y=100 * target, pen=pg.mkPen("#808080", width=1, style=pg.QtCore.Qt.PenStyle.DashLine))
    layout.show()  # laid out at its size before exporting
    QApplication.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    exporter = ImageExporter(layout.scene())
    exporter.parameters()["width"] = size[0]
    exporter.export(str(out))
    layout.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("logs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, default=Path("docs/training_curves.png"))
    p.add_argument("--label", action="append", help="one per log (default: file stem)")
    p.add_argument("--target", type=float, action="append", default=[], help="horizontal accuracy lines")
    p.add_argument("--width", type=int, default=1210, help="image width in pixels")
    p.add_argument("--height", type=int, default=440, help="image height in pixels")
    args = p.parse_args(argv)
    labels = [args.label[i] if args.label and i < len(args.label) else log.stem for i, log in enumerate(args.logs)]
    out = plot(args.logs, labels, args.target, args.out, (args.width, args.height))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
