"""Live training curves: loss, pair accuracy, validation one-shot accuracy and learning rate (pyqtgraph).

Built to stay responsive with 100,000+ points: data lives in growable numpy arrays (appending is amortised
O(1), no Python lists of points), the plots clip to the visible range and downsample by peaks, and redraws are
coalesced by a timer to at most `max_fps` a second however fast events arrive. Each tick redraws one plot
(round-robin over those with new data), and the shared x range fits the data in steps (the next of 1, 1.5, 2,
3, 4, 5, 6, 8 x 10^k), changing only when the run outgrows it, so a tick repaints a quarter of the view instead
of four plots and eight axes: the UI's longest pause stays short. "Whole run" shows the planned length instead.
Ticks are also spaced by what they cost (DRAW_BUDGET): on a slow CPU that trains on the same cores, the curves
update less often rather than slow the training down.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPalette
from PySide6.QtWidgets import QCheckBox, QFileDialog, QGraphicsItem, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from engine.train import StepEvent, ValidationEvent

DRAW_BUDGET = 0.04  # the curves may use at most this fraction of the UI thread's time (of one core)
# Samples per pixel column a curve keeps (peak mode then draws each column's lowest and highest): pyqtgraph's
# default, 5, drew ~10 vertices per pixel of a noisy pair-accuracy curve, a 60 ms paint that stalled the UI.
SAMPLES_PER_PIXEL = 1.0
SMOOTHING = 0.95  # EMA weight, as TensorBoard's slider; debiased so the first points are not pulled to zero
_BLUE, _ORANGE, _GREEN, _PURPLE = "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"
TITLE_PT = 10.0  # the plots' title size
TITLE_HEIGHT = 30  # px: the title row of each plot (pyqtgraph's own)
# Each plot's short title (what fits a quarter of the curves' area at the window's minimum width) and its tooltip.
TITLES = {
    "loss": ("Training loss", "Training loss: the pair loss on each training batch"),
    "pair_accuracy": ("Pair accuracy", "Pair accuracy on the training batches: the share of same / different "
                                       "pairs judged right"),
    "val": ("Validation accuracy", "Validation one-shot accuracy on the validation alphabets, with its 95% "
                                   "interval"),
    "lr": ("Learning rate", "Learning rate of each step"),
}
Y_LABELS = {"loss": "loss", "pair_accuracy": "accuracy", "val": "accuracy", "lr": "lr"}


def _ema(y: np.ndarray, b: float, start: float, block: int = 128) -> np.ndarray:
    """Return the exponential moving average e_i = b e_(i-1) + (1 - b) y_i, from e_(-1) = start, vectorised.

    Within a block, e_j = b^(j+1) start + b^j sum_(i<=j) (1 - b) b^(-i) y_i; blocks stay short so that b^(-i)
    keeps full precision, and each block starts from the previous block's last value.
    """
    out = np.empty(len(y))
    if b == 0:
        out[:] = y
        return out
    powers = b ** np.arange(block + 1)
    for lo in range(0, len(y), block):
        part = y[lo:lo + block]
        j = np.arange(len(part))
        acc = np.cumsum((1 - b) * part / powers[j])
        out[lo:lo + len(part)] = powers[j + 1] * start + powers[j] * acc
        start = out[lo + len(part) - 1]
    return out


class Series:
    """Growable x / y arrays with a debiased exponential moving average kept up to date as points arrive."""

    def __init__(self, smoothing: float = SMOOTHING, capacity: int = 1024):
        self.smoothing = smoothing
        self._x = np.empty(capacity)
        self._y = np.empty(capacity)
        self._s = np.empty(capacity)
        self.n = 0
        self._ema = 0.0

    def __len__(self) -> int:
        return self.n

    def extend(self, xs: Sequence[float], ys: Sequence[float]) -> None:
        """Append points (x must not decrease)."""
        k = len(xs)
        if k == 0:
            return
        self._reserve(self.n + k)
        self._x[self.n:self.n + k] = xs
        y = self._y[self.n:self.n + k]
        y[:] = ys
        ema = _ema(y, self.smoothing, self._ema)
        self._ema = float(ema[-1])
        # Debias as TensorBoard does: divide by the weight the EMA has gathered after i + 1 points.
        self._s[self.n:self.n + k] = ema / (1 - self.smoothing ** np.arange(self.n + 1, self.n + k + 1))
        self.n += k

    def _reserve(self, size: int) -> None:
        if size <= len(self._x):
            return
        cap = max(size, 2 * len(self._x))
        for name in ("_x", "_y", "_s"):
            grown = np.empty(cap)
            grown[:self.n] = getattr(self, name)[:self.n]
            setattr(self, name, grown)

    def truncate(self, max_x: float) -> None:
        """Drop the points after `max_x` (a resumed run restarts from its checkpoint)."""
        keep = int(np.searchsorted(self._x[:self.n], max_x, side="right"))
        self.n = keep
        # Rebuild the EMA state from the kept smoothed value.
        b = self.smoothing
        self._ema = self._s[keep - 1] * (1 - b ** keep) if keep else 0.0

    def clear(self) -> None:
        """Remove every point."""
        self.n, self._ema = 0, 0.0

    @property
    def x(self) -> np.ndarray:
        """Return the x values (a view, valid until the next append)."""
        return self._x[:self.n]

    @property
    def y(self) -> np.ndarray:
        """Return the raw y values (a view)."""
        return self._y[:self.n]

    @property
    def smoothed(self) -> np.ndarray:
        """Return the smoothed y values (a view)."""
        return self._s[:self.n]


class ElidedTitle(pg.LabelItem):
    """A plot's title that gives way: it elides its text to the width it gets (the whole title and its
    explanation in the tooltip) instead of widening the plot past the view, as pyqtgraph's own title does."""

    def __init__(self, text: str, tooltip: str, color: str, parent: pg.GraphicsItem | None = None):
        self._full = text
        super().__init__(" ", parent=parent, color=color)
        font = QFont(self.item.font())
        font.setPointSizeF(TITLE_PT)
        self.item.setFont(font)
        self.setToolTip(f"{text}: {tooltip}" if not tooltip.startswith(text) else tooltip)
        self.setText(text)

    def full_text(self) -> str:
        """Return the whole title (the text shown may be elided)."""
        return self._full

    def shown_text(self) -> str:
        """Return the title as shown (elided with "…" where the plot is narrow)."""
        return self.text

    def updateMin(self) -> None:  # noqa: N802 - pyqtgraph override
        super().updateMin()
        # Any width will do (the text elides to it); pyqtgraph's minimum is the whole text's width.
        height = self._sizeHint[Qt.SizeHint.MinimumSize][1]
        self._sizeHint[Qt.SizeHint.MinimumSize] = (0.0, height)
        self.setMinimumWidth(0)

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt override
        margin = 2 * self.item.document().documentMargin() + 1
        shown = QFontMetricsF(self.item.font()).elidedText(self._full, Qt.TextElideMode.ElideRight,
                                                           max(0.0, self.width() - margin))
        if shown != self.text:
            self.setText(shown)  # calls resizeEvent again, with the text that fits
            return
        super().resizeEvent(ev)


class _TimedGraphics(pg.GraphicsLayoutWidget):
    """The plots' view, remembering how long its last paint took."""

    last_paint_s = 0.0

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        start = time.perf_counter()
        super().paintEvent(event)
        self.last_paint_s = time.perf_counter() - start


class TrainingCurves(QWidget):
    """Four linked plots (x = step) with raw/smoothed toggles and CSV / PNG export."""

    STEP_SERIES = ("loss", "pair_accuracy", "lr", "images_per_s")

    def __init__(self, parent: QWidget | None = None, max_fps: float = 10.0):
        super().__init__(parent)
        self.series = {name: Series() for name in self.STEP_SERIES}
        self.val = Series(smoothing=0.0)
        self.val_ci = Series(smoothing=0.0)
        self._dirty: set[str] = set()
        self._next = 0  # round-robin position among the plots
        self._total_steps = 0  # the run's planned length when known ("Whole run" shows all of it)
        self._x_max = 0.0
        self._user_x = False  # the user zoomed or panned: leave the x range alone
        self._build()
        self._min_interval_ms = int(1000 / max_fps)
        self._timer = QTimer(self)
        self._timer.setInterval(self._min_interval_ms)
        self._timer.timeout.connect(self.redraw_next)
        self._timer.start()

    # --- layout -------------------------------------------------------------------------------------------------

    def _build(self) -> None:
        self.raw_box = QCheckBox("Raw")
        self.raw_box.setChecked(True)
        self.smooth_box = QCheckBox("Smoothed")
        self.smooth_box.setChecked(True)
        for box in (self.raw_box, self.smooth_box):
            box.toggled.connect(self._apply_visibility)
        self.whole_run_box = QCheckBox("Whole run")
        self.whole_run_box.setToolTip("Show the run's planned length on the step axis; otherwise the axis fits "
                                      "the steps done so far")
        self.whole_run_box.setEnabled(False)  # until a run says how long it is planned to be
        self.whole_run_box.toggled.connect(self._on_whole_run)
        csv_button = QPushButton("Export CSV…")
        csv_button.clicked.connect(self._ask_csv)
        png_button = QPushButton("Export PNG…")
        png_button.clicked.connect(self._ask_png)
        bar = QHBoxLayout()
        for w in (self.raw_box, self.smooth_box, self.whole_run_box):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(csv_button)
        bar.addWidget(png_button)
        self.graphics = _TimedGraphics()
        self._style_background()
        self.graphics.setMinimumHeight(self._minimum_plots_height())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.graphics, 1)
        self._build_plots()
        self._apply_visibility()

    def _style_background(self) -> None:
        pal = self.palette()
        self.graphics.setBackground(pal.color(QPalette.Base))
        self._fg = pal.color(QPalette.Text)

    def _minimum_plots_height(self) -> int:
        """Return the height two rows of plots need to show their titles, axes and rotated y labels whole (below
        it the tab scrolls rather than clip them)."""
        line = QFontMetricsF(self.font()).height()
        longest = max(QFontMetricsF(self.font()).horizontalAdvance(t) for t in Y_LABELS.values())
        plot = TITLE_HEIGHT + max(longest + 2 * line, 4 * line) + 3 * line  # title, plot area, step axis
        return int(2 * plot + 2 * line)

    def _plot(self, row: int, col: int, name: str) -> pg.PlotItem:
        plot = self.graphics.addPlot(row=row, col=col)
        self._set_title(plot, *TITLES[name])
        plot.setLabel("left", Y_LABELS[name])
        plot.setLabel("bottom", "step")
        plot.showGrid(x=True, y=True, alpha=0.25)
        # Clip to the visible x range and keep ~2 points per pixel: redraw cost no longer grows with the run.
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setPen(self._fg)
            plot.getAxis(axis).setTextPen(self._fg)
            plot.getAxis(axis).enableAutoSIPrefix(False)  # "loss (x0.001)" with ticks at 600 reads badly
            # An axis draws its grid lines across the plot, so every new point repainted both axes (replaying
            # their recorded drawing took most of a tick's paint). Cached as pixels, they are redrawn only when
            # the axis itself changes, and a tick's paint costs a third.
            plot.getAxis(axis).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        return plot

    def _set_title(self, plot: pg.PlotItem, title: str, tooltip: str) -> None:
        """Put an ElidedTitle in the plot's title row, in place of pyqtgraph's (which never elides)."""
        plot.layout.removeItem(plot.titleLabel)
        plot.titleLabel.setParentItem(None)
        if plot.titleLabel.scene() is not None:
            plot.titleLabel.scene().removeItem(plot.titleLabel)
        plot.titleLabel = ElidedTitle(title, tooltip, self._fg.name(), parent=plot)
        plot.layout.addItem(plot.titleLabel, 0, 1)
        plot.titleLabel.setMaximumHeight(TITLE_HEIGHT)
        plot.layout.setRowFixedHeight(0, TITLE_HEIGHT)

    def _curve(self, plot: pg.PlotItem, colour: str, width: float, alpha: int = 255) -> pg.PlotDataItem:
        c = QColor(colour)
        c.setAlpha(alpha)
        curve = plot.plot(pen=pg.mkPen(c, width=width), skipFiniteCheck=True)
        curve.opts["autoDownsampleFactor"] = SAMPLES_PER_PIXEL  # an option without a setter in pyqtgraph 0.13-0.14
        return curve

    def _build_plots(self) -> None:
        self.plots = {
            name: self._plot(i // 2, i % 2, name) for i, name in enumerate(("loss", "pair_accuracy", "val", "lr"))
        }
        self._y_ranges: dict[str, tuple[float, float]] = {}
        for name, plot in self.plots.items():
            plot.disableAutoRange()  # ranges are set here, with hysteresis (see _fit_y)
            plot.sigRangeChangedManually.connect(self._on_user_range)
            if name != "loss":
                plot.setXLink(self.plots["loss"])
        self.raw_curves = {"loss": self._curve(self.plots["loss"], _BLUE, 1, 90),
                           "pair_accuracy": self._curve(self.plots["pair_accuracy"], _ORANGE, 1, 90)}
        self.smooth_curves = {"loss": self._curve(self.plots["loss"], _BLUE, 2),
                              "pair_accuracy": self._curve(self.plots["pair_accuracy"], _ORANGE, 2)}
        self.lr_curve = self._curve(self.plots["lr"], _PURPLE, 2)
        self.val_curve = self.plots["val"].plot(pen=pg.mkPen(_GREEN, width=2), symbol="o", symbolSize=5,
                                                symbolBrush=_GREEN, symbolPen=None)
        self.val_bars = pg.ErrorBarItem(pen=pg.mkPen(_GREEN, width=1), beam=0)
        self.plots["val"].addItem(self.val_bars)

    def _apply_visibility(self) -> None:
        for curve in self.raw_curves.values():
            curve.setVisible(self.raw_box.isChecked())
        for curve in self.smooth_curves.values():
            curve.setVisible(self.smooth_box.isChecked())

    # --- data in ------------------------------------------------------------------------------------------------

    def add_steps(self, events: Sequence[StepEvent]) -> None:
        """Append training step events; the plots catch up at the next redraw ticks."""
        if not events:
            return
        total = events[-1].total_steps
        total = total or 0  # a time-budget run has no known length
        if total != self._total_steps:
            self._total_steps = total
            self.whole_run_box.setEnabled(bool(total))
        steps = [e.step for e in events]
        self.series["loss"].extend(steps, [e.loss for e in events])
        self.series["pair_accuracy"].extend(steps, [e.pair_accuracy for e in events])
        self.series["lr"].extend(steps, [e.lr for e in events])
        self.series["images_per_s"].extend(steps, [e.images_per_s for e in events])
        self._dirty |= {"loss", "pair_accuracy", "lr"}

    def add_validation(self, events: Sequence[ValidationEvent]) -> None:
        """Append validation results (accuracy with its 95% interval)."""
        if not events:
            return
        steps = [e.step for e in events]
        self.val.extend(steps, [e.accuracy for e in events])
        self.val_ci.extend(steps, [0.0 if np.isnan(e.ci95) else e.ci95 for e in events])
        self._dirty.add("val")

    def load_history(self, rows: Iterable[dict] | dict[str, np.ndarray]) -> None:
        """Replace the curves with a run's logged history: rows of log.jsonl / the checkpoint's history, or
        the columns `history_columns` made of them (in a worker: 100,000 rows take a quarter of a second)."""
        columns = rows if isinstance(rows, dict) else history_columns(rows)
        self.clear()
        for name in self.STEP_SERIES:  # whole columns at once: a 100,000-step history loads in milliseconds
            self.series[name].extend(columns["step"], columns[name])
        self.val.extend(columns["val_step"], columns["val_accuracy"])
        self.val_ci.extend(columns["val_step"], columns["val_ci95"])
        self.refresh()

    def truncate(self, step: int) -> None:
        """Drop points after `step` (a run resumed from an earlier checkpoint repeats those steps)."""
        for s in (*self.series.values(), self.val, self.val_ci):
            s.truncate(step)
        self._dirty |= set(self.plots)

    def clear(self) -> None:
        """Remove every point."""
        for s in (*self.series.values(), self.val, self.val_ci):
            s.clear()
        self._total_steps, self._x_max, self._user_x = 0, 0.0, False
        self.whole_run_box.setEnabled(False)
        self._y_ranges.clear()
        self.refresh()

    def point_count(self) -> int:
        """Return the number of training points held (validation points not included)."""
        return len(self.series["loss"])

    # --- drawing ------------------------------------------------------------------------------------------------

    def redraw_next(self) -> None:
        """Do one timer tick's drawing: redraw the next plot that has new data (none while hidden)."""
        if not self._dirty or not self.isVisible():
            return
        names = list(self.plots)
        for _ in names:
            name = names[self._next]
            self._next = (self._next + 1) % len(names)
            if name in self._dirty:
                start = time.perf_counter()
                self._update_x_range()
                self._draw(name)
                self._pace(time.perf_counter() - start + self.graphics.last_paint_s)
                return

    def _pace(self, cost_s: float) -> None:
        # Next tick no sooner than cost / budget: a 10 ms tick on a busy CPU means 4 redraws a second, not 10.
        interval = max(self._min_interval_ms, int(1000 * cost_s / DRAW_BUDGET))
        if interval != self._timer.interval():
            self._timer.setInterval(min(interval, 2000))

    def refresh(self) -> None:
        """Push all data to the plots now (normally the timer does it, one plot per tick)."""
        self._update_x_range()
        for name in self.plots:
            self._draw(name)

    def _draw(self, name: str) -> None:
        self._dirty.discard(name)
        if name == "val":
            self.val_curve.setData(self.val.x, self.val.y)
            self.val_bars.setData(x=self.val.x, y=self.val.y, height=2 * self.val_ci.y)
            self._fit_y(name, self.val.y - self.val_ci.y, self.val.y + self.val_ci.y)
        elif name == "lr":
            self.lr_curve.setData(self.series["lr"].x, self.series["lr"].y)
            self._fit_y(name, self.series["lr"].y, self.series["lr"].y)
        else:
            s = self.series[name]
            self.raw_curves[name].setData(s.x, s.y)
            self.smooth_curves[name].setData(s.x, s.smoothed)
            y = s.y if self.raw_box.isChecked() else s.smoothed
            self._fit_y(name, y, y)

    def _fit_y(self, name: str, low: np.ndarray, high: np.ndarray) -> None:
        """Fit the y range to the data, but only move it when data leaves it or it is over twice too tall:
        a moving range redraws the axes, the most expensive part of a tick."""
        finite_low, finite_high = low[np.isfinite(low)], high[np.isfinite(high)]
        if self._user_x or len(finite_low) == 0:
            return  # nothing to fit, or the user is exploring: leave the view alone
        lo, hi = float(finite_low.min()), float(finite_high.max())
        pad = 0.1 * (hi - lo) or 0.1 * abs(hi) or 0.05
        current = self._y_ranges.get(name)
        if current is not None and current[0] <= lo and hi <= current[1] \
                and current[1] - current[0] <= 2 * (hi - lo + 2 * pad):
            return
        self._y_ranges[name] = (lo - pad, hi + pad)
        self.plots[name].setYRange(lo - pad, hi + pad, padding=0)

    def x_limit(self) -> float:
        """Return the right end of the step axis: a round number just past the data (never past the planned
        length), or the planned length under "Whole run"."""
        last = max(self.series["loss"].x[-1] if self.series["loss"].n else 0,
                   self.val.x[-1] if self.val.n else 0)
        whole = self._total_steps >= last and self._total_steps > 0
        if whole and self.whole_run_box.isChecked():
            return float(self._total_steps)
        fit = _round_up(1.1 * last)
        return min(fit, float(self._total_steps)) if whole else fit

    def _update_x_range(self) -> None:
        x_max = self.x_limit()
        if x_max != self._x_max and not self._user_x:
            self._x_max = x_max
            self.plots["loss"].setXRange(0, max(x_max, 1.0), padding=0.02)

    def _on_user_range(self, *_) -> None:
        self._user_x = True

    def _on_whole_run(self) -> None:
        self._user_x = False  # the box asks for a view: leave the one the user zoomed to
        self._x_max = 0.0
        self._y_ranges.clear()
        self.refresh()

    # --- export -------------------------------------------------------------------------------------------------

    def export_csv(self, path: str | Path) -> Path:
        """Write every point as CSV (one row per step; validation columns where a validation ran); return the path."""
        path = Path(path)
        rows: dict[int, dict] = {}
        for name, s in self.series.items():
            for x, y in zip(s.x, s.y):
                rows.setdefault(int(x), {})[name] = y
        for x, y in zip(self.series["loss"].x, self.series["loss"].smoothed):
            rows[int(x)]["loss_smoothed"] = y
        for x, y, ci in zip(self.val.x, self.val.y, self.val_ci.y):
            rows.setdefault(int(x), {}).update(val_accuracy=y, val_ci95=ci)
        columns = ["step", "loss", "loss_smoothed", "pair_accuracy", "lr", "images_per_s", "val_accuracy",
                   "val_ci95"]
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            for step in sorted(rows):
                r = rows[step]
                writer.writerow([step, *(_fmt(r.get(c)) for c in columns[1:])])
        return path

    def export_png(self, path: str | Path) -> Path:
        """Save the four plots as a PNG image; return the path."""
        self.refresh()
        path = Path(path)
        if not self.graphics.grab().save(str(path), "PNG"):
            raise OSError(f"Could not write {path}")
        return path

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export curves as CSV", "training-curves.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export curves as PNG", "training-curves.png", "PNG (*.png)")
        if path:
            self.export_png(path)


def history_columns(rows: Iterable[dict]) -> dict[str, np.ndarray]:
    """Return a logged history as numpy columns: step and each of TrainingCurves.STEP_SERIES for the step rows,
    val_step, val_accuracy and val_ci95 for the validation rows (no Qt: safe in any thread)."""
    rows = list(rows)
    steps = [r for r in rows if r.get("kind") == "step"]
    vals = [r for r in rows if r.get("kind") == "val"]
    columns = {"step": np.array([r["step"] for r in steps], dtype=float)}
    for name in TrainingCurves.STEP_SERIES:
        columns[name] = np.array([r.get(name, 0.0) for r in steps], dtype=float)
    columns["val_step"] = np.array([r["step"] for r in vals], dtype=float)
    columns["val_accuracy"] = np.array([r["accuracy"] for r in vals], dtype=float)
    columns["val_ci95"] = np.array([r.get("ci95") or 0.0 for r in vals], dtype=float)
    return columns


def _round_up(x: float) -> float:
    """Return the smallest of 1, 1.5, 2, 3, 4, 5, 6, 8 x 10^k that is at least x (x > 0), else 1: at most 1.5 x."""
    if x <= 1:
        return 1.0
    base = 10 ** math.floor(math.log10(x))
    return next(m * base for m in (1, 1.5, 2, 3, 4, 5, 6, 8, 10) if m * base >= x)


def _fmt(value) -> str:
    return "" if value is None else f"{float(value):.6g}"
