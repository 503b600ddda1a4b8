"""Import from font: choose an installed font or a font file, see its Unicode blocks with counts and a preview of
what will be enrolled, then import it as a new gallery, add it to the open one, or build a symbol search.

Everything that touches a font (listing installed fonts, reading one, rendering the preview, importing) runs
as a parallel task of the app's `TaskRunner`, so the window stays responsive; the import shows progress and
can be cancelled (nothing is written then). "Add to the open gallery" renders in the background and then
adds the references in one serial step, followed by reopening the gallery, so no other gallery edit can
slip between them.

The dialog proposes the new gallery's name from the choice ("DejaVu Sans — Runic"; editable), reopens on the
font used last time (when given the app's settings), and its counts agree: the preview's "Will enrol N" is the
N the import's message counts from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
                               QListView, QListWidget, QListWidgetItem, QProgressBar, QPushButton, QRadioButton,
                               QSplitter, QVBoxLayout, QWidget)

from engine.chars import describe_char
from engine.workspace import galleries_dir, unique_folder

from . import dialogs
from .images import glyph_pixmap
from .message_bar import sentence
from .session import EngineSession
from .settings import AppSettings
from .workers import Task, TaskContext, TaskRunner, describe_error

if TYPE_CHECKING:
    from engine.fonts.faces import FontFace, FontImport

PREVIEW_MAX = 240  # characters drawn in the preview grid (the import itself takes all that are chosen)
PREVIEW_SIDE = 44
ALL = "All characters"
FONT_FILTER = "Fonts (*.ttf *.otf *.ttc *.otc);;All files (*)"


@dataclass(frozen=True)
class FontSummary:
    """What the dialog shows about a font: the face, its blocks with drawable counts."""

    face: FontFace
    blocks: dict[str, int]

    @property
    def total(self) -> int:
        """Return the number of drawable characters (before rendering finds blanks)."""
        return sum(self.blocks.values())


def _list_fonts(_ctx: TaskContext) -> list:
    from engine.fonts.files import installed_fonts

    return installed_fonts()


def _summarise(path: Path, index: int) -> FontSummary:
    from engine.fonts.faces import block_counts, open_font

    face = open_font(path, index)
    return FontSummary(face, block_counts(face.drawable()))


def _preview(ctx: TaskContext, face: FontFace, text: str, blocks: list[str]) -> tuple[list[tuple[str, np.ndarray]], int]:
    """Return up to PREVIEW_MAX (character, uint8 glyph) and how many characters the choice holds."""
    from engine.fonts.render import FaceRenderer
    from engine.fonts.faces import select_characters

    selection = select_characters(face, text or None, blocks)
    renderer = FaceRenderer(str(face.path), face.index)
    out = []
    for cp in selection.codepoints[:PREVIEW_MAX]:
        ctx.check()
        pixels = renderer.glyph_pixels(chr(cp))
        if pixels is not None:
            out.append((chr(cp), (pixels * 255).astype(np.uint8)))
    return out, len(selection.codepoints)


def proposed_name(font: str, blocks: list[str]) -> str:
    """Return the name proposed for a new gallery of `font`'s `blocks`: "DejaVu Sans — Runic", the font's name
    alone for all of it or typed characters, and "… — Greek and Coptic, +2 more" for many blocks."""
    if not blocks:
        return font
    shown = ", ".join(blocks[:2]) + (f", +{len(blocks) - 2} more" if len(blocks) > 2 else "")
    return f"{font} — {shown}"


class FontImportDialog(QDialog):
    """The "Import from font…" dialog. Emits `imported(path)` with the gallery folder it made or changed."""

    imported = Signal(object)

    def __init__(self, runner: TaskRunner, session: EngineSession, parent: QWidget | None = None,
                 settings: AppSettings | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.session = session
        self.settings = settings
        self.summary: FontSummary | None = None
        self.chosen_total: int | None = None  # what the preview says will be enrolled, for the current choice
        self._proposed_name = ""  # the name last proposed: replaced on a new choice unless the person edited it
        self.preview_task: Task | None = None
        self.import_task: Task | None = None
        self.setWindowTitle("Import from font")
        self._build()
        self._list_installed()

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        self.fonts = QComboBox()
        self.fonts.setMinimumWidth(320)
        self.fonts.addItem("Looking for installed fonts…")
        self.fonts.setEnabled(False)
        self.fonts.activated.connect(self._installed_chosen)
        self.file_button = QPushButton("Font File…")
        self.file_button.clicked.connect(self._choose_file)
        top = QHBoxLayout()
        top.addWidget(QLabel("Font:"))
        top.addWidget(self.fonts, 1)
        top.addWidget(self.file_button)
        self.font_info = QLabel("Choose an installed font or a font file (.ttf, .otf, .ttc).")
        self.font_info.setWordWrap(True)

        self.blocks = QListWidget()
        self.blocks.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.blocks.itemSelectionChanged.connect(self._choice_changed)
        self.chars = QLineEdit()
        self.chars.setPlaceholderText("or type the characters to enrol, e.g. αβγδε")
        self.chars.textChanged.connect(self._choice_changed)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(QLabel("Unicode blocks (characters the font draws):"))
        lv.addWidget(self.blocks, 1)
        lv.addWidget(self.chars)

        self.grid = QListWidget()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(PREVIEW_SIDE, PREVIEW_SIDE))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setSpacing(4)
        self.preview_label = QLabel("Preview of what will be enrolled (as the model will see it)")
        self.preview_label.setWordWrap(True)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.preview_label)
        rv.addWidget(self.grid, 1)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 2)

        self.new_gallery = QRadioButton("New gallery, named")
        self.new_gallery.setChecked(True)
        self.gallery_name = QLineEdit()
        self.gallery_name.setPlaceholderText("the font's name")
        self.new_gallery.toggled.connect(self.gallery_name.setEnabled)
        new_row = QHBoxLayout()
        new_row.addWidget(self.new_gallery)
        new_row.addWidget(self.gallery_name, 1)
        self.add_to_open = QRadioButton("Add to the open gallery (each character gains this font as another example)")
        self.add_to_open.setEnabled(self.session.snapshot is not None)
        self.progress = QProgressBar()
        self.progress.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel Import")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self._cancel_import)
        self.symbol_button = QPushButton("Symbol Search (Every Character)")
        self.symbol_button.setToolTip("A new gallery of every character this font draws, to find a symbol by "
                                      "drawing it and copy it")
        self.symbol_button.clicked.connect(self.start_symbol_search)
        self.import_button = QPushButton("Import")
        self.import_button.setDefault(True)
        self.import_button.clicked.connect(self.start_import)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.symbol_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.import_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)

        grid = QGridLayout()
        grid.addWidget(self.progress, 0, 0)
        grid.addWidget(self.cancel_button, 0, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.font_info)
        layout.addWidget(split, 1)
        layout.addLayout(new_row)
        layout.addWidget(self.add_to_open)
        layout.addLayout(grid)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.resize(820, 600)
        self._set_ready(False)

    def _set_ready(self, ready: bool) -> None:
        busy = self.import_task is not None
        for w in (self.import_button, self.symbol_button):
            w.setEnabled(ready and not busy)
        for w in (self.fonts, self.file_button, self.blocks, self.chars, self.new_gallery):
            w.setEnabled(not busy and (w is not self.fonts or self.fonts.count() > 0))
        self.add_to_open.setEnabled(not busy and self.session.snapshot is not None)

    # ------------------------------------------------------------------ choosing a font

    def _submit(self, fn, title: str) -> Task:
        return self.runner.submit(fn, title, serial=False)

    def _list_installed(self) -> None:
        task = self._submit(_list_fonts, "Listing installed fonts")
        task.succeeded.connect(self._fill_installed)
        task.failed.connect(lambda exc: self._fill_installed([]))

    def _fill_installed(self, fonts: list) -> None:
        self.fonts.clear()
        for f in fonts:
            self.fonts.addItem(f.label, (str(f.path), f.index))
            self.fonts.setItemData(self.fonts.count() - 1, str(f.path), Qt.ItemDataRole.ToolTipRole)
        if not fonts:
            self.fonts.addItem("No installed fonts found: choose a font file")
        self.fonts.setEnabled(bool(fonts))
        self.fonts.setCurrentIndex(-1 if fonts else 0)
        last = self.settings.last_font if self.settings is not None else None
        if last is not None and last[0].is_file() and self.summary is None:
            self.show_font_file(*last)

    def show_font_file(self, path: Path, index: int = 0) -> Task:
        """Select the font `path` (face `index`) in the list, adding it as a file when it is not installed, and
        read it."""
        row = self.fonts.findData((str(path), index))
        if row < 0:
            self.fonts.addItem(f"{path.name} (file)", (str(path), index))
            row = self.fonts.count() - 1
        self.fonts.setEnabled(True)
        self.fonts.setCurrentIndex(row)
        return self.load_font(path, index)

    def _installed_chosen(self, row: int) -> None:
        data = self.fonts.itemData(row)
        if data:
            self.load_font(Path(data[0]), int(data[1]))

    def _choose_file(self) -> None:
        path = dialogs.open_file(self, "Choose a font file", FONT_FILTER)
        if path is not None:
            self.show_font_file(path)  # the file joins the list, so the list always says which font is shown

    def load_font(self, path: Path, index: int = 0) -> Task:
        """Read the font at `path` (face `index`) in the background and show its blocks."""
        self.summary = None
        self.blocks.clear()
        self.grid.clear()
        self._set_ready(False)
        self.font_info.setText(f"Reading {path.name}…")
        task = self._submit(lambda ctx: _summarise(path, index), f"Reading {path.name}")
        task.succeeded.connect(self._show_font)
        task.failed.connect(lambda exc: self._font_failed(exc))
        return task

    def _font_failed(self, exc: BaseException) -> None:
        self.font_info.setText(f"This font cannot be used: {describe_error(exc)}")

    def _show_font(self, summary: FontSummary) -> None:
        self.summary = summary
        face = summary.face
        if self.settings is not None:
            self.settings.last_font = (Path(face.path), face.index)
        self.font_info.setText(f"<b>{face.full_name}</b> ({face.version or 'no version'}; {face.path.name}): "
                               f"{summary.total:,} drawable characters in {len(summary.blocks)} Unicode blocks")
        self.blocks.blockSignals(True)
        self.blocks.clear()
        self.blocks.addItem(QListWidgetItem(f"{ALL} ({summary.total:,})"))
        for block, n in summary.blocks.items():
            item = QListWidgetItem(f"{block} ({n:,})")
            item.setData(Qt.ItemDataRole.UserRole, block)
            self.blocks.addItem(item)
        self.blocks.setCurrentRow(0)
        self.blocks.blockSignals(False)
        self._set_ready(summary.total > 0)
        self._choice_changed()

    # ------------------------------------------------------------------ the choice and its preview

    def chosen_blocks(self) -> list[str]:
        """Return the selected block names (empty: all characters, or only the typed ones)."""
        return [b for item in self.blocks.selectedItems() if (b := item.data(Qt.ItemDataRole.UserRole))]

    def chosen_text(self) -> str:
        """Return the characters typed (empty when none)."""
        return self.chars.text().strip()

    def _choice_changed(self) -> None:
        if self.summary is None:
            return
        if self.preview_task is not None:
            self.preview_task.cancel()
        face, text, blocks = self.summary.face, self.chosen_text(), self.chosen_blocks()
        self.chosen_total = None
        self._propose_name(face.full_name, blocks)
        self.preview_label.setText("Rendering the preview…")
        task = self._submit(lambda ctx: _preview(ctx, face, text, blocks), "Font preview")
        self.preview_task = task
        task.succeeded.connect(lambda result, t=task: self._show_preview(t, result))
        task.failed.connect(lambda exc: self.preview_label.setText(describe_error(exc)))

    def _show_preview(self, task: Task, result: tuple[list[tuple[str, np.ndarray]], int]) -> None:
        if task is not self.preview_task:
            return  # an older choice's preview
        glyphs, total = result
        self.grid.clear()
        ratio = self.devicePixelRatioF()
        for char, pixels in glyphs:
            item = QListWidgetItem(QIcon(glyph_pixmap(pixels, self.palette(), PREVIEW_SIDE, ratio)), char)
            item.setToolTip(f"{char}  {describe_char(char)}")
            self.grid.addItem(item)
        shown = f"the first {len(glyphs)} shown" if total > len(glyphs) else "all shown"
        self.chosen_total = total
        self.preview_label.setText(f"Will enrol {total:,} characters, less any that render blank or as the "
                                   f"missing-glyph box ({shown}, as the model sees them)")

    def _propose_name(self, font: str, blocks: list[str]) -> None:
        """Propose the new gallery's name from the font and the blocks chosen, unless the person typed one."""
        if self.gallery_name.text() not in ("", self._proposed_name):
            return
        self._proposed_name = proposed_name(font, blocks)
        self.gallery_name.setText(self._proposed_name)

    def preview_count(self) -> int:
        """Return the number of characters in the preview grid."""
        return self.grid.count()

    # ------------------------------------------------------------------ importing

    def start_import(self) -> Task | None:
        """Import the chosen characters (into a new gallery, or the open one)."""
        if self.summary is None:
            return None
        add = self.add_to_open.isChecked() and self.session.snapshot is not None
        name = self.gallery_name.text().strip() or proposed_name(self.summary.face.full_name, self.chosen_blocks())
        return self._run_import(self.chosen_text(), self.chosen_blocks(), add, name)

    def start_symbol_search(self) -> Task | None:
        """Start a symbol search of every drawable character of the font and close the dialog: drawings rank
        against the characters ready so far while the rest are embedded, then it opens as a new gallery."""
        if self.summary is None:
            return None
        name = f"{self.summary.face.full_name} symbols"
        task = self.session.search_font(self.summary.face, name, unique_folder(galleries_dir(), name))
        self.accept()
        return task

    def _run_import(self, text: str, blocks: list[str], add: bool, name: str) -> Task:
        face = self.summary.face
        chosen = self.chosen_total if text or blocks else self.summary.total  # the count the person was shown
        target = Path(self.session.snapshot.path) if add else unique_folder(galleries_dir(), name)

        def job(ctx: TaskContext) -> FontImport:
            from engine.fonts.faces import import_font

            return import_font(face, None if add else target, text=text or None, blocks=blocks, name=name,
                               progress=ctx.progress, cancel=ctx.cancel)

        self.import_task = task = self._submit(job, f"Importing {face.full_name}")
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.status.setText(f"Rendering {face.full_name}…")
        self._set_ready(False)
        task.progress.connect(self._on_progress)
        task.succeeded.connect(lambda result: self._imported(result, target, add, chosen))
        task.failed.connect(lambda exc: self._import_ended(f"Import failed: {sentence(describe_error(exc))} "
                                                          "Nothing was changed."))
        task.cancelled.connect(lambda: self._import_ended("Import cancelled. Nothing was changed."))
        return task

    def _on_progress(self, done: int, total: int, _text: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _imported(self, result: FontImport, target: Path, add: bool, chosen: int | None) -> None:
        summary = result.skipped_summary()
        if add:
            characters = result.gallery.characters

            def extend(_ctx: TaskContext) -> tuple[int, int]:
                from engine.gallery import Gallery

                return Gallery.open(target).extend(characters)

            # Serial: between this step and the reopening below, no other edit of the open gallery runs.
            step = self.runner.submit(extend, "Adding the font's characters", serial=True)
            step.failed.connect(lambda exc: self._import_ended(f"Import failed: {describe_error(exc)}"))
            step.succeeded.connect(lambda counts: self._done(target, f"Added {counts[1]:,} examples "
                                                                     f"({counts[0]:,} new characters); {summary}."))
        else:
            # Counted from what the preview promised, so the two numbers add up on screen.
            dropped = chosen - result.added_characters if chosen is not None else 0
            of = (f" (of the {chosen:,} chosen, {dropped:,} render blank or as the missing-glyph box)"
                  if dropped > 0 else "")
            self._done(target, f"Made the gallery “{result.gallery.name}” with {result.added_characters:,} "
                               f"characters{of}; {summary}.")

    def _done(self, target: Path, message: str) -> None:
        self.session.open_gallery(target)
        self._import_ended(message)
        self.imported.emit(target)

    def _import_ended(self, message: str) -> None:
        self.import_task = None
        self.progress.hide()
        self.cancel_button.hide()
        self.status.setText(message)
        self._set_ready(self.summary is not None and self.summary.total > 0)

    def _cancel_import(self) -> None:
        if self.import_task is not None:
            self.import_task.cancel()
            self.status.setText("Cancelling…")

    def done(self, result: int) -> None:  # noqa: D401 - Qt override
        """Close the dialog, cancelling an import or preview in progress."""
        for task in (self.import_task, self.preview_task):
            if task is not None and not task.is_finished:
                task.cancel()
        super().done(result)
