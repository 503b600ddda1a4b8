"""The first-start welcome: create an empty gallery, import an alphabet, or try a real Omniglot alphabet.

For the last choice the dialog looks for the Omniglot dataset (in the folder the app last used, else
$OMNIGLOT_DIR or the user data folder). When it is there, the person picks one of its evaluation alphabets;
when it is not, the dialog offers to choose the folder that holds it, or to download it with the engine's
downloader (progress bar and Cancel; offline, the engine's message, shown whole, within seconds, and the other
choices stay available).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFrame, QHBoxLayout, QLabel, QMenu,
                               QProgressBar, QPushButton, QVBoxLayout, QWidget)

from . import dialogs
from .icons import app_icon, icon
from .workers import describe_error
from .workers import Task, TaskContext, TaskRunner

PREFERRED_ALPHABETS = ("Tengwar", "Atlantean", "Glagolitic", "Angelic")
DOWNLOAD_TIMEOUT_S = 5.0


def list_alphabets(source: Path) -> list[str]:
    """Return the alphabet names in an Omniglot set (zip or folder), sorted; cheap (names only)."""
    if source.is_dir():
        root = source / source.name if (source / source.name).is_dir() else source
        return sorted(p.name for p in root.iterdir() if p.is_dir())
    with zipfile.ZipFile(source) as zf:
        names = {n.split("/")[1] for n in zf.namelist() if n.count("/") >= 2}
    return sorted(n for n in names if n)


def _find_evaluation(*folders: Path | None) -> tuple[Path, list[str]]:
    """Return the evaluation set's archive or folder in the first of `folders` that holds it (None: the default
    places) and its alphabets; raise DatasetMissing when none does."""
    from engine.data import DatasetMissing, find_sources

    for i, folder in enumerate(folders):
        try:
            source = find_sources(folder, ("evaluation",))["evaluation"]
        except DatasetMissing:
            if i == len(folders) - 1:
                raise
            continue
        return source, list_alphabets(source)
    raise ValueError("no folder to look in")


def _missing_text(folder: Path) -> str:
    return (f"No Omniglot evaluation set in {folder}: choose the folder that holds images_evaluation.zip "
            "(or the extracted images_evaluation/ folder), or download it.")


def _failure_text(exc: BaseException) -> str:
    """Return what a failed download says, once: the engine's messages already begin "Could not download…"."""
    message = describe_error(exc)
    if not message.lower().startswith("could not download"):
        message = f"Could not download Omniglot: {message}"
    return f"{message} You can still choose a folder, create an empty gallery or import an alphabet."


def _download(ctx: TaskContext, folder: Path | None) -> tuple[Path, list[str]]:
    """Download the missing archives into `folder` (None: the default place); return as `_find_evaluation`."""
    from engine.data import download_omniglot

    paths = download_omniglot(folder, progress=ctx.progress, cancel=ctx.cancel, timeout=DOWNLOAD_TIMEOUT_S)
    return paths["evaluation"], list_alphabets(paths["evaluation"])


class WelcomeDialog(QDialog):
    """Offers the three ways to start; emits one request signal and closes (the main window acts on it)."""

    create_requested = Signal()
    import_requested = Signal(str)  # "folder", "zip" or "font"
    alphabet_requested = Signal(str, str)  # the alphabet, and the Omniglot folder ("" for the default places)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None,
                 data_dir: str | Path | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.task: Task | None = None
        self.data_dir = Path(data_dir) if data_dir else None  # looked in first; a download goes there
        self.source: Path | None = None  # the evaluation set found (an archive or a folder)
        self.setWindowTitle("Welcome to Glyphs")
        self.setWindowIcon(app_icon())
        layout = QVBoxLayout(self)
        layout.addWidget(self._heading())
        intro = QLabel("Draw a character and Glyphs ranks the characters it knows by similarity. Teach it a new "
                       "alphabet with one example per character: it recognises them at once, no training needed.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self._choice("add-character", "Create an empty gallery",
                                      "Then draw each character once and name it.", self._create))
        self.import_button = self._button("import", "Import an alphabet…")
        menu = QMenu(self.import_button)
        menu.addAction("From a folder of images…", lambda: self._import("folder"))
        menu.addAction("From a zip file…", lambda: self._import("zip"))
        menu.addAction("From a font (a script, or every symbol)…", lambda: self._import("font"))
        self.import_button.setMenu(menu)
        layout.addWidget(self._box(self.import_button, "A folder or zip with one image per character (sub-folders "
                                                       "named after the characters hold several examples), or "
                                                       "the characters of a font."))
        layout.addWidget(self._omniglot_box())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.button(QDialogButtonBox.StandardButton.Close).setText("Skip")
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(600)
        self._look_for_omniglot()

    # ------------------------------------------------------------------ layout helpers

    def _heading(self) -> QLabel:
        label = QLabel("Welcome to Glyphs")
        font = QFont(label.font())
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        label.setFont(font)
        return label

    def _button(self, icon_name: str, text: str) -> QPushButton:
        button = QPushButton(icon(icon_name, self.palette()), text)
        button.setMinimumWidth(210)
        return button

    def _box(self, button: QPushButton, description: str, extra: QWidget | None = None) -> QFrame:
        frame = QFrame()
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        row = QHBoxLayout(frame)
        row.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        text = QVBoxLayout()
        label = QLabel(description)
        label.setWordWrap(True)
        text.addWidget(label)
        if extra is not None:
            text.addWidget(extra)
        row.addLayout(text, 1)
        return frame

    def _choice(self, icon_name: str, text: str, description: str, slot) -> QFrame:
        button = self._button(icon_name, text)
        button.clicked.connect(slot)
        if text.startswith("Create"):
            self.create_button = button
        return self._box(button, description)

    def _omniglot_box(self) -> QFrame:
        self.try_button = self._button("references", "Try a real alphabet")
        self.try_button.setEnabled(False)
        self.try_button.clicked.connect(self._try_alphabet)
        self.alphabets = QComboBox()
        self.alphabets.hide()
        self.omniglot_status = QLabel("Looking for the Omniglot dataset…")
        self.omniglot_status.setWordWrap(True)
        self.omniglot_status.setTextFormat(Qt.TextFormat.PlainText)  # engine messages hold "<urlopen error…>"
        self.omniglot_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.choose_button = QPushButton(icon("open-gallery", self.palette()), "Choose folder…")
        self.choose_button.setToolTip("A folder that holds images_evaluation.zip or the extracted "
                                      "images_evaluation/ folder")
        self.choose_button.hide()
        self.choose_button.clicked.connect(self._choose_folder)
        self.download_button = QPushButton(icon("import", self.palette()), "Download Omniglot (about 15 MB)")
        self.download_button.hide()
        self.download_button.clicked.connect(self._download)
        self.progress = QProgressBar()
        self.progress.hide()
        self.cancel_button = QPushButton(icon("cancel", self.palette()), "Cancel")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self._cancel)
        extra = QWidget()
        v = QVBoxLayout(extra)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.omniglot_status)
        v.addWidget(self.alphabets)
        for widgets in ((self.choose_button, self.download_button), (self.progress, self.cancel_button)):
            row = QHBoxLayout()
            for w in widgets:
                row.addWidget(w, 1 if w is self.progress else 0)
            row.addStretch(0 if self.progress in widgets else 1)
            v.addLayout(row)
        return self._box(self.try_button, "One alphabet of the Omniglot dataset (one example per character), "
                                          "never seen by the model in training.", extra)

    # ------------------------------------------------------------------ choices

    def _create(self) -> None:
        self.accept()
        self.create_requested.emit()

    def _import(self, kind: str) -> None:
        self.accept()
        self.import_requested.emit(kind)

    def _try_alphabet(self) -> None:
        alphabet = self.alphabets.currentText()
        if alphabet:
            self.accept()
            self.alphabet_requested.emit(alphabet, str(self.source.parent) if self.source else "")

    # ------------------------------------------------------------------ Omniglot

    def _look_for_omniglot(self) -> None:
        folders = (self.data_dir, None) if self.data_dir else (None,)
        self.task = self._submit(lambda _ctx: _find_evaluation(*folders), "Looking for Omniglot")
        self.task.succeeded.connect(self._found)
        self.task.failed.connect(self._missing)

    def _choose_folder(self) -> None:
        folder = dialogs.open_folder(self, "Choose the Omniglot folder")
        if folder is None:
            return
        self._set_busy(True)
        self.omniglot_status.setText(f"Looking for Omniglot in {folder}…")
        self.task = self._submit(lambda _ctx: _find_evaluation(folder), "Looking for Omniglot")
        self.task.succeeded.connect(self._chosen)
        self.task.failed.connect(lambda _exc: self._not_in(folder))

    def _submit(self, fn, title: str) -> Task:
        task = self.runner.submit(fn, title, serial=False)
        # Forget the task when it ends: it is deleted soon after.
        task.finished.connect(lambda: setattr(self, "task", None) if self.task is task else None)
        return task

    def _not_in(self, folder: Path) -> None:
        self._set_busy(False)
        kept = f" The alphabets listed are still those in {self.source.parent}." if self.source else ""
        self._show_status(_missing_text(folder) + kept)

    def _chosen(self, result: tuple[Path, list[str]]) -> None:
        self._set_busy(False)
        self._found(result)

    def _found(self, result: tuple[Path, list[str]]) -> None:
        source, names = result
        self.source = source
        self.alphabets.clear()
        self.alphabets.addItems(names)
        preferred = next((a for a in PREFERRED_ALPHABETS if a in names), names[0] if names else "")
        self.alphabets.setCurrentText(preferred)
        self.alphabets.setVisible(bool(names))
        self.try_button.setEnabled(bool(names))
        self.download_button.hide()
        self.choose_button.show()  # another copy may be wanted; the one found is in the tooltip
        self._show_status("Omniglot is on this computer: pick one of its evaluation alphabets.")
        self.omniglot_status.setToolTip(str(source))

    def _missing(self, exc: BaseException) -> None:
        from engine.data import resolve_data_dir

        self.choose_button.show()
        self.download_button.show()
        self.download_button.setEnabled(True)
        looked = " and ".join(dict.fromkeys(str(resolve_data_dir(f)) for f in (self.data_dir, None)))
        self._show_status(f"The Omniglot dataset was not found (looked in {looked}). Choose the folder that "
                          "holds it, or download it.")

    def _set_busy(self, busy: bool) -> None:
        """Disable the dataset buttons while a search or download runs (Cancel stops a download)."""
        self.download_button.setEnabled(not busy)
        self.choose_button.setEnabled(not busy)

    def _show_status(self, text: str) -> None:
        """Show `text` whole: the dialog grows to the wrapped text's height (a long message would be cut off)."""
        self.omniglot_status.setText(text)
        self.fit_content()

    def fit_content(self) -> None:
        """Grow the dialog to what its content needs: as wide as its widest unbreakable word (a URL, a path in
        a message) and then as tall as the wrapped text at that width, within the screen. Qt does neither by
        itself for a shown window whose labels got longer: the text was cut off."""
        widget = self.omniglot_status
        while widget is not self:  # bottom up: each level's new size reaches the next one now, not events later
            widget = widget.parentWidget()
            widget.layout().activate()
        layout = self.layout()
        screen = self.screen().availableGeometry() if self.screen() else None
        width = max(self.width(), layout.totalMinimumSize().width())
        width = min(width, screen.width()) if screen else width
        height = max(self.height(), layout.totalHeightForWidth(width))
        height = min(height, screen.height()) if screen else height
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)

    def _download(self) -> None:
        self._set_busy(True)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.omniglot_status.setText("Downloading Omniglot…")
        folder = self.data_dir
        self.task = self._submit(lambda ctx: _download(ctx, folder), "Downloading Omniglot")
        self.task.progress.connect(self._on_progress)
        self.task.succeeded.connect(self._downloaded)
        self.task.failed.connect(self._download_failed)
        self.task.cancelled.connect(lambda: self._download_ended("Download cancelled. Nothing was kept."))

    def _on_progress(self, done: int, total: int, text: str) -> None:
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(1000 * done / total))
        self.omniglot_status.setText(f"Downloading {text or 'Omniglot'}: {done / 1e6:.1f} of "
                                     f"{total / 1e6:.1f} MB" if total else f"Downloading {text}…")

    def _downloaded(self, result: tuple[Path, list[str]]) -> None:
        self._download_ended("")
        self._found(result)

    def _download_failed(self, exc: BaseException) -> None:
        self._download_ended(_failure_text(exc))

    def _download_ended(self, message: str) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self._set_busy(False)
        self._show_status(message)

    def _cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.omniglot_status.setText("Cancelling…")

    def done(self, result: int) -> None:  # noqa: D401 - Qt override
        """Close the dialog, cancelling a download in progress."""
        if self.task is not None and not self.task.is_finished:
            self.task.cancel()
        super().done(result)
