"""The Train tab: dataset, hyperparameters, device, output folder; start / pause / stop; live curves.

Training runs in a TrainTask that reports through batched signals, so the UI thread only appends a few
numbers per event and redraws at most ten times a second. A run folder holding a checkpoint is continued
("Continue") rather than overwritten; "Resume run…" picks such a folder and loads its settings and curves. What
a run folder holds and how a run in it continues is engine.train.run_folder's RunFolder; whether the run is paused
or stopping is its task's RunControl, which `state` reads.
"""

from __future__ import annotations

import gc
import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QMessageBox, QProgressBar, QPushButton,
                               QRadioButton, QSizePolicy, QSpinBox, QVBoxLayout, QWidget)
from superqt import QCollapsible

from engine.device import available_devices
from engine.model import DEFAULT_PRESET, PRESETS
from engine.pairs import BatchConfig
from engine.paths import user_data_dir
from engine.train import (CheckpointEvent, FailedEvent, FinishedEvent, StepEvent, TrainConfig, ValidationEvent,
                          preset_defaults)
from engine.train.fields import config_field
from engine.train.run_folder import RunFolder
from engine.weights import WeightsError, read_metadata

from .layouts import chooser_row, controls_beside, narrow_combo
from .curves import TrainingCurves, history_columns
from .dataset_panel import DatasetPanel, DatasetStatus
from .training import SpeedEstimate, TrainTask, estimate_speed
from .workers import Task, TaskRunner, describe_error, is_running, stop_tasks

CPU_PRESET = "tiny"  # the preset a CPU trains in reasonable time (compact's own estimate there: ~21 hours)
_PRESET_NOTES = {"compact": "the shipped model's network, 105 px", "koch2015": "Koch et al.'s network, ~39 M "
                 "parameters, needs a GPU", "tiny": "48 px, fast on a laptop CPU"}


def _hms(seconds: float) -> str:
    """Return seconds as H:MM:SS (or M:SS under an hour)."""
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def default_preset(device: str) -> str:
    """Return the preset a new run starts from on `device`: the CPU preset on a CPU, the shipped one on a GPU."""
    return CPU_PRESET if device == "cpu" else DEFAULT_PRESET


def _read_run(run: RunFolder) -> tuple[dict, dict]:
    """Return a run folder's checkpoint and its history as curve columns (in a worker: both take a while)."""
    state = run.read_checkpoint()
    return state, history_columns(state.get("history", []))


def _spin(lo: int, hi: int, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setGroupSeparatorShown(True)
    return box


def _show(widget: QWidget, value) -> None:
    """Show a setting's value in its form widget (a check box or a spin box)."""
    if isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    else:
        widget.setValue(value)


def _shown(widget: QWidget):
    """Return the value a form widget shows (a check box's state or a spin box's number)."""
    return widget.isChecked() if isinstance(widget, QCheckBox) else widget.value()


def _double(lo: float, hi: float, decimals: int, step: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    return box


class TrainTab(QWidget):
    """Train a model on Omniglot's background set from the app; `model_ready(path)` offers the result."""

    model_ready = Signal(str)
    run_started = Signal(object)  # the run folder (Path) a Start writes to

    def __init__(self, parent: QWidget | None = None, data_dir: str | Path | None = None,
                 runs_root: str | Path | None = None, auto_estimate: bool = True):
        super().__init__(parent)
        self._filling = True  # set while the form is filled programmatically: no change handlers
        self.runs_root = Path(runs_root) if runs_root else user_data_dir() / "runs"
        self.auto_estimate = auto_estimate
        self._base = preset_defaults(DEFAULT_PRESET)  # fields the form does not show come from here
        self.runner = TaskRunner(self)
        self._thread: TrainTask | None = None
        self._thread_ready = False  # the running task's Trainer is built (its `ready` came)
        self._tasks: list[Task] = []  # estimates and run loads still running
        self._estimate_task: Task | None = None
        self._estimate: SpeedEstimate | None = None
        self._estimate_key: tuple | None = None  # what the estimate measured: preset, batch, device
        self._auto_out: Path | None = None  # the automatic run folder, renamed with the preset
        self._weights: Path | None = None  # best (else last) weights of the latest run
        self._resume_step: int | None = None  # step of the checkpoint in the output folder, when known
        self._ended = False  # the running run's end (FinishedEvent / FailedEvent) has been shown
        self.last_step_event: StepEvent | None = None
        self.best_validation: ValidationEvent | None = None
        self._build(data_dir)
        self._filling = False
        device = self.device_combo.currentData()  # the best one: a GPU when there is one
        self.set_config(replace(preset_defaults(default_preset(device)), device=device))
        self.new_run()

    # --- layout -------------------------------------------------------------------------------------------------

    def _build(self, data_dir: str | Path | None) -> None:
        self.dataset = DatasetPanel(("background",), self, folder=data_dir)
        self.dataset.dataset_changed.connect(self._on_dataset_changed)
        parts = [self.dataset, self._build_settings(), self._build_device(), self._build_output()]
        controls_beside(self, parts, self._build_progress(), 420, (480, 900), footer=self._build_buttons())
        self._shut_down = False  # set by `shutdown`: no new background work after it
        self._estimate_timer = QTimer(self, singleShot=True, interval=800)
        self._estimate_timer.timeout.connect(self.measure_speed)

    def _build_settings(self) -> QGroupBox:
        box = QGroupBox("Model and training")
        outer = QVBoxLayout(box)
        form = QFormLayout()
        outer.addLayout(form)
        self.preset_combo = narrow_combo()
        for name in PRESETS:
            self.preset_combo.addItem(f"{name} — {_PRESET_NOTES.get(name, '')}", name)
        self.preset_combo.currentIndexChanged.connect(self._on_preset_changed)
        form.addRow("Preset", self.preset_combo)
        form.addRow("Length", self._build_length())
        self.lr_spin = _double(1e-6, 1.0, 6, 1e-4)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Batch", self._build_batch())
        self.val_every_spin = _spin(0, 10**6, 100)
        self.val_every_spin.setSpecialValueText("only at the end")
        form.addRow("Validate every", self.val_every_spin)
        self.ckpt_every_spin = _spin(0, 10**6, 100)
        self.ckpt_every_spin.setSpecialValueText("only at the end")
        form.addRow("Checkpoint every", self.ckpt_every_spin)
        form.addRow(self._build_advanced())
        # Outside the form: a wrapped label inside a QFormLayout row gets too little height.
        self.locked_note = QLabel()
        self.locked_note.setWordWrap(True)
        self.locked_note.setVisible(False)
        outer.addWidget(self.locked_note)
        return box

    def _build_length(self) -> QWidget:
        self.steps_radio = QRadioButton("Steps")
        self.budget_radio = QRadioButton("Minutes")
        group = QButtonGroup(self)
        group.addButton(self.steps_radio)
        group.addButton(self.budget_radio)
        self.steps_spin = _spin(1, 2**31 - 1, 500)
        self.budget_spin = _double(0.1, 100000, 1, 5)
        self.steps_radio.toggled.connect(self._on_length_mode)
        self.steps_spin.valueChanged.connect(self._on_form_changed)
        self.budget_spin.valueChanged.connect(self._on_form_changed)
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        for w in (self.steps_radio, self.steps_spin, self.budget_radio, self.budget_spin):
            lay.addWidget(w)
        return row

    def _build_batch(self) -> QWidget:
        self.alphabets_spin, self.characters_spin, self.drawers_spin = _spin(1, 30), _spin(1, 60), _spin(2, 20)
        self.batch_note = QLabel()
        self.batch_note.setWordWrap(True)
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        for w, tip in ((self.alphabets_spin, "alphabets per batch"), (self.characters_spin, "characters per alphabet"),
                       (self.drawers_spin, "drawers (images) per character")):
            w.setToolTip(tip)
            w.valueChanged.connect(self._on_form_changed)
            lay.addWidget(w)
            if w is not self.drawers_spin:
                lay.addWidget(QLabel("×"))
        lay.addWidget(self.batch_note, 1)
        return row

    def _build_advanced(self) -> QCollapsible:
        adv = QCollapsible("Advanced")
        inner = QWidget()
        form = QFormLayout(inner)
        self.wd_spin = _double(0.0, 1.0, 6, 1e-4)
        self.warmup_spin = _spin(0, 10**6, 50)
        self.val_tasks_spin = _spin(1, 100000, 50)
        self.val_alphabets_spin = _spin(0, 29)
        self.seed_spin = _spin(0, 2**31 - 1)
        self.rotations_box = QCheckBox("Rotated characters count as new classes")
        self.augment_box = QCheckBox("Affine distortions (Koch et al.)")
        form.addRow("Weight decay", self.wd_spin)
        form.addRow("Warm-up steps", self.warmup_spin)
        form.addRow("Validation tasks", self.val_tasks_spin)
        form.addRow("Validation alphabets", self.val_alphabets_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow(self.rotations_box)
        form.addRow(self.augment_box)
        adv.addWidget(inner)
        return adv

    def _build_device(self) -> QGroupBox:
        box = QGroupBox("Device")
        self.device_combo = narrow_combo()
        for dev in available_devices():
            self.device_combo.addItem(f"{dev.label} ({dev.name})" if dev.name != "cpu" else dev.label, dev.name)
        self.device_combo.currentIndexChanged.connect(self._on_form_changed)
        self.measure_button = QPushButton("Measure speed")
        self.measure_button.clicked.connect(self.measure_speed)
        self.estimate_label = QLabel("Speed: choose a dataset to measure it.")
        self.estimate_label.setWordWrap(True)
        # Room for the measured speed's three lines from the start: the form below does not jump when it comes.
        self.estimate_label.setMinimumHeight(3 * self.estimate_label.fontMetrics().lineSpacing())
        self.estimate_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        row = QHBoxLayout()
        row.addWidget(self.device_combo, 1)
        row.addWidget(self.measure_button)
        layout = QVBoxLayout(box)
        layout.addLayout(row)
        layout.addWidget(self.estimate_label)
        return box

    def _build_output(self) -> QGroupBox:
        box = QGroupBox("Run folder")
        self.out_edit = QLineEdit()
        self.out_edit.editingFinished.connect(self._on_output_edited)
        self.new_run_button = QPushButton("New run")
        self.new_run_button.setToolTip("A fresh run folder with the preset's settings")
        self.new_run_button.clicked.connect(self.new_run)
        row = chooser_row(self.out_edit, self._choose_output, self.new_run_button)
        self.choose_output_button = row.itemAt(1).widget()
        self.out_note = QLabel()
        self.out_note.setWordWrap(True)
        layout = QVBoxLayout(box)
        layout.addLayout(row)
        layout.addWidget(self.out_note)
        return box

    def _build_buttons(self) -> QWidget:
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step; a checkpoint is saved")
        self.stop_button.clicked.connect(self.stop)
        self.resume_run_button = QPushButton("Resume run…")
        self.resume_run_button.setToolTip("Continue an earlier run from its last checkpoint")
        self.resume_run_button.clicked.connect(self._choose_run)
        self.use_button = QPushButton("Use this model")
        self.use_button.clicked.connect(self.use_model)
        self.use_file_button = QPushButton("Use weights file…")
        self.use_file_button.setToolTip("Use best/last weights or a checkpoint from any run folder")
        self.use_file_button.clicked.connect(self._choose_weights)
        box = QWidget()
        grid = QVBoxLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        for buttons in ((self.start_button, self.pause_button, self.stop_button),
                        (self.resume_run_button, self.use_button, self.use_file_button)):
            row = QHBoxLayout()
            for b in buttons:
                row.addWidget(b)
            grid.addLayout(row)
        return box

    def _build_progress(self) -> QWidget:
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Not started")
        self.rate_label = QLabel(" ")
        self.val_label = QLabel(" ")
        self.message_label = QLabel(" ")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.message_label.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)
        self.curves = TrainingCurves(self)
        panel = QWidget()
        layout = QVBoxLayout(panel)
        for w in (self.progress_bar, self.rate_label, self.val_label, self.message_label):
            layout.addWidget(w)
        layout.addWidget(self.curves, 1)
        return panel

    # --- the form <-> TrainConfig --------------------------------------------------------------------------------

    def _form_widgets(self) -> dict[str, QWidget]:
        """Return the form's widget for each setting of TRAIN_FIELDS it shows, by the setting's path."""
        return {"lr": self.lr_spin, "batch.alphabets": self.alphabets_spin, "batch.characters": self.characters_spin,
                "batch.drawers": self.drawers_spin, "val_every": self.val_every_spin,
                "checkpoint_every": self.ckpt_every_spin, "weight_decay": self.wd_spin,
                "warmup_steps": self.warmup_spin, "val_tasks": self.val_tasks_spin,
                "split.val_alphabets": self.val_alphabets_spin, "seed": self.seed_spin,
                "batch.class_rotations": self.rotations_box, "augment": self.augment_box}

    def set_config(self, config: TrainConfig) -> None:
        """Show `config` in the form; fields the form does not show (e.g. val_way) are kept as given."""
        self._base = config
        self._filling = True
        try:
            self.preset_combo.setCurrentIndex(max(0, self.preset_combo.findData(config.preset)))
            self.steps_radio.setChecked(not config.time_budget_s)
            self.budget_radio.setChecked(bool(config.time_budget_s))
            self.steps_spin.setValue(preset_defaults(config.preset).steps if config.steps is None else config.steps)
            self.budget_spin.setValue(config_field("time_budget_s").value(config) or 30)  # minutes
            for path, widget in self._form_widgets().items():
                _show(widget, config_field(path).value(config))
            index = self.device_combo.findData(config.device)
            if index >= 0:
                self.device_combo.setCurrentIndex(index)
        finally:
            self._filling = False
        self._on_length_mode()

    def config(self) -> TrainConfig:
        """Return the TrainConfig the form describes."""
        config = self._base
        for path, widget in self._form_widgets().items():
            config = config_field(path).apply(config, _shown(widget))
        budget = self.budget_spin.value() if self.budget_radio.isChecked() else None
        config = config_field("time_budget_s").apply(config, budget)
        steps = None if budget else self.steps_spin.value()
        return replace(config, preset=self.preset_combo.currentData(), steps=steps,
                       device=self.device_combo.currentData())

    def _on_preset_changed(self) -> None:
        if self._filling:
            return
        device = self.device_combo.currentData()
        self.set_config(replace(preset_defaults(self.preset_combo.currentData()), device=device))
        if self.output_dir() == self._auto_out:
            self.new_run()  # the automatic folder name carries the preset
        self._on_form_changed()

    def _on_length_mode(self) -> None:
        self._enable_length()
        self._on_form_changed()

    def _enable_length(self) -> None:
        self.steps_spin.setEnabled(self.steps_radio.isChecked() and self._form_editable("steps"))
        self.budget_spin.setEnabled(self.budget_radio.isChecked() and self._form_editable("steps"))

    def _on_form_changed(self) -> None:
        if self._filling:
            return
        b = BatchConfig(self.alphabets_spin.value(), self.characters_spin.value(), self.drawers_spin.value())
        self.batch_note.setText(f"= {b.size:,} images, {b.size * (b.size - 1) // 2:,} pairs")
        self._show_estimate(self._estimate)
        if self.auto_estimate and self.state == "idle":
            self._estimate_timer.start()

    def _form_editable(self, field: str) -> bool:
        # A run being continued keeps its saved settings: only its length and device may change (as the engine does).
        return self.state == "idle" and (self._resume_step is None or field in ("steps", "device"))

    def _lock_form(self) -> None:
        locked_all = self.state != "idle"
        keep_settings = self._resume_step is not None
        for w in (self.preset_combo, *self._form_widgets().values()):
            w.setEnabled(not locked_all and not keep_settings)
        for w in (self.steps_radio, self.budget_radio, self.device_combo, self.out_edit):
            w.setEnabled(not locked_all)
        self._enable_length()
        self.locked_note.setVisible(keep_settings and not locked_all)
        self.locked_note.setText("Continuing a run keeps its settings; you may change its length and device.")

    # --- dataset and speed estimate -----------------------------------------------------------------------------

    def _on_dataset_changed(self, status: DatasetStatus) -> None:
        self._estimate = None
        if "background" in status.sets:
            n = len(status.sets["background"].alphabets)
            self.val_alphabets_spin.setMaximum(max(0, n - 1))
            self._on_form_changed()
        else:
            self.estimate_label.setText("Speed: choose a dataset to measure it.")
        self._update_buttons()

    def measure_speed(self) -> None:
        """Measure seconds per step on the chosen device with a few real steps, in a worker."""
        data = self.dataset.sets.get("background")
        # After shutdown, signals still queued (a dataset check or run load that ended meanwhile) re-arm the
        # estimate timer; a measurement started then would outlive the tab.
        if data is None or self.state != "idle" or self._shut_down:
            return
        self._cancel_estimate()
        config = self.config()
        task = self.runner.submit(lambda ctx: estimate_speed(config, data, ctx.cancel), "Measuring speed",
                                  serial=False, key=self._speed_key())
        task.succeeded.connect(self._on_estimate)
        task.failed.connect(self._on_estimate_failed)
        task.finished.connect(self._forget_task)
        self._estimate_task = task
        self._tasks.append(task)
        self.estimate_label.setText(f"Speed: measuring a few steps on {config.device}…")

    def _cancel_estimate(self) -> None:
        self._estimate_timer.stop()
        if self._estimate_task is not None:
            self._estimate_task.cancel()
            self._estimate_task = None

    def _on_estimate(self, estimate: SpeedEstimate) -> None:
        if self.sender() is self._estimate_task:
            self._estimate, self._estimate_key = estimate, self.sender().info["key"]
            self._show_estimate(estimate)

    def _on_estimate_failed(self, exc: BaseException) -> None:
        if self.sender() is self._estimate_task:
            self.estimate_label.setText(f"Speed: could not measure ({describe_error(exc)})")

    def _speed_key(self) -> tuple:
        cfg = self.config()
        return cfg.preset, cfg.batch, cfg.device, cfg.augment is not None

    def _show_estimate(self, est: SpeedEstimate | None) -> None:
        if est is None:
            return
        if self._estimate_key != self._speed_key():
            again = self.auto_estimate and self.state == "idle" and "background" in self.dataset.sets
            if again:
                self._estimate_timer.start()
            self.estimate_label.setText("Speed: measured for other settings; " +
                                        ("measuring again shortly…" if again else "press “Measure speed”."))
            return
        cfg = self.config()
        run = (f"this run ≈ {_hms(cfg.time_budget_s)} (time budget)" if cfg.time_budget_s
               else f"{cfg.steps:,} steps ≈ {_hms(cfg.steps * est.seconds_per_step)}")
        self.estimate_label.setText(
            f"Speed on {est.device}: {est.seconds_per_step * 1000:.0f} ms/step ({est.images_per_s:,.0f} images/s). "
            f"One epoch ({est.train_images:,} training images, {est.steps_per_epoch:,.0f} steps) ≈ "
            f"{_hms(est.seconds_per_epoch)}; {run}, validation not counted.")

    def _forget_task(self) -> None:
        task = self.sender()
        if task in self._tasks:
            self._tasks.remove(task)
        if task is self._estimate_task:
            self._estimate_task = None

    # --- run folder ---------------------------------------------------------------------------------------------

    def output_dir(self) -> Path:
        """Return the run folder the next Start writes to."""
        return self.run_folder().path

    def run_folder(self) -> RunFolder:
        """Return the run folder the next Start writes to, as a RunFolder (its files and how it continues)."""
        return RunFolder(self.out_edit.text())

    def set_output_dir(self, folder: str | Path) -> None:
        """Use `folder` as the run folder; one holding a checkpoint is loaded for continuing."""
        self.out_edit.setText(str(folder))
        self._on_output_edited()

    def new_run(self) -> bool:
        """Start over with a fresh run folder (the settings stay; they can be continued from no checkpoint);
        return False, saying why, while a run is going on."""
        if self.state != "idle":
            self._say("A run is going on: stop it first, then start a new one.", error=True)
            return False
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self._auto_out = self.runs_root / f"{self.preset_combo.currentData()}-{stamp}"
        self.out_edit.setText(str(self._auto_out))
        self._weights = None
        self._expect_new_run()
        return True

    def _choose_output(self) -> None:
        if self.state != "idle":
            self._say("A run is going on: its folder cannot change until it has ended.", error=True)
            return
        chosen = QFileDialog.getExistingDirectory(self, "Run folder", str(self.runs_root))
        if chosen:
            self.set_output_dir(chosen)

    def _on_output_edited(self) -> None:
        if self.run_folder().holds_checkpoint():
            self.open_run(self.output_dir())
        else:
            self._expect_new_run()

    def _expect_new_run(self) -> None:
        """The run folder holds no checkpoint: Start begins a new run there, with the form's settings."""
        self._resume_step = None
        self.out_note.setText("A new run will be written here.")
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Not started")
        self.rate_label.setText(" ")
        self._lock_form()
        self._update_buttons()

    def _choose_run(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Resume run: choose a run folder", str(self.runs_root))
        if chosen:
            self.open_run(chosen)

    def reopen_run(self, folder: str | Path) -> bool:
        """Open `folder` for continuing if it still holds a checkpoint (the last run of an earlier session);
        return whether it did. Unlike `open_run`, a folder that is gone or empty is passed over silently."""
        if self.state != "idle" or not RunFolder(folder).holds_checkpoint():
            return False
        self.open_run(folder)
        return True

    def open_run(self, folder: str | Path, start: bool = False) -> None:
        """Load a run folder's checkpoint (settings, step, curves) in a worker so that Start continues it."""
        run = RunFolder(folder)
        self.out_edit.setText(str(run.path))
        if not run.holds_checkpoint():
            self._say(f"{run.path} holds no {run.checkpoint.name}: not a run that can be continued.", error=True)
            return
        self.out_note.setText("Reading the checkpoint…")
        task = self.runner.submit(lambda ctx: _read_run(run), "Reading the checkpoint", serial=False,
                                  folder=run.path, start=start)
        task.succeeded.connect(self._on_run_loaded)
        task.failed.connect(self._on_run_refused)
        task.finished.connect(self._forget_task)
        self._tasks.append(task)

    def _on_run_loaded(self, loaded: tuple[dict, dict]) -> None:
        state, history = loaded
        folder, start = self.sender().info["folder"], self.sender().info["start"]
        if self.output_dir() != folder or self.state != "idle":
            return
        saved = TrainConfig.from_dict(state["config"])
        self.set_config(replace(saved, device=self.device_combo.currentData()))
        self._resume_step = int(state["step"])
        self.curves.load_history(history)
        self._weights = RunFolder(folder).weights()
        self.out_note.setText(f"Holds a run at step {self._resume_step:,}: Start continues it from its checkpoint.")
        if not saved.time_budget_s and saved.steps is not None and saved.steps <= self._resume_step:
            self.out_note.setText(self.out_note.text() + " It has reached its steps: raise them to train on.")
        self._show_saved_run(saved, self._resume_step, float(state.get("elapsed", 0.0)))
        self._lock_form()
        self._update_buttons()
        if start:
            self.start()

    def _on_run_refused(self, exc: BaseException) -> None:
        if self.output_dir() != self.sender().info["folder"]:
            return
        self.out_note.setText("Its checkpoint cannot be continued (see below): choose another folder or a new run.")
        self._say(describe_error(exc), error=True)

    def _show_saved_run(self, saved: TrainConfig, step: int, elapsed_s: float) -> None:
        """Show where a run loaded from its checkpoint stands: its step of its length, and its time so far."""
        if saved.time_budget_s:
            fraction = min(1.0, elapsed_s / saved.time_budget_s)
            of = f"{_hms(saved.time_budget_s)} budget"
        else:
            fraction = min(1.0, step / max(1, saved.steps or 1))
            of = f"{saved.steps:,}"
        self.progress_bar.setValue(int(1000 * fraction))
        self.progress_bar.setFormat(f"Saved at step {step:,} / {of} ({fraction:.0%}): not running")
        self.rate_label.setText(f"Trained {_hms(elapsed_s)} so far")

    # --- start, pause, stop -------------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """Return where training stands: "idle" (no run), "starting" (its model being built), "running",
        "paused" or "stopping", read from the run's own control (engine.train.loop.RunControl)."""
        task = self._thread
        if task is None:
            return "idle"
        if task.control.is_stopping:
            return "stopping"
        if task.control.is_paused:
            return "paused"
        return "running" if self._thread_ready else "starting"

    @property
    def resume_step(self) -> int | None:
        """Return the step of the checkpoint in the output folder that Start continues from (None: a new run)."""
        return self._resume_step

    @property
    def task(self) -> TrainTask | None:
        """Return the running training task (its `trainer` once built, its `control`), or None when idle."""
        return self._thread

    def is_training(self) -> bool:
        """Return True while a training thread is running."""
        return is_running(self._thread)

    def start(self) -> bool:
        """Start (or continue) training in a worker thread; return False with a message when it cannot start."""
        data = self.dataset.sets.get("background")
        if self._thread is not None:
            return False
        if data is None:
            self._say("Choose the Omniglot folder first (see “How to get the dataset…”).", error=True)
            return False
        run = self.run_folder()
        continuing = run.holds_checkpoint()
        self._cancel_estimate()
        if not continuing:
            self.curves.clear()
            self.best_validation = None
        # A full garbage collection scans every object the app holds (torch's and Qt's modules, the dataset, the
        # window): 160-340 ms with the GIL held on the 2-core machine, a UI stall whenever one came while training
        # or drawing. Collected once now (an earlier run's trainer is cyclic garbage until then), what is left is
        # frozen for good: the collections during the run, and after it, leave it alone. (Never unfrozen: that
        # would give the whole app back to the collector, the model loaded at startup included.)
        gc.collect()
        gc.freeze()
        thread = TrainTask(self.config(), data, run, continue_run=continuing)
        thread.ready.connect(self._on_ready)
        # Direct: the task already hands each batch over on this thread, in send order. Another queued hop here
        # let `finished` (and the idle state it sets) overtake the last batch, with the run's checkpoint in it.
        thread.events.connect(self._on_events)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._thread_ready = thread, False
        self.last_step_event = None
        self._ended = False  # set when the run's FinishedEvent or FailedEvent has been shown
        self._refresh_state()
        self.progress_bar.setFormat(f"Continuing from step {self._resume_step:,}: reading the checkpoint…"
                                    if continuing and self._resume_step is not None else
                                    "Starting: building the model and preparing the training images…")
        self.rate_label.setText(" ")
        self._say(f"{'Continuing' if continuing else 'Starting'} training in {run.path}…")
        self.runner.add(thread)
        self.run_started.emit(run.path)
        return True

    def toggle_pause(self) -> None:
        """Pause a running run, or resume a paused one."""
        state = self.state
        if state == "paused":
            self._thread.unpause()
        elif state in ("running", "starting"):
            self._thread.pause()
        self._refresh_state()

    def stop(self) -> None:
        """Ask the run to stop after the current step; it validates and saves a checkpoint, then ends."""
        if self.state in ("idle", "stopping"):
            return
        self._thread.request_stop()
        self._refresh_state()
        self.progress_bar.setFormat("Stopping: validating and saving a checkpoint…")
        self._say("Stopping: finishing the step, validating and saving a checkpoint…")

    def _refresh_state(self) -> None:
        """Show `state` in the form, the buttons and, paused, the bar and the rate line."""
        self._lock_form()
        self._update_buttons()
        if self.state == "paused":
            step = self.last_step_event.step if self.last_step_event else 0
            self.progress_bar.setFormat(f"Paused at step {step:,}")
            self._show_rate(self.last_step_event, eta=False)

    def _update_buttons(self) -> None:
        s = self.state
        has_data = "background" in self.dataset.sets
        self.start_button.setEnabled(s == "idle" and has_data)
        self.start_button.setText(f"Continue from step {self._resume_step:,}" if self._resume_step is not None
                                  else "Start")
        self.pause_button.setEnabled(s in ("running", "paused", "starting"))
        self.pause_button.setText("Resume" if s == "paused" else "Pause")
        self.stop_button.setEnabled(s in ("running", "paused", "starting"))
        self.resume_run_button.setEnabled(s == "idle")
        self.measure_button.setEnabled(s == "idle" and has_data)
        self.use_button.setEnabled(self._weights is not None and self._weights.is_file())
        busy = "Stop the run first: its folder cannot change while it trains or is paused."
        for button, tip in ((self.new_run_button, "A fresh run folder with the preset's settings"),
                            (self.choose_output_button, "Choose the run folder")):
            button.setEnabled(s == "idle")
            button.setToolTip(tip if s == "idle" else busy)

    # --- events from the training thread ------------------------------------------------------------------------

    def _on_ready(self, info: dict) -> None:
        self._thread_ready = True
        self._refresh_state()
        step = info["step"]
        self.curves.truncate(step)  # a resumed run repeats what came after its checkpoint
        if self.state == "running":  # the first step event replaces it (log_every steps later)
            self.progress_bar.setFormat(f"Training on {info['device']} from step {step:,}: the first steps are "
                                        "running…")
        val = ", ".join(info["val_alphabets"]) or "none"
        self._say(f"Training on {info['device']} from step {step:,}: {len(info['train_alphabets'])} training "
                  f"alphabets ({info['train_images']:,} images); validation on {val}.")

    def _on_events(self, batch: list) -> None:
        steps = [e for e in batch if isinstance(e, StepEvent)]
        vals = [e for e in batch if isinstance(e, ValidationEvent)]
        self.curves.add_steps(steps)
        self.curves.add_validation(vals)
        if steps:
            self.last_step_event = steps[-1]
            self._show_progress(steps[-1])
        for event in vals:
            self._show_validation(event)
        for event in batch:
            if isinstance(event, CheckpointEvent):
                self._on_checkpoint(event)
            elif isinstance(event, FinishedEvent):
                self._on_finished(event)
            elif isinstance(event, FailedEvent):
                self._on_failed(event)

    def _show_progress(self, e: StepEvent) -> None:
        cfg = self._thread.config if self._thread else self._base
        if cfg.time_budget_s:
            fraction = min(1.0, max(e.elapsed_s / cfg.time_budget_s, e.step / e.total_steps if e.total_steps else 0))
            total = f"{_hms(cfg.time_budget_s)} budget"
        else:
            fraction = e.step / max(1, e.total_steps)
            total = f"{e.total_steps:,}"
        self.progress_bar.setValue(int(1000 * fraction))
        running = self.state not in ("paused", "stopping")
        if running:
            self.progress_bar.setFormat(f"step {e.step:,} / {total} ({fraction:.0%})")
        self._show_rate(e, eta=running)

    def _show_rate(self, e: StepEvent | None, eta: bool) -> None:
        """Show a step event's rates and times; the ETA only while the run runs (paused or ended, it would
        stand still and mislead)."""
        if e is None:
            return
        self.rate_label.setText(f"{e.images_per_s:,.0f} images/s · {e.pairs_per_s:,.0f} pairs/s · loss {e.loss:.4f}"
                                f" · elapsed {_hms(e.elapsed_s)}" + (f" · ETA {_hms(e.eta_s)}" if eta else ""))

    def _show_validation(self, e: ValidationEvent) -> None:
        if e.is_best or self.best_validation is None:
            self.best_validation = e
        best = self.best_validation
        self.val_label.setText(f"Validation one-shot accuracy at step {e.step:,}: {e.accuracy:.1%} ± {e.ci95:.1%}"
                               f" (best {best.accuracy:.1%} at step {best.step:,})")

    def _on_checkpoint(self, e: CheckpointEvent) -> None:
        self._weights = RunFolder(Path(e.path).parent).weights()
        self._resume_step = e.step
        self.out_note.setText(f"Checkpoint saved at step {e.step:,}.")
        self._update_buttons()

    def _on_finished(self, e: FinishedEvent) -> None:
        self._ended = True
        weights = e.best_weights or e.last_weights
        self._weights = Path(weights) if weights else None
        best = f"{e.best_accuracy:.1%}" if e.best_accuracy is not None else "n/a"
        self.progress_bar.setFormat(f"{e.reason.capitalize()} at step {e.step:,}")
        self._show_rate(self.last_step_event, eta=False)
        self._say(f"Training {e.reason} at step {e.step:,} after {_hms(e.elapsed_s)}; best validation accuracy "
                  f"{best}. “Use this model” takes {self._weights.name if self._weights else 'nothing'}; "
                  f"Start continues the run.")

    def _on_failed(self, e: FailedEvent) -> None:
        self._ended = True
        self.progress_bar.setFormat(f"Failed at step {e.step:,}")
        self._show_rate(self.last_step_event, eta=False)
        self._say(f"Training failed at step {e.step:,}: {e.message}", error=True)

    def _on_thread_finished(self) -> None:
        self._thread, self._thread_ready = None, False  # the runner deletes the task
        if not self._ended:  # stopped before the Trainer could run: no step, nothing saved
            self.progress_bar.setFormat("Stopped before the first step")
            self.rate_label.setText(" ")
        if not self.run_folder().holds_checkpoint():
            self._resume_step = None  # failed before its first checkpoint: a new run again
        self._refresh_state()

    def _on_error(self, message: str) -> None:
        self._say(message, error=True)

    def _say(self, text: str, error: bool = False) -> None:
        colour = "#b3261e" if error else "palette(text)"
        self.message_label.setText(f"<span style='color:{colour}'>{text}</span>")

    # --- using the result ---------------------------------------------------------------------------------------

    def use_model(self) -> None:
        """Emit `model_ready` with the latest run's best (else last) weights."""
        if self._weights is not None:
            self.use_weights_file(self._weights)

    def _choose_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Use weights", str(self.output_dir()),
                                              "Weights or checkpoint (*.safetensors checkpoint.pt)")
        if path:
            self.use_weights_file(path)

    def use_weights_file(self, path: str | Path) -> bool:
        """Check a weights file (a checkpoint.pt stands for the last.safetensors written with it) and emit
        `model_ready` with its path; return False with a message when it is not usable."""
        path = RunFolder.weights_for(path)
        try:
            _, card = read_metadata(path)
        except WeightsError as exc:
            self._say(str(exc), error=True)
            return False
        self._say(f"Using {card.get('name', path.stem)} ({path}).")
        self.model_ready.emit(str(path))
        return True

    # --- closing ------------------------------------------------------------------------------------------------

    def threads(self) -> list:
        """Return this tab's running background threads (training, estimates, loads, dataset checks)."""
        mine = [t for t in (self._thread, *self._tasks) if is_running(t)]
        return mine + self.dataset.threads()

    def confirm_close(self) -> bool:
        """Ask whether to stop a running training before closing; return True if closing may go on."""
        if not self.is_training():
            return True
        answer = QMessageBox.question(
            self, "Training is running",
            "Stop training and close? A checkpoint is saved first; continue later with “Resume run…”.",
            QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Yes

    def shutdown(self, timeout_s: float = 60.0) -> bool:
        """Stop training (saving a checkpoint) and every background task; wait; return True when all ended."""
        self._shut_down = True
        self._cancel_estimate()
        self._say("Stopping training and saving a checkpoint…")
        ok = stop_tasks(self.threads(), timeout_s)
        if self._thread is not None and not is_running(self._thread):
            self._on_thread_finished()  # its queued `finished` may never be delivered if the app quits now
        return ok

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        # Standalone, the tab asks itself; inside a window, that window asks first (confirm_close) and then
        # closes the tab, which must just stop cleanly without asking a second time.
        if self.isWindow() and not self.confirm_close():
            event.ignore()
            return
        self.shutdown()
        event.accept()
