"""The 105x105 glyph exactly as the model's encoder got it: the engine's rendering of the canvas (or the opened
image's glyph) after the ink centring the model's card asks for, taken from the ranking itself (so both always agree)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from engine.units import GLYPH_SIZE

from .images import glyph_pixmap

SIDE = GLYPH_SIZE  # shown 1:1 in logical pixels: Omniglot's resolution, the glyph every model is given


class GlyphPreview(QWidget):
    """A small framed picture of the glyph given to the model, with a caption."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pixels: np.ndarray | None = None
        self.picture = QLabel()
        self.picture.setFixedSize(SIDE + 2, SIDE + 2)
        self.picture.setFrameShape(QFrame.Shape.Box)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setToolTip("The 105×105 glyph given to the model: rendered by the engine from your strokes, its "
                                "ink centred as the model asks (a model may read it smaller: the shipped one "
                                "resizes it to 88×88)")
        caption = QLabel("Glyph\n105×105")
        caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        caption.setEnabled(False)  # drawn in the palette's dimmed text colour
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(caption)

    def set_pixels(self, pixels: np.ndarray | None) -> None:
        """Show glyph pixels (105x105, 1 = ink), or nothing."""
        self.pixels = None if pixels is None else np.asarray(pixels)
        if self.pixels is None:
            self.picture.clear()
            return
        self.picture.setPixmap(glyph_pixmap(self.pixels, self.palette(), SIDE, self.devicePixelRatioF()))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.set_pixels(self.pixels)
