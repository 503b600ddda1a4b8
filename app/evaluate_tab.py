"""The Evaluate tab: Lake's 20 official one-shot runs, and seeded N-way k-shot within-alphabet tasks.

Three benchmarks: Lake's 20 official runs (all_runs.zip, found beside the Omniglot archives, downloaded with them,
or chosen as a zip or folder), the protocol behind the published figures, which are shown beside that result only;
seeded tasks on the evaluation alphabets (testing: random characters and drawer pairs over all 20 alphabets, a
different and harder protocol); or seeded tasks on the model's own validation alphabets, the background alphabets
its card says were held out of its training (for choosing among models and checkpoints without looking at
evaluation data), as `python -m engine evaluate --split validation` does.

A benchmark runs in a Task (progress and cancel); the result is shown with its 95% interval, per alphabet or
per run, and as a grid of the failed trials.
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

OFFICIAL = "official"  # the benchmark choice for Lake's 20 official runs

from engine.data import find_runs, split_background, validation_split_of
from engine.data.omniglot import OmniglotSet
from engine.device import available_devices
from engine.evaluation.evaluate import PUBLISHED, OneShotConfig, OneShotResult, evaluate_one_shot, score_runs
from engine.evaluation.official_runs import PROTOCOL, SEEDED_PROTOCOL_NOTE, RunsSummary, read_runs
from engine.paths import SHIPPED_WEIGHTS
from engine.recognition.views import card_views
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


SPLITS = {"evaluation": ("Seeded tasks, evaluation alphabets (testing)", "evaluation"),
          "validation": ("Seeded tasks, the model's validation alphabets (model selection)", "background")}
# label, set used
OFFICIAL_LABEL = "Lake's 20 official runs"


@dataclass
class RunsOutcome:
    """A finished runs benchmark: the summary, the model's name and path, and pixels (n, 3, 105, 105) of the
    first failures shown (test glyph, chosen reference, right reference) with the run each comes from."""

    summary: RunsSummary
    model_name: str
    weights: str
    failure_pixels: np.ndarray
    failure_runs: list[str]


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
    result = evaluate_one_shot(loaded.model, data, config, chars=chars, progress=progress, cancel=cancel,
                               views=card_views(loaded.card))  # scored as the app and `engine evaluate` score
    shown = result.failures[:MAX_FAILURES_SHOWN]
    if shown:
        index = np.array([[f.query, f.chosen, f.correct] for f in shown]).ravel()
        pixels = data.pixels(index)
        pixels = pixels.reshape(len(shown), 3, *pixels.shape[1:])
    else:
        pixels = np.zeros((0, 3, 105, 105), np.uint8)
    return BenchmarkOutcome(result, loaded.name, str(weights), pixels, split, note)


def run_official(weights: str | Path, device: str, source: str | Path, progress,
                 cancel: threading.Event) -> RunsOutcome:
    """Return the outcome of the model at `weights` on the runs at `source` (Lake's all_runs.zip, its extracted
    folder, or a folder holding either; call in a worker thread)."""
    loaded = load_weights(weights, device)
    runs = read_runs(source)
    summary = RunsSummary.of(score_runs(loaded.model, runs.runs, progress, cancel, card_views(loaded.card)), runs)
    shown = [(run, wrong) for run, result in zip(runs.runs, summary.runs) for wrong in result.wrong]
    shown = shown[:MAX_FAILURES_SHOWN]
    pixels = np.array([[run.tests[item], run.references[chosen], run.references[right]]
                       for run, (item, chosen, right) in shown], np.float32).reshape(-1, 3, 105, 105)
    return RunsOutcome(summary, loaded.name, str(weights), pixels, [run.name for run, _ in shown])


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


VALIDATION_FIGURES = (("validation_accuracy_2000_tasks", "on 2,000 tasks"),
                      ("best_validation_accuracy", "during training"))  # the card's figures, the surest first


def validation_text(card: dict) -> str:
    """Return the model's validation accuracy as its card states it ("validation 93.0% on 2,000 tasks"), the
    figure measured on the most tasks first (the one the README quotes), or "" when the card has none."""
    for key, how in VALIDATION_FIGURES:
        value = card.get(key)
        if isinstance(value, (int, float)):
            return f"validation {value:.1%} {how}"
    return ""


class EvaluateTab(QWidget):
    """Benchmark a model (default: the shipped one) on the evaluation alphabets or on official runs."""

    def __init__(self, parent: QWidget | None = None, data_dir: str | Path | None = None):
        super().__init__(parent)
        self.runner = TaskRunner(self)
        self._task: Task | None = None
        self.outcome: BenchmarkOutcome | None = None
        self.runs_outcome: RunsOutcome | None = None
        self._benchmark_chosen = False  # once the user picks a benchmark, finding the runs no longer switches to them
        self._located = ""  # the runs last found beside the Omniglot archives
        self._build(data_dir)
        self.set_model_path(SHIPPED_WEIGHTS)
        self._update_buttons()

    # --- layout -------------------------------------------------------------------------------------------------

    def _build(self, data_dir: str | Path | None) -> None:
        self.dataset = DatasetPanel(("evaluation", "background"), self, folder=data_dir)
        self.dataset.dataset_changed.connect(self._on_dataset_changed)
        parts = [self.dataset, self._build_model_box(), self._build_settings()]
        controls_beside(self, parts, self._build_results(), 380, (400, 800), footer=self._build_buttons())

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
        self.split_combo.addItem(OFFICIAL_LABEL, OFFICIAL)
        self.split_combo.setToolTip("Lake's 20 official runs: the protocol behind the published figures. Seeded "
                                    "tasks: random tasks on the 20 evaluation alphabets (harder), or on the "
                                    "background alphabets each model held out of its training (to choose "
                                    "between models or checkpoints).")
        self.split_combo.currentIndexChanged.connect(lambda _i: self._update_buttons())
        self.split_combo.activated.connect(self._on_benchmark_chosen)
        form.addRow("Benchmark", self.split_combo)
        form.addRow(self._build_runs_row())
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
        return box

    def _build_buttons(self) -> QWidget:
        """Run and Cancel with the progress bar, pinned below the controls: in view however they scroll."""
        self.run_button = QPushButton("Run benchmark")
        self.run_button.clicked.connect(self.run_benchmark)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%p%")
        self.progress_bar.setValue(0)
        footer = QWidget()
        column = QVBoxLayout(footer)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        column.addLayout(row)
        column.addWidget(self.progress_bar)
        return footer

    def _build_runs_row(self) -> QWidget:
        """The official runs' source: found beside the Omniglot archives, downloaded, or chosen (zip or folder)."""
        self.runs_box = QWidget()
        self.runs_edit = QLineEdit()
        self.runs_edit.setPlaceholderText("all_runs.zip or its extracted folder")
        self.runs_edit.textChanged.connect(lambda _text: (self._show_runs_hint(), self._update_buttons()))
        zip_button = QPushButton("Zip…")
        zip_button.clicked.connect(self._choose_runs_zip)
        self.runs_hint = QLabel()
        self.runs_hint.setWordWrap(True)
        self.runs_download_button = QPushButton("Download the runs")
        self.runs_download_button.setToolTip("Fetches Lake's all_runs.zip (and any missing Omniglot archive) into "
                                             "the dataset folder, checked against its MD5.")
        self.runs_download_button.clicked.connect(self._download_runs)
        layout = QVBoxLayout(self.runs_box)
        layout.setContentsMargins(0, 0, 0, 0)
        row = chooser_row(self.runs_edit, self._choose_runs, zip_button)
        row.itemAt(1).widget().setToolTip("Choose the extracted all_runs folder (holding run01/ … run20/)")
        zip_button.setToolTip("Choose all_runs.zip")
        layout.addLayout(row)
        layout.addWidget(self.runs_hint)
        layout.addWidget(self.runs_download_button, 0, Qt.AlignLeft)
        return self.runs_box

    def _build_results(self) -> QWidget:
        self.headline = QLabel("Run the benchmark to see how the model does.")
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.RichText)
        self.message_label = QLabel(" ")
        self.message_label.setWordWrap(True)
        self.compare_table = _table(["Method (20-way 1-shot, within alphabet)", "Accuracy"])
        self.protocol_label = QLabel(" ")
        self.protocol_label.setWordWrap(True)
        self.alphabet_table = _table(["Alphabet", "Accuracy", "Trials"])
        self.alphabet_table.setSortingEnabled(True)
        summary = QWidget()
        lay = QVBoxLayout(summary)
        lay.addWidget(self.compare_table)
        lay.addWidget(self.protocol_label)
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
        self.result_tabs = QTabWidget()
        self.result_tabs.addTab(summary, "Result")
        self.result_tabs.addTab(failures, "Failed trials")
        panel = QWidget()
        lay = QVBoxLayout(panel)
        lay.addWidget(self.headline)
        lay.addWidget(self.message_label)
        lay.addWidget(self.result_tabs, 1)
        self._fill_comparison([], published=True)  # the reference figures, until a result arrives
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
            val = validation_text(card)
            self.model_label.setText(f"{card.get('name', self.model_path().stem)} — {config.preset}, "
                                     f"{config.input_size} px" + (f", {val}" if val else ""))
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
        """Start the chosen benchmark in a worker; return False with a message when it cannot start."""
        split = self.split_combo.currentData()
        if split == OFFICIAL:
            return self.run_official()
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
        """Evaluate the runs (Lake's official ones, or the zip or folder chosen) in a worker; return False with a
        message when it cannot start."""
        source = self.runs_edit.text().strip()
        if self._task is not None or not source:
            if not source:
                self._say(f"Lake's official runs were not found. {self._how_to_get_runs()}", True)
            return False
        self.split_combo.setCurrentIndex(self.split_combo.findData(OFFICIAL))
        weights, device = self.model_path(), self.device_combo.currentData()
        self._start(lambda ctx: run_official(weights, device, source, ctx.progress, ctx.cancel),
                    self._show_runs, f"Classifying the test items of the runs in {source}…")
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
        self.locate_runs()
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self._task is not None
        split = self.split_combo.currentData()
        official = split == OFFICIAL
        ready = bool(self.runs_edit.text().strip()) if official else SPLITS[split][1] in self.dataset.sets
        self.run_button.setEnabled(not busy and ready)
        self.cancel_button.setEnabled(busy)
        for spin in (self.way_spin, self.shot_spin, self.tasks_spin, self.seed_spin):
            spin.setEnabled(not official)  # the runs fix their own tasks: 20-way 1-shot, 20 runs
        self.runs_box.setVisible(official)

    # --- the official runs' source ----------------------------------------------------------------------------------

    def locate_runs(self) -> Path | None:
        """Look for Lake's runs beside the Omniglot archives of the dataset folder (a few file checks); fill the
        runs field with them unless the user chose a source, and offer them as the benchmark when found."""
        found = find_runs(self.dataset.folder())
        typed = self.runs_edit.text().strip()
        if found is not None and (not typed or typed == self._located):
            self.runs_edit.setText(str(found))
        elif found is None and typed and typed == self._located:
            self.runs_edit.clear()  # the folder changed: the runs of the old one are not its runs
        self._located = str(found) if found else ""
        if found is not None and not self._benchmark_chosen and not self.is_running():
            self.split_combo.setCurrentIndex(self.split_combo.findData(OFFICIAL))
        self._show_runs_hint()
        return found

    def _show_runs_hint(self) -> None:
        source = self.runs_edit.text().strip()
        located = bool(source) and source == self._located
        if located:
            hint = f"Found beside the Omniglot archives: {source}."
        elif source:
            hint = "Chosen by you (Lake's runs are recognised by their labels; other runs get no published figures)."
        else:
            hint = f"Not found in {self.dataset.folder()}. {self._how_to_get_runs()}"
        self.runs_hint.setText(hint)
        self.runs_download_button.setVisible(not source)

    @staticmethod
    def _how_to_get_runs() -> str:
        return ("Download them (all_runs.zip, 0.35 MB, into the dataset folder), or choose Lake's all_runs.zip "
                "or its extracted all_runs/ folder (github.com/brendenlake/omniglot, python/one-shot-classification).")

    def _download_runs(self) -> None:
        self.dataset.help_box.setVisible(True)  # its progress bar and Cancel button
        self.dataset.start_download()  # fetches what is missing, then checks the folder again: locate_runs follows

    def _on_benchmark_chosen(self, _index: int) -> None:
        self._benchmark_chosen = True

    def _choose_runs(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Lake's official runs (the extracted all_runs folder)",
                                                  self.runs_edit.text())
        if chosen:
            self.set_runs_source(chosen)

    def _choose_runs_zip(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "Lake's official runs", self.runs_edit.text(),
                                                "Zip archives (*.zip)")
        if chosen:
            self.set_runs_source(chosen)

    def set_runs_source(self, source: str | Path) -> None:
        """Use Lake's official runs at `source` (all_runs.zip or its extracted folder), as if typed in the field."""
        self.runs_edit.setText(str(source))  # textChanged updates the hint and the buttons

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
            f"{outcome.model_name}, seeded {cfg.way}-way {cfg.shot}-shot tasks within alphabet on "
            f"{'the evaluation' if outcome.split == 'evaluation' else 'its validation'} alphabets "
            f"({len(r.per_alphabet)}), {r.n_tasks:,} tasks "
            f"({r.n_trials:,} trials), seed {cfg.seed}")
        self._say(f"Done: {len(r.failures):,} of {r.n_trials:,} test glyphs misclassified. {outcome.note}".strip(),
                  error=bool(outcome.note))
        notes = ([f"{cfg.way}-way {cfg.shot}-shot"] if (cfg.way, cfg.shot) != (20, 1) else []) + \
            (["validation alphabets"] if outcome.split != "evaluation" else ["seeded tasks"])
        self._fill_comparison([(f"This model: {outcome.model_name} — {', '.join(notes)}", r.accuracy, r.ci95)])
        self.protocol_label.setText(SEEDED_PROTOCOL_NOTE if outcome.split == "evaluation" else
                                    "The model's validation alphabets: for choosing between models and "
                                    "checkpoints, not for comparing with published figures.")
        self._fill_rows("Alphabet", [(name.replace("_", " "), acc, n) for name, (acc, n) in r.per_alphabet.items()])
        self._fill_failures(outcome.failure_pixels, [f.alphabet.replace("_", " ") for f in r.failures], "Alphabet")
        self.result_tabs.setCurrentIndex(0)

    def _show_runs(self, outcome: RunsOutcome) -> None:
        self._show_done()
        self.runs_outcome = outcome
        s = outcome.summary
        what = "Lake's 20 official runs" if s.official else f"runs in the official format from {s.source}"
        self.headline.setText(f"<b style='font-size:16pt'>{s.accuracy:.1%}</b> ± {s.ci95:.1%} (95% interval) — "
                              f"{outcome.model_name} on {what}: {s.n_trials:,} trials in {len(s.runs)} runs")
        self._say(f"Done: {sum(len(r.wrong) for r in s.runs):,} of {s.n_trials:,} test glyphs misclassified; "
                  f"mean error {s.mean_error:.1%} over {len(s.runs)} runs.")
        label = "Lake's 20 official runs" if s.official else "runs in the official format"
        self._fill_comparison([(f"This model: {outcome.model_name} — {label}", s.accuracy, s.ci95)],
                              published=s.official)
        self.protocol_label.setText(
            f"{PROTOCOL}. People and Bayesian Program Learning were measured on these runs (Lake et al. 2015); "
            "Koch et al. 2015 on 400 trials built the same way." if s.official else
            "Not Lake's own runs (their labels differ): published figures were measured on Lake's 20 official "
            "runs, not on these.")
        self._fill_rows("Run", [(r.name, 1 - r.error, r.n_items) for r in s.runs], sort=False)
        self._fill_failures(outcome.failure_pixels, outcome.failure_runs, "Run",
                            total=sum(len(r.wrong) for r in s.runs))
        self.result_tabs.setCurrentIndex(0)

    def _fill_comparison(self, mine: list[tuple[str, float, float]], published: bool = False) -> None:
        """Show this model's rows (name, accuracy, 95% interval), beside the published figures when `published`:
        those were measured on Lake's official runs only."""
        rows = [(name, acc, "", False) for name, acc in PUBLISHED.items()] if published else []
        rows += [(name, acc, f" ± {ci:.1%}", True) for name, acc, ci in mine]
        rows.sort(key=lambda row: -row[1])
        self.compare_table.setRowCount(len(rows))
        for i, (name, acc, ci, highlight) in enumerate(rows):
            cells = (QTableWidgetItem(name), _NumberItem(f"{acc:.1%}{ci}", acc))
            for j, cell in enumerate(cells):
                if highlight:
                    cell.setBackground(QBrush(QColor(255, 221, 120, 120)))
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
                self.compare_table.setItem(i, j, cell)
        self.compare_table.resizeColumnToContents(1)
        table = self.compare_table  # as tall as its few rows: the space goes to the per-alphabet table
        table.setFixedHeight(table.horizontalHeader().height() + sum(table.rowHeight(i) for i in range(len(rows))) + 4)

    def _fill_rows(self, kind: str, rows: list[tuple[str, float, int]], sort: bool = True) -> None:
        """Fill the lower table with one row per alphabet or run: name, accuracy, trials."""
        table = self.alphabet_table
        table.setSortingEnabled(False)  # rows would move while being filled
        table.setHorizontalHeaderLabels([kind, "Accuracy", "Trials"])
        table.setRowCount(len(rows))
        for i, (name, acc, n) in enumerate(rows):
            table.setItem(i, 0, QTableWidgetItem(name))
            table.setItem(i, 1, _NumberItem(f"{acc:.1%}", acc))
            table.setItem(i, 2, _NumberItem(f"{n:,}", n))
        table.setSortingEnabled(True)
        if sort:
            table.sortItems(1, Qt.AscendingOrder)
        else:
            table.sortItems(0, Qt.AscendingOrder)
        table.resizeColumnToContents(1)
        table.resizeColumnToContents(2)

    def _fill_failures(self, pixels: np.ndarray, where: list[str], kind: str, total: int | None = None) -> None:
        """Show the first failures: pixels (n, 3, H, W) of test glyph, chosen and right reference, and where each
        comes from (its alphabet or run)."""
        shown, total = len(pixels), len(where) if total is None else total
        self.failure_label.setText(f"{total:,} failed trials" +
                                   (f" (the first {shown:,} shown)" if shown < total else "") +
                                   ": the test glyph, the character the model chose, and the right one.")
        table = self.failure_table
        table.setHorizontalHeaderLabels(["Test glyph", "Model chose", "Right answer", kind])
        table.setRowCount(shown)
        for i in range(shown):
            for j in range(3):
                item = QTableWidgetItem()
                item.setData(Qt.DecorationRole, glyph_pixmap(pixels[i, j]))
                table.setItem(i, j, item)
            table.setItem(i, 3, QTableWidgetItem(where[i]))
        for j in range(3):
            table.setColumnWidth(j, THUMB + 40)

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
