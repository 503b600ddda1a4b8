"""Icons drawn for Glyphs (resources/icons/*.svg), tinted with the palette's text colour.

The SVGs are drawn in black; tinting them at load time keeps them readable in light and dark palettes,
and rendering from SVG keeps them sharp at any device pixel ratio.
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from engine.paths import RESOURCES

ICON_DIR = RESOURCES / "icons"
SIZES = (16, 24, 32, 48, 64)


def icon(name: str, palette: QPalette | None = None) -> QIcon:
    """Return the icon `name` (a file stem in resources/icons) tinted for `palette`; an empty icon if missing."""
    palette = palette or QGuiApplication.palette()
    color = palette.color(QPalette.ColorRole.WindowText).name()
    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText).name()
    return _icon(name, color, disabled)


@lru_cache(maxsize=128)
def _icon(name: str, color: str, disabled: str) -> QIcon:
    path = ICON_DIR / f"{name}.svg"
    if not path.is_file():
        return QIcon()
    svg = path.read_text(encoding="utf-8")
    result = QIcon()
    for size in SIZES:
        result.addPixmap(_render(svg.replace("#000000", color), size), QIcon.Mode.Normal)
        result.addPixmap(_render(svg.replace("#000000", disabled), size), QIcon.Mode.Disabled)
    return result


def app_icon() -> QIcon:
    """Return the application icon (not tinted: it has its own colours)."""
    path = ICON_DIR / "glyphs.svg"
    if not path.is_file():
        return QIcon()
    svg = path.read_text(encoding="utf-8")
    result = QIcon()
    for size in (*SIZES, 128, 256):
        result.addPixmap(_render(svg, size))
    return result


def _render(svg: str, size: int) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return QPixmap.fromImage(image)
