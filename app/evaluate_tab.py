"""The Evaluate tab: Lake et al.'s N-way k-shot within-alphabet one-shot benchmark, and official runs folders.

The benchmark runs on the evaluation alphabets (testing), or on the model's own validation alphabets: the
background alphabets its card says were held out of its training (for choosing among models and checkpoints
without looking at the evaluation alphabets), as `python -m engine evaluate --split validation` does.

The benchmark runs in a Task (progress and cancel); the result is shown with its 95% interval, beside the
published numbers, per alphabet, and as a grid of the failed trials drawn from the dataset's own pixels.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor, QCloseEvent, QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QProgressBar, QPushButton, QSpinBox,
                               QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from engine.data import split_background, validation_split_of
from engine.data.omniglot import OmniglotSet
from engine.device import available_devices
from engine.embedding import Cancelled
from engine.evaluate import PUBLISHED, OneShotConfig, OneShotResult, RunResult, evaluate_one_shot, evaluate_runs
from engine.paths import SHIPPED_WEIGHTS
from engine.weights import WeightsError, load_weights, read_metadata

from .layouts import chooser_row, controls_beside, narrow_combo
from .dataset_panel import DatasetPanel, DatasetStatus
from .workers import Task, TaskRunner, describe_error, is_running, stop_tasks

MAX_FAILURES_SHOWN = 300  # thumbnails are cheap, but a grid of thousands helps nobody
THUMB = 56


@dataclass
class BenchmarkOutcome:
    """A finished benchmark: the result, the model's name and path, and pixels (n, 3, 105, 105) of the first
    failures shown (test glyph, chosen reference, right reference)."""

    result: OneShotResult
    model_name: str
    weights: str
    failure_pixels: np.ndarray
    split: str = "evaluation"  # or "validation": the model's held-out background alphabets
    note: str = ""  # a caveat about the alphabets used, shown with the result


SPLITS = {"evaluation": ("Evaluation alphabets (testing)", "evaluation"),
          "validation": ("The model's validation alphabets (model selection)", "background")}  # label, set used


def run_benchmark(weights: str | Path, device: str, data: OmniglotSet, config: OneShotConfig, progress,
                  cancel: threading.Event, split: str = "evaluation") -> BenchmarkOutcome:
    """Return the benchmark outcome of the model at `weights` (call in a worker thread): on `data`'s alphabets
    for the evaluation split, or for the validation split on the background set `data`'s alphabets that the
    model's card says were held out of its training."""
    loaded = load_weights(weights, device)
    chars, note = None, ""
    if split == "validation":
        chars = split_background(data, validation_split_of(loaded.card)).val_chars
        if not (loaded.card.get("split") or {}).get("val_alphabets"):
            note = ("Its card names no held-out alphabets, so the trainer's default choice was used: the model may "
                    "have trained on some of them.")
    result = evaluate_one_shot(loaded.model, data, config, chars=chars, progress=progress, cancel=cancel)
    shown = result.failures[:MAX_FAILURES_SHOWN]
    if shown:
        index = np.array([[f.query, f.chosen, f.correct] for f in shown]).ravel()
        pixels = data.pixels(index)
        pixels = pixels.reshape(len(shown), 3, *pixels.shape[1:])
    else:
        pixels = np.zeros((0, 3, 105, 105), np.uint8)
    return BenchmarkOutcome(result, loaded.name, str(weights), pixels, split, note)


def run_official(weights: str | Path, device: str, folder: str | Path, progress,
                 cancel: threading.Event) -> list[RunResult]:
    """Return each official run's error for the model at `weights` (call in a worker thread)."""
    loaded = load_weights(weights, device)

    def step(done: int, total: int) -> None:
        if cancel.is_set():  # evaluate_runs has no cancel of its own: stop between runs
            raise Cancelled("cancelled")
        progress(done, total)

    return evaluate_runs(loaded.model, folder, step)


def glyph_pixmap(pixels: np.ndarray, size: int = THUMB) -> QPixmap:
    """Return a glyph (H, W) with 1 = ink as black ink on white, scaled to `size` pixels."""
    gray = np.ascontiguousarray(((1 - pixels.astype(np.float32)) * 255).astype(np.uint8))
    h, w = gray.shape
    image = QImage(gray.data, w, h, w, QImage.Format_Grayscale8).copy()  # copy: the numpy buffer goes away
    return QPixmap.fromImage(image.scaled(size, size, Qt.KeepAspectRatio, Qt.SmoothTransformation))


class _NumberItem(QTableWidgetItem):
    """A table cell that shows text but sorts by a number."""

    def __init__(self, text: str, value: float):
        super().__init__(text)
        self.value = value
        self.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.value < getattr(other, "value", 0.0)


def _table(columns: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
    return table


class EvaluateTab(QWidget):
    """Benchmark a model (default: the shipped one) on the evaluation alphabets or on official runs."""

    def __init__(self, parent: QWidget | None = None, data_dir: str | Path | None = None):
        super().__init__(parent)
        self.runner = TaskRunner(self)
        self._task: Task | None = None
        self.outcome: BenchmarkOutcome | None = None
        self.run_results: list[RunResult] = []
        self._build(data_dir)
        self.set_model_path(SHIPPED_WEIGHTS)
        self._update_buttons()

    # --- layout -------------------------------------------------------------------------------------------------

    def _build(self, data_dir: str | Path | None) -> None:
        self.dataset = DatasetPanel(("evaluation", "background"), self, folder=data_dir)
        self.dataset.dataset_changed.connect(self._on_dataset_changed)
        parts = [self.dataset, self._build_model_box(), self._build_settings(), self._build_runs_box()]
        controls_beside(self, parts, self._build_results(), 380, (400, 800))

    def _build_model_box(self) -> QGroupBox:
        box = QGroupBox("Model")
        self.model_combo = narrow_combo()
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        row = chooser_row(self.model_combo, self._choose_model)
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.device_combo = narrow_combo()
        for dev in available_devices():
            self.device_combo.addItem(f"{dev.label} ({dev.name})" if dev.name != "cpu" else dev.label, dev.name)
        layout = QVBoxLayout(box)
        layout.addLayout(row)
        layout.addWidget(self.model_label)
        layout.addWidget(self.device_combo)
        return box

    def _build_settings(self) -> QGroupBox:
        box = QGroupBox("One-shot benchmark")
        form = QFormLayout(box)
        self.split_combo = narrow_combo()
        for key, (label, _set) in SPLITS.items():
            self.split_combo.addItem(label, key)
        self.split_combo.setToolTip("Test on the 20 evaluation alphabets; choose between models or checkpoints on "
                                    "the background alphabets each model held out of its training.")
        self.split_combo.currentIndexChanged.connect(lambda _i: self._update_buttons())
        form.addRow("Alphabets", self.split_combo)
        self.way_spin, self.shot_spin = QSpinBox(), QSpinBox()
        self.tasks_spin, self.seed_spin = QSpinBox(), QSpinBox()
        for spin, lo, hi, value in ((self.way_spin, 2, 100, 20), (self.shot_spin, 1, 19, 1),
                                    (self.tasks_spin, 1, 100000, 400), (self.seed_spin, 0, 2**31 - 1, 0)):
            spin.setRange(lo, hi)
            spin.setValue(value)
        form.addRow("N-way", self.way_spin)
        form.addRow("k-shot", self.shot_spin)
        form.addRow("Tasks", self.tasks_spin)
        form.addRow("Seed", self.seed_spin)
        self.run_button = QPushButton("Run benchmark")
        self.run_button.clicked.connect(self.run_benchmark)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        form.addRow(row)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%p%")
        self.progress_bar.setValue(0)
        form.addRow(self.progress_bar)
        return box

    def _build_runs_box(self) -> QGroupBox:
        box = QGroupBox("Official one-shot runs (runNN/class_labels.txt)")
        self.runs_edit = QLineEdit()
        self.runs_edit.setPlaceholderText("Folder holding run01/ … run20/")
        self.runs_button = QPushButton("Run folder")
        self.runs_button.clicked.connect(self.run_official)
        layout = QVBoxLayout(box)
        layout.addLayout(chooser_row(self.runs_edit, self._choose_runs))
        layout.addWidget(self.runs_button)
        return box

    def _build_results(self) -> QWidget:
        self.headline = QLabel("Run the benchmark to see how the model does.")
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.RichText)
        self.message_label = QLabel(" ")
        self.message_label.setWordWrap(True)
        self.compare_table = _table(["Method (20-way 1-shot, within alphabet)", "Accuracy"])
        self.alphabet_table = _table(["Alphabet", "Accuracy", "Trials"])
        self.alphabet_table.setSortingEnabled(True)
        summary = QWidget()
        lay = QVBoxLayout(summary)
        lay.addWidget(self.compare_table)
        lay.addWidget(self.alphabet_table, 1)
        self.failure_label = QLabel(" ")
        self.failure_table = _table(["Test glyph", "Model chose", "Right answer", "Alphabet"])
        self.failure_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Fixed)
        self.failure_table.horizontalHeader().setSectionResizeMode(3, QHeaderView.Stretch)
        self.failure_table.setIconSize(QSize(THUMB, THUMB))
        self.failure_table.verticalHeader().setDefaultSectionSize(THUMB + 6)
        failures = QWidget()
        lay = QVBoxLayout(failures)
        lay.addWidget(self.failure_label)
        lay.addWidget(self.failure_table, 1)
        self.runs_label = QLabel("Choose a folder in the official one-shot format and click “Run folder”.")
        self.runs_table = _table(["Run", "Error", "Test items"])
        runs = QWidget()
        lay = QVBoxLayout(runs)
        lay.addWidget(self.runs_label)
        lay.addWidget(self.runs_table, 1)
        self.result_tabs = QTabWidget()
        self.result_tabs.addTab(summary, "Result")
        self.result_tabs.addTab(failures, "Failed trials")
        self.result_tabs.addTab(runs, "Official runs")
        panel = QWidget()
        lay = QVBoxLayout(panel)
        lay.addWidget(self.headline)
        lay.addWidget(self.message_label)
        lay.addWidget(self.result_tabs, 1)
        self._fill_comparison(None)
        return panel

    # --- model ----------------------------------------------------------------------------------------------------

    def model_path(self) -> Path:
        """Return the weights file the next benchmark uses."""
        return Path(self.model_combo.currentData())

    def set_model_path(self, path: str | Path) -> None:
        """Add a weights file to the model list (if new) and select it; e.g. from TrainTab.model_ready."""
        path = Path(path)
        index = self.model_combo.findData(str(path))
        if index < 0:
            label = "Shipped model" if path == SHIPPED_WEIGHTS else f"{path.parent.name}/{path.name}"
            self.model_combo.addItem(label, str(path))
            index = self.model_combo.count() - 1
        self.model_combo.setCurrentIndex(index)
        self._on_model_changed()

    def _choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model weights", str(self.model_path().parent),
                                              "Glyphs weights (*.safetensors)")
        if path:
            self.set_model_path(path)

    def _on_model_changed(self) -> None:
        if self.model_combo.currentData() is None:
            return
        try:
            config, card = read_metadata(self.model_path())  # the header only: fast enough for the UI thread
        except WeightsError as exc:
            self.model_label.setText(f"<span style='color:#b3261e'>{exc}</span>")
        else:
            acc = card.get("best_validation_accuracy")
            val = f", validation {acc:.1%}" if isinstance(acc, (int, float)) else ""
            self.model_label.setText(f"{card.get('name', self.model_path().stem)} — {config.preset}, "
                                     f"{config.input_size} px{val}")
        self._update_buttons()

    # --- running --------------------------------------------------------------------------------------------------

    def benchmark_config(self) -> OneShotConfig:
        """Return the benchmark settings shown in the form."""
        return OneShotConfig(way=self.way_spin.value(), shot=self.shot_spin.value(), tasks=self.tasks_spin.value(),
                             seed=self.seed_spin.value())

    def is_running(self) -> bool:
        """Return True while a benchmark or runs folder is being evaluated."""
        return self._task is not None

    def run_benchmark(self) -> bool:
        """Start the one-shot benchmark in a worker; return False with a message when it cannot start."""
        split = self.split_combo.currentData()
        data = self.dataset.sets.get(SPLITS[split][1])
        if self._task is not None or data is None:
            if data is None:
                self._say(f"Choose the Omniglot folder first: this benchmark uses images_{SPLITS[split][1]}.",
                          True)
            return False
        weights, device, config = self.model_path(), self.device_combo.currentData(), self.benchmark_config()
        self._start(lambda ctx: run_benchmark(weights, device, data, config, ctx.progress, ctx.cancel, split),
                    self._show_outcome, f"Embedding test and reference glyphs for {config.tasks} tasks…")
        return True

    def run_official(self) -> bool:
        """Evaluate the runs folder in a worker; return False with a message when it cannot start."""
        folder = self.runs_edit.text().strip()
        if self._task is not None or not folder:
            if not folder:
                self._say("Choose a folder of official runs first.", True)
            return False
        weights, device = self.model_path(), self.device_combo.currentData()
        self._start(lambda ctx: run_official(weights, device, folder, ctx.progress, ctx.cancel),
                    self._show_runs, f"Classifying the runs in {folder}…")
        return True

    def _start(self, job, on_done, message: str) -> None:
        task = self.runner.submit(job, "Evaluating", serial=False)
        task.progress.connect(self._on_progress)
        task.succeeded.connect(on_done)
        task.failed.connect(self._on_failed)
        task.cancelled.connect(self._on_cancelled)
        task.finished.connect(self._on_task_finished)
        self._task = task
        self.progress_bar.setRange(0, 0)  # busy until the first progress report
        self._say(message)
        self._update_buttons()

    def cancel(self) -> None:
        """Stop the running evaluation at its next batch."""
        if self._task is not None:
            self._task.cancel()
            self._say("Cancelling…")

    def _on_progress(self, done: int, total: int) -> None:
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)

    def _on_failed(self, exc: BaseException) -> None:
        self._say(describe_error(exc), True)

    def _on_cancelled(self) -> None:
        self._say("Cancelled.")

    def _on_task_finished(self) -> None:
        self._task = None  # the runner deletes the task
        if self.progress_bar.maximum() == 0 or self.progress_bar.value() < self.progress_bar.maximum():
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(0)  # cancelled or failed: nothing to show as done
        self._update_buttons()

    def _on_dataset_changed(self, status: DatasetStatus) -> None:
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self._task is not None
        wanted = SPLITS[self.split_combo.currentData()][1]
        self.run_button.setEnabled(not busy and wanted in self.dataset.sets)
        self.runs_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _choose_runs(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Official one-shot runs folder", self.runs_edit.text())
        if chosen:
            self.runs_edit.setText(chosen)

    def _say(self, text: str, error: bool = False) -> None:
        colour = "#b3261e" if error else "palette(text)"
        self.message_label.setText(f"<span style='color:{colour}'>{text}</span>")

    # --- results --------------------------------------------------------------------------------------------------

    def _show_done(self) -> None:
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)

    def _show_outcome(self, outcome: BenchmarkOutcome) -> None:
        self._show_done()
        self.outcome = outcome
        r, cfg = outcome.result, outcome.result.config
        self.headline.setText(
            f"<b style='font-size:16pt'>{r.accuracy:.1%}</b> ± {r.ci95:.1%} (95% interval) — "
            f"{outcome.model_name}, {cfg.way}-way {cfg.shot}-shot within alphabet on "
            f"{'the evaluation' if outcome.split == 'evaluation' else 'its validation'} alphabets "
            f"({len(r.per_alphabet)}), {r.n_tasks:,} tasks "
            f"({r.n_trials:,} trials), seed {cfg.seed}")
        self._say(f"Done: {len(r.failures):,} of {r.n_trials:,} test glyphs misclassified. {outcome.note}".strip(),
                  error=bool(outcome.note))
        self._fill_comparison(outcome)
        self._fill_alphabets(r)
        self._fill_failures(outcome)
        self.result_tabs.setCurrentIndex(0)

    def _fill_comparison(self, outcome: BenchmarkOutcome | None) -> None:
        rows = [(name, acc, "") for name, acc in PUBLISHED.items()]
        if outcome is not None:
            r, cfg = outcome.result, outcome.result.config
            notes = ([f"{cfg.way}-way {cfg.shot}-shot"] if (cfg.way, cfg.shot) != (20, 1) else []) + \
                (["validation alphabets"] if outcome.split != "evaluation" else [])
            setting = f" — {', '.join(notes)}, not comparable" if notes else ""
            rows.append((f"This model: {outcome.model_name}{setting}", r.accuracy, f" ± {r.ci95:.1%}"))
        rows.sort(key=lambda row: -row[1])
        self.compare_table.setRowCount(len(rows))
        for i, (name, acc, ci) in enumerate(rows):
            cells = (QTableWidgetItem(name), _NumberItem(f"{acc:.1%}{ci}", acc))
            for j, cell in enumerate(cells):
                if name.startswith("This model"):
                    cell.setBackground(QBrush(QColor(255, 221, 120, 120)))
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
                self.compare_table.setItem(i, j, cell)
        self.compare_table.resizeColumnToContents(1)
        table = self.compare_table  # as tall as its few rows: the space goes to the per-alphabet table
        table.setFixedHeight(table.horizontalHeader().height() + sum(table.rowHeight(i) for i in range(len(rows))) + 4)

    def _fill_alphabets(self, result: OneShotResult) -> None:
        table = self.alphabet_table
        table.setSortingEnabled(False)  # rows would move while being filled
        table.setRowCount(len(result.per_alphabet))
        for i, (name, (acc, n)) in enumerate(result.per_alphabet.items()):
            table.setItem(i, 0, QTableWidgetItem(name.replace("_", " ")))
            table.setItem(i, 1, _NumberItem(f"{acc:.1%}", acc))
            table.setItem(i, 2, _NumberItem(f"{n:,}", n))
        table.setSortingEnabled(True)
        table.sortItems(1, Qt.AscendingOrder)
        table.resizeColumnToContents(1)
        table.resizeColumnToContents(2)

    def _fill_failures(self, outcome: BenchmarkOutcome) -> None:
        failures, pixels = outcome.result.failures, outcome.failure_pixels
        shown = len(pixels)
        self.failure_label.setText(f"{len(failures):,} failed trials" +
                                   (f" (the first {shown:,} shown)" if shown < len(failures) else "") +
                                   ": the test glyph, the character the model chose, and the right one.")
        table = self.failure_table
        table.setRowCount(shown)
        for i in range(shown):
            for j in range(3):
                item = QTableWidgetItem()
                item.setData(Qt.DecorationRole, glyph_pixmap(pixels[i, j]))
                table.setItem(i, j, item)
            table.setItem(i, 3, QTableWidgetItem(failures[i].alphabet.replace("_", " ")))
        for j in range(3):
            table.setColumnWidth(j, THUMB + 40)

    def _show_runs(self, results: list[RunResult]) -> None:
        self._show_done()
        self.run_results = results
        table = self.runs_table
        table.setRowCount(len(results))
        for i, r in enumerate(results):
            table.setItem(i, 0, QTableWidgetItem(r.name))
            table.setItem(i, 1, _NumberItem(f"{r.error:.1%}", r.error))
            table.setItem(i, 2, _NumberItem(str(r.n_items), r.n_items))
        mean = sum(r.error for r in results) / max(1, len(results))
        published = "; ".join(f"{name} {1 - acc:.1%}" for name, acc in PUBLISHED.items())
        self.runs_label.setText(f"Mean error {mean:.1%} over {len(results)} run(s) (accuracy {1 - mean:.1%}). "
                                f"Published errors: {published}.")
        self.runs_label.setWordWrap(True)
        self._say(f"Runs folder done: mean error {mean:.1%}.")
        self.result_tabs.setCurrentIndex(2)

    # --- closing --------------------------------------------------------------------------------------------------

    def threads(self) -> list:
        """Return this tab's running background threads."""
        mine = [self._task] if is_running(self._task) else []
        return mine + self.dataset.threads()

    def confirm_close(self) -> bool:
        """Return True: an evaluation can always be cancelled without losing anything."""
        return True

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        """Cancel the evaluation and wait for background threads; return True when none is left."""
        return stop_tasks(self.threads(), timeout_s)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override, used when shown standalone
        self.shutdown()
        event.accept()
