"""The Recognise tab: canvas, model input preview, ranking, enrol buttons and the gallery, side by side.

Flow: every change of the drawing gets a new id; at once (pen-up, undo, redo) the strokes go to the session,
which renders and ranks them in a worker, keeping only the newest request while one is queued; a result is
shown only if its id is still the current drawing's, so a slow result never overwrites a newer one. Enrolling
uses the exact glyph that was ranked and then clears the canvas for the next character (Undo brings the drawing
back); any gallery change re-ranks the drawing on screen, so a new character is recognisable at once.

Nothing here changes the canvas's size while a person draws: the middle column's width does not follow its
texts (a long character name in a button or a result is elided instead).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QResizeEvent
from PySide6.QtWidgets import (QHBoxLayout, QPushButton, QSizePolicy, QSplitter, QToolBar, QVBoxLayout, QWidget)

from engine.glyph import Glyph
from engine.workspace import GallerySnapshot, RankOutcome

from . import dialogs
from .canvas import DrawingCanvas
from .gallery_view import GalleryView
from .glyph_preview import GlyphPreview
from .icons import icon
from .references_dialog import ReferencesDialog
from .results_view import ResultsView
from .session import EngineSession
from .workers import describe_error


MIDDLE_MIN_WIDTH = 260  # the ranking column's minimum: fixed, so that no text in it can take width from the canvas


class ElidedButton(QPushButton):
    """A push button whose text is elided to the width it is given instead of widening its column."""

    def __init__(self, icon_: QIcon, text: str, parent: QWidget | None = None) -> None:
        super().__init__(icon_, text, parent)
        self._full = text
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def full_text(self) -> str:
        """Return the whole text (what `text()` shows may be elided)."""
        return self._full

    def set_full_text(self, text: str) -> None:
        """Show `text`, elided in the middle if the button is too narrow (whole in the tooltip)."""
        self._full = text
        self._elide()

    def _elide(self) -> None:
        room = self.width() - self.iconSize().width() - 28  # icon, its gap and the button's frame
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle, max(room, 40))
        super().setText(shown)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._elide()


class RecogniseTab(QWidget):
    """Draw, see the ranking, enrol. `message(level, text)` asks the window to show a message."""

    message = Signal(str, str)

    def __init__(self, session: EngineSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.drawing_id = 0
        self.outcome: RankOutcome | None = None
        self._image_glyph: Glyph | None = None
        self._references: ReferencesDialog | None = None
        self._build()
        self._connect()
        self.update_buttons()

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        self.canvas = DrawingCanvas()
        self.canvas_tools = QToolBar()
        self.canvas_tools.setIconSize(QSize(18, 18))
        self.canvas_tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.preview = GlyphPreview()
        self.results = ResultsView()
        self.add_new = ElidedButton(icon("add-character"), "Add as new character…")
        self.add_new.setToolTip("Enrol this drawing as a new character of the gallery")
        self.add_example = ElidedButton(icon("add-example"), "Add as another example")
        self.add_example.setToolTip("Add this drawing as another example of the top result")
        self.gallery_view = GalleryView()

        self.left = QWidget()
        left = QVBoxLayout(self.left)
        left.addWidget(self.canvas_tools)
        left.addWidget(self.canvas, 1)

        middle = QWidget()
        middle.setMinimumWidth(MIDDLE_MIN_WIDTH)
        mid = QVBoxLayout(middle)
        mid.addWidget(self.results, 1)
        # The model's input sits by the enrol buttons: they add the glyph it was made from to the gallery (the
        # gallery keeps drawings as drawn; each model centres them its own way when it embeds them).
        enrol = QHBoxLayout()
        enrol.addWidget(self.preview)
        buttons = QVBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add_new)
        buttons.addWidget(self.add_example)
        enrol.addLayout(buttons, 1)
        mid.addLayout(enrol)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(middle)
        self.splitter.addWidget(self.gallery_view)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 3)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)

    def _connect(self) -> None:
        self.canvas.drawing_changed.connect(self._on_drawing_changed)
        self.canvas.file_dropped.connect(self.open_image)
        self.session.ranked.connect(self._on_ranked)
        self.session.gallery_changed.connect(self._on_gallery_changed)
        self.session.model_changed.connect(lambda _info: self.request_rank())
        self.add_new.clicked.connect(self.enrol_new)
        self.add_example.clicked.connect(self.enrol_example)
        self.results.character_clicked.connect(self.show_references)
        self.gallery_view.character_activated.connect(self.show_references)

    # ------------------------------------------------------------------ drawing -> ranking

    def _on_drawing_changed(self) -> None:
        self.drawing_id += 1
        if not self.canvas.has_image():
            self._image_glyph = None
        if self.canvas.is_empty():
            self.outcome = RankOutcome(self.drawing_id, "empty-canvas")
            self.preview.set_pixels(None)
            self.results.show_outcome(self.outcome)
            self.update_buttons()
            return
        self.request_rank()

    def request_rank(self) -> None:
        """Rank what is on the canvas now (strokes, or the opened image's glyph)."""
        if self.canvas.is_empty():
            return
        source = self._image_glyph if self.canvas.has_image() else self.canvas.strokes()
        self.session.rank(self.drawing_id, source)

    def _on_ranked(self, outcome: RankOutcome) -> None:
        if outcome.request_id != self.drawing_id:
            return  # the drawing changed since: a newer result is on its way
        self.outcome = outcome
        # What the encoder got; before a model or gallery is there to rank with, the glyph as drawn.
        shown = outcome.model_input if outcome.model_input is not None else outcome.glyph
        self.preview.set_pixels(shown.pixels if isinstance(shown, Glyph) else shown)
        self.results.show_outcome(outcome)
        self.update_buttons()

    def _on_gallery_changed(self, snapshot: GallerySnapshot | None) -> None:
        self.request_rank()
        self.update_buttons()
        if self._references is not None and snapshot is not None:
            character = snapshot.character(self._references.character.name)
            if character is None:
                self._references.close()
            else:
                self._references.set_character(character)

    # ------------------------------------------------------------------ images

    def open_image(self, path: str | Path) -> None:
        """Recognise an image file (dropped or opened); on failure say why and change nothing."""
        path = Path(path)

        def job(_ctx):
            from engine.gallery import read_glyph  # the same reading as gallery import and `engine rank`

            return read_glyph(path)

        task = self.session.runner.submit(job, f"Reading {path.name}", serial=False)
        task.succeeded.connect(lambda glyph: self._show_image(path, glyph))
        task.failed.connect(lambda exc: self.message.emit(
            "error", f"Could not use “{path.name}” as a drawing: {describe_error(exc)} "
                     "Drop or open an image file (PNG, JPEG, BMP, GIF…) showing one character."))

    def _show_image(self, path: Path, glyph: Glyph) -> None:
        if glyph.no_ink:
            self.message.emit("error", f"“{path.name}” looks blank: no character was found in it. Open an image "
                                       "with one dark character on a light background (or light on dark).")
            return
        image = QImage(str(path))
        if image.isNull():  # a format Qt cannot show but PIL could read: show what the model sees
            from .images import glyph_image

            image = glyph_image(glyph.pixels, self.palette())
        self._image_glyph = glyph
        self.canvas.show_image(image)
        self._on_drawing_changed()

    # ------------------------------------------------------------------ enrolment

    def current_glyph(self) -> Glyph | None:
        """Return the glyph ranked for the drawing on screen, or None if none (yet) or it has no ink."""
        o = self.outcome
        if o is None or o.request_id != self.drawing_id or o.glyph is None or o.glyph.no_ink:
            return None
        return o.glyph

    def top_match(self) -> str | None:
        """Return the name of the top-ranked character for the current drawing, or None."""
        o = self.outcome
        if o is None or o.state != "ranked" or not o.matches or self.current_glyph() is None:
            return None
        return o.matches[0].name

    def update_buttons(self) -> None:
        """Enable the enrol buttons when they can act on the current drawing."""
        has_gallery = self.session.snapshot is not None
        glyph = self.current_glyph()
        top = self.top_match()
        self.add_new.setEnabled(has_gallery and glyph is not None)
        self.add_example.setEnabled(has_gallery and top is not None)
        self.add_example.set_full_text(f"Add to “{top}”" if top else "Add as another example")
        self.add_example.setToolTip(f"Add this drawing as another example of “{top}”, the top result" if top
                                    else "Add this drawing as another example of the top result")

    def enrol_new(self) -> None:
        """Ask a name (the next free one suggested) and enrol the current drawing as a new character."""
        glyph, snapshot = self.current_glyph(), self.session.snapshot
        if glyph is None or snapshot is None:
            return
        name = dialogs.ask_text(self, "Add as new character", "Name of the new character:",
                                snapshot.suggested_name)
        if name is None:
            return
        if snapshot.character(name) is not None:
            self.message.emit("error", f"There is already a character called “{name}”. Use “Add as another "
                                       "example” to add to it, or pick another name.")
            return
        self._clear_when_enrolled(self.session.add_character(name, glyph))

    def enrol_example(self) -> None:
        """Add the current drawing as another example of the top result."""
        glyph, top = self.current_glyph(), self.top_match()
        if glyph is not None and top is not None:
            self._clear_when_enrolled(self.session.add_reference(top, glyph))

    def _clear_when_enrolled(self, task) -> None:
        # Cleared once it is in the gallery (a failed enrolment keeps the drawing), and only if the person has
        # not started the next drawing meanwhile. Undo on the canvas brings the drawing back.
        drawing = self.drawing_id
        task.succeeded.connect(lambda _result: self.canvas.clear() if self.drawing_id == drawing else None)

    # ------------------------------------------------------------------ references

    def show_references(self, name: str) -> None:
        """Open a window with all of `name`'s references."""
        snapshot = self.session.snapshot
        character = snapshot.character(name) if snapshot else None
        if character is None:
            return
        if self._references is None:
            self._references = ReferencesDialog(character, self)
            self._references.remove_requested.connect(self.session.remove_reference)
            self._references.finished.connect(self._forget_references)
        else:
            self._references.set_character(character)
        self._references.show()
        self._references.raise_()

    def _forget_references(self) -> None:
        if self._references is not None:
            self._references.deleteLater()
        self._references = None
