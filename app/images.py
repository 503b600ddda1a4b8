"""Turning glyph pixels into pictures that follow the palette (ink = text colour on the base colour)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPalette, QPixmap


def glyph_image(pixels: np.ndarray, palette: QPalette) -> QImage:
    """Return a QImage of glyph pixels (float 0..1 or uint8 0..255, 1/255 = ink) in the palette's colours."""
    arr = np.asarray(pixels)
    ink = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else np.clip(arr.astype(np.float32), 0, 1)
    fg = _rgb(palette.color(QPalette.ColorRole.Text))
    bg = _rgb(palette.color(QPalette.ColorRole.Base))
    rgb = (bg[None, None, :] * (1.0 - ink[..., None]) + fg[None, None, :] * ink[..., None]).astype(np.uint8)
    rgb = np.ascontiguousarray(rgb)
    h, w = ink.shape
    # copy(): the QImage must own its bytes once the numpy buffer goes away.
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def glyph_pixmap(pixels: np.ndarray, palette: QPalette, side: int, ratio: float = 1.0) -> QPixmap:
    """Return a square pixmap of `side` logical pixels (sharp on high-DPI screens at device `ratio`)."""
    image = glyph_image(pixels, palette)
    device_side = max(1, round(side * ratio))
    scaled = image.scaled(device_side, device_side, Qt.AspectRatioMode.KeepAspectRatio,
                          Qt.TransformationMode.SmoothTransformation)
    pixmap = QPixmap.fromImage(scaled)
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


class GlyphPixmapCache:
    """glyph_pixmap with a memory: the same pixels at the same size, device ratio and colours give back the
    pixmap made before. The results rows show the same few references again at every pen-up, and making each
    thumbnail anew (colouring and smooth scaling) took a sixth of the UI's work per ranking."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._pixmaps: OrderedDict[tuple, QPixmap] = OrderedDict()

    def pixmap(self, pixels: np.ndarray, palette: QPalette, side: int, ratio: float = 1.0) -> QPixmap:
        """Return glyph_pixmap(pixels, palette, side, ratio), made once for the same inputs (least recently
        used dropped beyond `limit`)."""
        arr = np.ascontiguousarray(pixels)
        key = (arr.tobytes(), arr.shape, arr.dtype.str, palette.color(QPalette.ColorRole.Text).rgba(),
               palette.color(QPalette.ColorRole.Base).rgba(), side, ratio)
        pixmap = self._pixmaps.get(key)
        if pixmap is None:
            pixmap = self._pixmaps[key] = glyph_pixmap(arr, palette, side, ratio)
            if len(self._pixmaps) > self.limit:
                self._pixmaps.popitem(last=False)
        else:
            self._pixmaps.move_to_end(key)
        return pixmap


def _rgb(color: QColor) -> np.ndarray:
    return np.array([color.red(), color.green(), color.blue()], np.float32)
