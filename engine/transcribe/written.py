"""A line written on the app's wide canvas, made a page image: its strokes drawn with the canvas's own pen.

The wide canvas keeps strokes in the square canvas's units (its height is Omniglot's 105-unit square, its
width a few of them), so one unit is one pixel of the page image, exactly as one unit is one pixel of the
glyph `render_strokes` draws from the square canvas: the same round pen (`PEN_RADIUS`, Omniglot's
calibrated width), the same sub-pixel offset, binary ink. The page is then transcribed like any page
(segmented from its ink), so a written line and a scanned one are read by one pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..glyph import GlyphError
from ..glyph.pen import PEN_RADIUS, STROKE_OFFSET, PathTooLong, paint
from ..glyph.render import DENSE_POINTS, MAX_PEN_PATH, THIN_STEP, polyline_segments, stroke_points, thin_points
from ..strokes import Stroke
from ..units import OMNIGLOT_STROKE_AREA

# The longest line drawn: 40 squares (a line of 40 or so glyphs; beyond it, write another line).
MAX_SQUARES = 40


def render_line(strokes: Iterable[Stroke], width: float, height: float = OMNIGLOT_STROKE_AREA) -> np.ndarray:
    """Return the page image (uint8 grey, black ink on white, `height` x `width` px) of strokes drawn on a
    canvas of `width` x `height` units (x right, y down; one unit one pixel).

    Ink outside the canvas is cut off. Raises ValueError for a bad size and GlyphError for a pen path
    longer than `MAX_PEN_PATH` px per square of the canvas.
    """
    if not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in (width, height)):
        raise ValueError(f"a canvas needs a positive width and height, got {width!r} x {height!r}")
    if width > MAX_SQUARES * height:
        raise ValueError(f"a written line is at most {MAX_SQUARES} times as wide as it is tall")
    shape = (int(math.ceil(height)), int(math.ceil(width)))
    lines = [np.clip(p, -1e12, 1e12) + np.array(STROKE_OFFSET) for p in stroke_points(strokes)]
    if not lines:
        return np.full(shape, 255, np.uint8)
    squares = max(1, math.ceil(width / height))
    if sum(len(p) for p in lines) > DENSE_POINTS * squares:
        lines = [thin_points(p, THIN_STEP) for p in lines]
    try:
        ink = paint(polyline_segments(lines), PEN_RADIUS, False, max_pieces=MAX_PEN_PATH * squares, size=shape)
    except PathTooLong as exc:
        raise GlyphError(f"the written line is too long to draw: its strokes are {exc.pieces:,} px long, and "
                         f"Glyphs draws up to {exc.limit:,} px on a line this wide") from None
    return np.round((1.0 - ink) * 255).astype(np.uint8)
