"""The Transcribe tab: open or drop a page, or write a line on a wide canvas; see every glyph boxed and named,
merge, split or delete boxes, correct glyphs, copy or export the text.

The work runs on the session's serial task lane (it uses the workspace's recogniser), so the UI never waits on
the engine: transcribing shows progress and can be cancelled. A confirmed correction goes through the session's
own undoable edits (`add_reference`, or `add_character` for a new name), then the glyphs not yet confirmed
are ranked again against the changed gallery (engine.transcribe.corrections). Box edits (engine.transcribe.edits)
touch no gallery; the tab keeps the pages before them, so "Undo Edit" goes back one edit (a confirmation or a
new page starts the edits afresh: the gallery has changed under them).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QIcon
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QPlainTextEdit, QProgressBar, QPushButton, QSplitter, QVBoxLayout, QWidget)

from engine.transcribe import Alternative, page_csv, page_json
from engine.workspace import describe_error

from .canvas import LineCanvas
from .page_view import PageView, gray_pixmap

THUMB = 40
EXPORTS = {"Text (*.txt)": "txt", "JSON with boxes (*.json)": "json", "CSV (*.csv)": "csv"}


def _icon(pixels: np.ndarray) -> QIcon:
    """Return an icon of glyph pixels (1 or 255 = ink), ink black on white."""
    px = np.asarray(pixels, np.float32)
    px = px / 255.0 if px.max(initial=0) > 1 else px
    return QIcon(gray_pixmap(np.round((1.0 - px) * 255).astype(np.uint8)))


class TranscribeTab(QWidget):
    """Open a page image, transcribe it against the open gallery, correct glyphs, copy or export the text."""

    transcribed = Signal(object)  # the Page shown now (after a transcription, a correction or a re-ranking)

    def __init__(self, session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.page = None
        self.segmented = None  # the page's segmentation, what box edits work on
        self.edits: list[tuple] = []  # (segmented, page) before each box edit, for "Undo Edit"
        self.path: Path | None = None
        self.task = None
        self.setAcceptDrops(True)
        self.open_button = QPushButton("Open Page…")
        self.cancel_button = QPushButton("Cancel")
        self.copy_button = QPushButton("Copy Text")
        self.export_button = QPushButton("Export…")
        self.write_button = QPushButton("Write a Line…", checkable=True)
        self.split_touching = QCheckBox("Cut touching glyphs")
        self.split_touching.setToolTip("Cut boxes much wider than their line's glyphs at their thinnest columns "
                                       "(a best effort, marked; off by default: on pages whose glyphs do not touch "
                                       "it cuts some wide glyphs)")
        self.line_canvas = LineCanvas()
        self.line_transcribe_button = QPushButton("Transcribe the Line")
        self.line_clear_button = QPushButton("Clear")
        self.line_panel = QWidget()
        self.merge_button = QPushButton("Merge with Next")
        self.split_button = QPushButton("Split")
        self.delete_button = QPushButton("Delete")
        self.undo_edit_button = QPushButton("Undo Edit")
        self.progress = QProgressBar()
        self.status = QLabel("Open or drop a page image to transcribe it against the open gallery.")
        self.view = PageView()
        self.text = QPlainTextEdit(readOnly=True)
        self.alternatives = QListWidget()
        self.alternatives.setIconSize(QSize(THUMB, THUMB))
        self.name_edit = QLineEdit(placeholderText="or type a name (a new one enrols this glyph)")
        self.confirm_button = QPushButton("Confirm")
        self._layout()
        self.open_button.clicked.connect(self._choose_file)
        self.cancel_button.clicked.connect(self.cancel)
        self.copy_button.clicked.connect(self.copy_text)
        self.export_button.clicked.connect(self._choose_export)
        self.view.glyph_clicked.connect(self.show_glyph)
        self.view.delete_pressed.connect(self.delete_selected)
        for label, slot in (("Merge with Next", self.merge_selected), ("Split", self.split_selected),
                            ("Delete", self.delete_selected)):
            action = QAction(label, self.view)
            action.triggered.connect(slot)
            self.view.addAction(action)  # the view's context menu over a glyph
        self.merge_button.clicked.connect(self.merge_selected)
        self.split_button.clicked.connect(self.split_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.undo_edit_button.clicked.connect(self.undo_edit)
        self.write_button.toggled.connect(self.line_panel.setVisible)
        self.line_transcribe_button.clicked.connect(self.transcribe_line)
        self.line_clear_button.clicked.connect(self.line_canvas.clear)
        self.alternatives.currentItemChanged.connect(
            lambda item, _old: self.name_edit.setText(item.data(Qt.ItemDataRole.UserRole)) if item else None)
        self.alternatives.itemDoubleClicked.connect(lambda _item: self.confirm_selected())
        self.confirm_button.clicked.connect(self.confirm_selected)
        self.name_edit.returnPressed.connect(self.confirm_selected)
        self._set_busy(False)

    def _layout(self) -> None:
        bar = QHBoxLayout()
        for w in (self.open_button, self.write_button, self.split_touching, self.cancel_button, self.copy_button,
                  self.export_button):
            bar.addWidget(w)
        bar.addWidget(self.progress, 1)
        line_row = QHBoxLayout(self.line_panel)
        line_row.setContentsMargins(0, 0, 0, 0)
        line_row.addWidget(self.line_canvas, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.line_transcribe_button)
        buttons.addWidget(self.line_clear_button)
        buttons.addStretch(1)
        line_row.addLayout(buttons)
        self.line_panel.setVisible(False)
        edits = QHBoxLayout()
        for w in (self.merge_button, self.split_button, self.delete_button, self.undo_edit_button):
            edits.addWidget(w)
        side = QWidget()
        col = QVBoxLayout(side)
        col.addWidget(QLabel("Text"))
        col.addWidget(self.text, 2)
        col.addWidget(QLabel("Selected glyph: alternatives, best first"))
        col.addWidget(self.alternatives, 2)
        col.addLayout(edits)
        row = QHBoxLayout()
        row.addWidget(self.name_edit, 1)
        row.addWidget(self.confirm_button)
        col.addLayout(row)
        split = QSplitter()
        split.addWidget(self.view)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        top = QVBoxLayout(self)
        top.addLayout(bar)
        top.addWidget(self.line_panel)
        top.addWidget(self.status)
        top.addWidget(split, 1)

    # ---------------------------------------------------------------- work tab protocol

    def confirm_close(self) -> bool:
        return True

    def shutdown(self) -> bool:
        self.cancel()
        return True

    # ---------------------------------------------------------------- opening and transcribing

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_page(urls[0])

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a page", "",
                                              "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff)")
        if path:
            self.open_page(path)

    def open_page(self, path: str | Path):
        """Transcribe the page image at `path` in the background; return the Task."""
        from engine.glyph import read_gray

        self.path = Path(path)
        return self._transcribe(lambda: (str(path), read_gray(str(path))), self.path.name)

    def transcribe_line(self):
        """Transcribe the line written on the wide canvas in the background, like a page; return the Task (None
        when nothing is written)."""
        from engine.transcribe.written import render_line

        if not self.line_canvas.stroke_count():
            self.status.setText("Write a line on the canvas first.")
            return None
        strokes, width = self.line_canvas.strokes(), self.line_canvas.area_width
        self.path = None

        def source():
            image = render_line(strokes, width)
            return image, image

        return self._transcribe(source, "the written line")

    def _transcribe(self, source, name: str):
        """Transcribe what `source()` gives ((image source, 8-bit grey to show)) on the task lane; return the Task."""
        from engine.transcribe import SegmentConfig, TranscribeConfig, transcribe_segmented

        self.cancel()
        session = self.session
        config = TranscribeConfig(segment=SegmentConfig(split_touching=self.split_touching.isChecked()))

        def work(ctx):
            recognizer = session.workspace.recognizer
            if recognizer is None:
                raise ValueError("open a gallery (with a model loaded) first")
            image, gray = source()
            segmented, page = transcribe_segmented(image, recognizer, config, ctx.progress, ctx.cancel)
            return segmented, page, gray

        self.task = session.runner.submit(work, f"Transcribing {name}")
        self.task.progress.connect(self._on_progress)
        self.task.succeeded.connect(self._on_transcribed)
        self.task.failed.connect(lambda exc: self.status.setText(f"Could not transcribe {name}: "
                                                                 f"{describe_error(exc)}"))
        self.task.cancelled.connect(lambda: self.status.setText("Transcription cancelled."))
        self.task.finished.connect(lambda: self._set_busy(False))
        self._set_busy(True)
        self.status.setText(f"Transcribing {name}…")
        return self.task

    def cancel(self) -> None:
        if self.task is not None and not self.task.is_finished:
            self.task.cancel()

    def _set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)
        has_page = self.page is not None
        for w in (self.copy_button, self.export_button, self.confirm_button, self.merge_button, self.split_button,
                  self.delete_button, *self.view.actions()):
            w.setEnabled(has_page and not busy)
        self.undo_edit_button.setEnabled(bool(self.edits) and not busy)
        self.line_transcribe_button.setEnabled(not busy)

    def _on_progress(self, done: int, total: int, _text: str) -> None:
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(done)

    def _on_transcribed(self, result) -> None:
        self.segmented, page, gray = result
        self.edits = []
        self._pixmap = gray_pixmap(gray)
        self.view.select(None)
        self.show_result(page)
        self.view.fit()
        unsure = sum(not g.confident for g in page.glyphs)
        notes = " ".join(f"{n[0].upper()}{n[1:]}." for n in page.notes)
        self.status.setText(f"{len(page.glyphs)} glyphs in {len(page.lines)} lines, {unsure} not confident "
                            f"(boxed in red). {notes}".strip())

    def show_result(self, page) -> None:
        self.page = page
        self.view.show_page(getattr(self, "_pixmap", None), page.glyphs)
        self.text.setPlainText(page.text)
        self._set_busy(False)
        self.transcribed.emit(page)

    # ---------------------------------------------------------------- corrections

    def show_glyph(self, index: int) -> None:
        """List a glyph's alternatives (with the gallery's thumbnails) and select its best."""
        self.view.select(index)
        glyph = self.page.glyphs[index]
        self.alternatives.clear()
        own = QListWidgetItem(_icon(glyph.glyph.pixels), "this glyph, as cut out")
        own.setFlags(Qt.ItemFlag.NoItemFlags)
        self.alternatives.addItem(own)
        snapshot = self.session.snapshot
        for alt in glyph.alternatives:
            view = snapshot.character(alt.name) if snapshot is not None else None
            icon = _icon(view.references[0]) if view is not None and view.references else QIcon()
            shown = f"{alt.char}  {alt.name}" if alt.char else alt.name
            item = QListWidgetItem(icon, f"{shown}   {alt.score:.3f}")
            item.setData(Qt.ItemDataRole.UserRole, alt.name)
            self.alternatives.addItem(item)
        if glyph.alternatives:
            self.alternatives.setCurrentRow(1)
        self.name_edit.setText(glyph.name or "")

    def confirm_selected(self):
        """Confirm the typed or chosen name for the selected glyph; return the enrolling Task (None if nothing)."""
        index, name = self.view.selected, self.name_edit.text().strip()
        if self.page is None or index is None or not name:
            return None
        glyph = self.page.glyphs[index]
        if glyph.glyph.no_ink:
            self.status.setText("This box holds no ink to learn from.")
            return None
        snapshot = self.session.snapshot
        known = snapshot is not None and snapshot.character(name) is not None
        task = (self.session.add_reference(name, glyph.glyph) if known
                else self.session.add_character(name, glyph.glyph))
        pinned = replace(glyph, alternatives=[Alternative(name, 1.0)], confident=True, confirmed=True)
        task.succeeded.connect(lambda _edited: self._rerank(index, pinned))
        self.edits = []  # the gallery changes: pages before it would bring back stale rankings
        return task

    def _rerank(self, index: int, pinned):
        from engine.transcribe import rerank
        from engine.transcribe.corrections import with_glyph

        page = with_glyph(self.page, index, pinned)
        session = self.session
        self.task = session.runner.submit(lambda _ctx: rerank(session.workspace, page), "Re-ranking the page")
        self.task.succeeded.connect(self.show_result)
        self.task.failed.connect(lambda exc: self.status.setText(f"Re-ranking failed: {describe_error(exc)}"))
        return self.task

    # ---------------------------------------------------------------- box edits

    def merge_selected(self):
        """Merge the selected glyph with the next one in its line, in the background; return the Task (or None)."""
        from engine.transcribe import merge_glyphs

        index = self.view.selected
        return self._edit("Merging two boxes", index,
                          lambda seg, page, rec: merge_glyphs(seg, page, index, index + 1, rec))

    def split_selected(self):
        """Split the selected glyph in two, in the background; return the Task (or None)."""
        from engine.transcribe import split_glyph

        index = self.view.selected
        return self._edit("Splitting a box", index, lambda seg, page, rec: split_glyph(seg, page, index, rec))

    def delete_selected(self):
        """Delete the selected glyph (a speck); return the Task (or None)."""
        from engine.transcribe import delete_glyph

        index = self.view.selected
        return self._edit("Deleting a box", index, lambda seg, page, _rec: delete_glyph(seg, page, index),
                          select=False)

    def _edit(self, label: str, index: int | None, edit, select: bool = True):
        """Run `edit(segmented, page, recognizer)` on the task lane and show its page; keep the old for undo."""
        if self.page is None or self.segmented is None or index is None or self._busy():
            return None
        before = (self.segmented, self.page)
        session = self.session

        def work(_ctx):
            recognizer = session.workspace.recognizer
            if recognizer is None:
                raise ValueError("open a gallery (with a model loaded) first")
            return edit(*before, recognizer)

        def done(result) -> None:
            self.edits.append(before)
            self.segmented, page = result
            self.view.select(None)
            self.alternatives.clear()
            self.show_result(page)
            if select and page.glyphs:
                self.show_glyph(min(index, len(page.glyphs) - 1))
            self.status.setText(f"{label}: done. {len(page.glyphs)} glyphs.")

        self.task = session.runner.submit(work, label)
        self.task.succeeded.connect(done)
        self.task.failed.connect(lambda exc: self.status.setText(f"{label} failed: {describe_error(exc)}"))
        self.task.finished.connect(lambda: self._set_busy(False))
        self._set_busy(True)
        return self.task

    def undo_edit(self) -> None:
        """Go back to the page before the last box edit."""
        if not self.edits or self._busy():
            return
        self.segmented, page = self.edits.pop()
        self.view.select(None)
        self.alternatives.clear()
        self.show_result(page)
        self.status.setText(f"Edit undone. {len(page.glyphs)} glyphs.")

    def _busy(self) -> bool:
        return self.task is not None and not self.task.is_finished

    # ---------------------------------------------------------------- copy and export

    def copy_text(self) -> None:
        if self.page is not None:
            QGuiApplication.clipboard().setText(self.page.text)

    def _choose_export(self) -> None:
        if self.page is None:
            return
        path, kind = QFileDialog.getSaveFileName(self, "Export the transcription", "", ";;".join(EXPORTS))
        if path:
            self.export(path, EXPORTS.get(kind) or Path(path).suffix.lstrip(".") or "txt")

    def export(self, path: str | Path, kind: str) -> Path:
        """Write the page as text, JSON (with boxes) or CSV to `path`, atomically; return the path."""
        from engine.atomic import write_text_atomic

        content = {"txt": lambda p: p.text + "\n",
                   "json": lambda p: json.dumps(page_json(p, image=str(self.path or p.image)), ensure_ascii=False),
                   "csv": page_csv}[kind](self.page)
        write_text_atomic(Path(path), content)
        self.status.setText(f"Exported to {path}.")
        return Path(path)
