"""The canvas shows what is ranked: the strokes drawn there as the engine's stroke renderer draws them."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, Qt
from PySide6.QtGui import QImage

from app_helpers import draw

TRIANGLE = [np.array([[30.0, 80.0], [52.0, 22.0], [78.0, 80.0], [30.0, 80.0]])]  # few mouse reports: 4 points


def _canvas_glyph(canvas) -> np.ndarray:
    """The drawing square as the person sees it, at the glyph's 105 px, True where there is ink."""
    square = canvas.square().toRect()
    image = canvas.grab(QRect(square.left() + 1, square.top() + 1, square.width() - 2, square.height() - 2)).toImage()
    image = image.convertToFormat(QImage.Format.Format_Grayscale8).scaled(
        105, 105, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(105, image.bytesPerLine())[:, :105]
    return pixels < 128


def test_a_triangle_drawn_with_few_mouse_moves_shows_as_the_triangle_that_is_ranked(qtbot):
    from app.canvas import DrawingCanvas
    from engine.glyph import render_strokes

    canvas = DrawingCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(420, 436)
    canvas.show()
    qtbot.waitExposed(canvas)
    draw(qtbot, canvas, TRIANGLE)
    shown = _canvas_glyph(canvas)
    ranked = render_strokes(canvas.strokes()).pixels > 0
    both, either = (shown & ranked).sum(), (shown | ranked).sum()
    # Edges differ by a pixel (anti-aliasing, the renderer's sub-pixel offset): ~0.83 here; a smoothed path gave 0.42.
    assert both / either > 0.75, f"the canvas and the ranked glyph overlap by {both / either:.2f} only"
    # Its corners are where the person put them (a smoothed path cut them off: a teardrop).
    for x, y in TRIANGLE[0][:3]:
        corner = canvas.area_to_widget(QPointF(x, y))
        assert ranked[int(y), int(x)] and shown[int(y), int(x)], f"no ink shown at the corner {corner}"
