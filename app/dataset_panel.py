"""Where the Omniglot dataset lives: a folder picker that checks the folder in a worker and reports what it found.

States shown: loading, found (with alphabet, character and image counts per set), missing (what to put where,
with a Download button) and corrupt (the engine's message naming the damaged file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFileDialog, QGroupBox, QHBoxLayout, QLineEdit, QProgressBar, QPushButton, QVBoxLayout,
                               QWidget)

from engine.data import DataError, DatasetMissing, OmniglotSet, find_sources, load_set, resolve_data_dir
from engine.data.locate import download_omniglot

from .elided import WrappedLabel
from .layouts import chooser_row
from .workers import Task, TaskContext, TaskRunner, describe_error, is_running, stop_tasks

_COLOURS = {"found": "#1b7f3b", "partial": "#9a6700", "missing": "#9a6700", "corrupt": "#b3261e",
            "loading": "palette(mid)"}

GET_DATASET_TEXT = (
    "Glyphs learns from <b>Omniglot</b> (Lake et al. 2015): 1,623 characters from 50 alphabets, each drawn "
    "by 20 people. Training uses <tt>images_background.zip</tt> (30 alphabets); the one-shot benchmark uses "
    "<tt>images_evaluation.zip</tt> (20 other alphabets). <b>Download</b> fetches both official archives "
    "and Lake's 20 official one-shot runs, <tt>all_runs.zip</tt> (about 15&nbsp;MB in all, checked against their "
    "MD5), into the folder above. Or <b>choose a folder</b> that "
    "already holds them, as the zip files or extracted <tt>images_background/</tt> and "
    "<tt>images_evaluation/</tt> folders (from github.com/brendenlake/omniglot, <tt>python/</tt>).")


@dataclass
class DatasetStatus:
    """What a folder check found: `state` is found, partial (a wanted set is missing), missing or corrupt."""

    folder: Path
    state: str
    sets: dict[str, OmniglotSet] = field(default_factory=dict)
    message: str = ""


def check_folder(folder: Path, wanted: tuple[str, ...]) -> DatasetStatus:
    """Return the status of `folder` for the `wanted` sets, loading each one that is there (slow: call in a worker)."""
    sets: dict[str, OmniglotSet] = {}
    missing: list[str] = []
    for name in wanted:
        try:
            source = find_sources(folder, (name,))[name]
        except DatasetMissing:
            missing.append(name)
            continue
        try:
            sets[name] = load_set(source, name)
        except DataError as exc:
            return DatasetStatus(folder, "corrupt", {}, str(exc))
    if not sets:
        return DatasetStatus(folder, "missing", {}, _missing_text(folder, missing))
    found = "; ".join(_describe(s) for s in sets.values())
    if missing:
        return DatasetStatus(folder, "partial", sets, f"{found}. {_missing_text(folder, missing)}")
    return DatasetStatus(folder, "found", sets, found)


def _describe(data: OmniglotSet) -> str:
    return (f"{data.name}: {len(data.alphabets)} alphabets, {data.n_characters:,} characters, "
            f"{len(data):,} images")


def _missing_text(folder: Path, missing: list[str]) -> str:
    files = " and ".join(f"images_{m}.zip" for m in missing)
    return f"No {files} (or extracted folder) in {folder}."


class DatasetPanel(QGroupBox):
    """Dataset folder chooser with validation and download; emits `dataset_changed(DatasetStatus)`.

    `wanted` names the sets this panel needs ("background" for training, "evaluation" for the benchmark).
    `status` is the latest check's result (None while loading) and `sets` the loaded sets.
    """

    dataset_changed = Signal(object)

    def __init__(self, wanted: tuple[str, ...] = ("background",), parent: QWidget | None = None,
                 folder: str | Path | None = None):
        super().__init__("Dataset", parent)
        self.wanted = wanted
        self.status: DatasetStatus | None = None
        self.runner = TaskRunner(self)
        self._loader: Task | None = None
        self._download: Task | None = None
        self._old: list[Task] = []  # superseded loads, kept until they end
        self._note = ""  # shown after the next check (the outcome of a download)
        self._build()
        self.set_folder(folder or resolve_data_dir())

    # --- layout -------------------------------------------------------------------------------------------------

    def _build(self) -> None:
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("Folder holding images_background.zip / images_evaluation.zip")
        self.path_edit.editingFinished.connect(lambda: self.set_folder(self.path_edit.text()))
        row = chooser_row(self.path_edit, self.choose_folder)
        self.state_label = WrappedLabel()
        self.state_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.get_button = QPushButton("How to get the dataset…")
        self.get_button.setFlat(True)
        self.get_button.setStyleSheet("text-align: left; color: palette(link);")
        self.get_button.clicked.connect(lambda: self.help_box.setVisible(not self.help_box.isVisible()))
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.state_label)
        layout.addWidget(self.get_button, 0, Qt.AlignLeft)
        layout.addWidget(self._build_help())

    def _build_help(self) -> QWidget:
        self.help_box = QWidget()
        text = WrappedLabel(GET_DATASET_TEXT)
        text.setTextFormat(Qt.RichText)
        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(self.start_download)
        self.cancel_download_button = QPushButton("Cancel")
        self.cancel_download_button.clicked.connect(self.cancel_download)
        self.cancel_download_button.setEnabled(False)
        self.download_bar = QProgressBar()
        self.download_bar.setVisible(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_download_button)
        buttons.addWidget(self.download_bar, 1)
        layout = QVBoxLayout(self.help_box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(text)
        layout.addLayout(buttons)
        self.help_box.setVisible(False)
        return self.help_box

    # --- the folder and its check -----------------------------------------------------------------------------

    def folder(self) -> Path:
        """Return the folder currently chosen."""
        return Path(self.path_edit.text()).expanduser()

    @property
    def sets(self) -> dict[str, OmniglotSet]:
        """Return the loaded sets by name (empty until a check succeeds)."""
        return self.status.sets if self.status else {}

    def choose_folder(self) -> None:
        """Ask for a folder with a dialog and check it."""
        chosen = QFileDialog.getExistingDirectory(self, "Omniglot folder", str(self.folder()))
        if chosen:
            self.set_folder(chosen)

    def set_folder(self, folder: str | Path) -> None:
        """Check `folder` in a worker; `dataset_changed` is emitted when the check ends."""
        folder = Path(folder).expanduser()
        self.path_edit.setText(str(folder))
        if self._loader is not None:
            self._old.append(self._loader)  # cannot be interrupted; its result will be ignored
        self.status = None
        self._show("loading", f"Checking {folder}…")
        wanted = self.wanted
        loader = self.runner.submit(lambda ctx: check_folder(folder, wanted), f"Checking {folder}", serial=False,
                                    folder=folder)
        loader.succeeded.connect(self._on_checked)
        loader.failed.connect(self._on_check_failed)
        loader.finished.connect(self._on_loader_finished)
        self._loader = loader

    def set_dataset(self, sets: dict[str, OmniglotSet], folder: str | Path | None = None) -> None:
        """Use sets that are already loaded (shared with another tab, or built in memory) without checking a
        folder; any check still running is ignored. Emits `dataset_changed`."""
        if self._loader is not None:
            self._old.append(self._loader)
            self._loader = None
        folder = Path(folder) if folder else self.folder()
        self.path_edit.setText(str(folder))
        missing = [name for name in self.wanted if name not in sets]
        state = "partial" if missing and sets else "found" if sets else "missing"
        message = "; ".join(_describe(s) for s in sets.values()) or _missing_text(folder, missing)
        self.status = DatasetStatus(folder, state, dict(sets), message)
        self._show(state, message)
        self.dataset_changed.emit(self.status)

    def _on_check_failed(self, exc: BaseException) -> None:
        loader = self.sender()
        self._on_checked(DatasetStatus(loader.info["folder"], "corrupt", {}, describe_error(exc)))

    def _on_checked(self, status: DatasetStatus) -> None:
        if self.sender() is not self._loader:
            return  # a newer folder was chosen meanwhile
        self.status = status
        note, self._note = self._note, ""
        self._show(status.state, f"{status.message} {note}".strip())
        self.help_box.setVisible(self.help_box.isVisible() or status.state in ("missing", "partial"))
        self.dataset_changed.emit(status)

    def _on_loader_finished(self) -> None:
        thread = self.sender()
        if thread is self._loader:
            self._loader = None
        if thread in self._old:
            self._old.remove(thread)

    def _show(self, state: str, message: str) -> None:
        title = {"found": "Found", "partial": "Incomplete", "missing": "Missing", "corrupt": "Damaged",
                 "loading": "Loading"}[state]
        self.state_label.setText(f"<b style='color:{_COLOURS[state]}'>{title}</b> — {message}")

    def is_loading(self) -> bool:
        """Return True while a folder check is running."""
        return self._loader is not None

    # --- download -------------------------------------------------------------------------------------------------

    def start_download(self) -> None:
        """Download the missing official archives into the chosen folder (in a worker), then check it again."""
        folder = self.folder()

        def job(ctx: TaskContext) -> dict:
            return download_omniglot(folder, lambda name, done, total: ctx.progress(done, max(total, done, 1)),
                                     ctx.cancel)

        self._download = self.runner.submit(job, "Downloading Omniglot", serial=False)
        self._download.progress.connect(self._on_download_progress)
        self._download.succeeded.connect(self._on_downloaded)
        self._download.failed.connect(self._on_download_failed)
        self._download.cancelled.connect(self._on_download_cancelled)
        self.download_button.setEnabled(False)
        self.cancel_download_button.setEnabled(True)
        self.download_bar.setVisible(True)
        self.download_bar.setRange(0, 0)  # busy until the first bytes tell the size
        self._show("loading", f"Downloading Omniglot into {folder}…")

    def cancel_download(self) -> None:
        """Stop a running download; the partial file is removed by the engine."""
        if self._download is not None:
            self._download.cancel()

    def _on_download_progress(self, done: int, total: int) -> None:
        self.download_bar.setRange(0, 1000)
        self.download_bar.setValue(int(1000 * done / max(total, 1)))
        self.download_bar.setFormat(f"{done / 1e6:.1f} / {total / 1e6:.1f} MB")

    def _on_downloaded(self, _paths: dict) -> None:
        self._download_ended("Download complete.")

    def _on_download_failed(self, exc: BaseException) -> None:
        self._download_ended(f"Download failed: {describe_error(exc)}")

    def _on_download_cancelled(self) -> None:
        self._download_ended("Download cancelled; nothing was kept.")

    def _download_ended(self, message: str) -> None:
        self.download_button.setEnabled(True)
        self.cancel_download_button.setEnabled(False)
        self.download_bar.setVisible(False)
        self._download = None
        self._note = message
        self.set_folder(self.folder())

    # --- shutdown -------------------------------------------------------------------------------------------------

    def threads(self) -> list[Task]:
        """Return this panel's running background tasks."""
        return [t for t in (self._loader, self._download, *self._old) if is_running(t)]

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        """Cancel the download, wait for running checks; return True when no task is left."""
        return stop_tasks(self.threads(), timeout_s)
