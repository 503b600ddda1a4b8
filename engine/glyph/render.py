"""Strokes to glyphs: a drawing rendered the way Omniglot's images were made from its pen trajectories.

A round pen of the calibrated radius (see `pen`) is swept along each polyline; a one-point stroke is a dot.
Pressure is ignored: Omniglot's pen had a constant width, and a width the model never saw would only move
the input away from the training data.

Large drawings are bounded: a drawing of more than `DENSE_POINTS` points keeps one point per `THIN_STEP`
glyph px along each stroke (its shape changes by less than that; a person's drawing has a few hundred),
and a pen path longer than `MAX_PEN_PATH` glyph px within the square (hundreds of times across it) is
refused with a GlyphError rather than painted for minutes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from ..strokes import Stroke
from .base import GLYPH_SIZE, Glyph, GlyphError, blank_glyph, glyph_of
from .framing import framing
from .pen import OMNIGLOT_STROKE_AREA, PEN_RADIUS, STROKE_OFFSET, PathTooLong, paint

DENSE_POINTS = 10_000
THIN_STEP = 0.5  # glyph px
MAX_PEN_PATH = 40_000  # glyph px of pen path painted at most (about 0.3 s)


def stroke_points(strokes: Iterable[Stroke | Sequence]) -> list[np.ndarray]:
    """Return each non-empty stroke's points as an (n, 2) float64 array (a Stroke, or anything of (x, y))."""
    out = []
    for s in strokes:
        p = np.asarray(s.points if isinstance(s, Stroke) else s, np.float64).reshape(-1, 2)
        if len(p):
            out.append(p)
    return out


def polyline_segments(polylines: Sequence[np.ndarray]) -> np.ndarray:
    """Return consecutive point pairs of polylines as (m, 4) segments; a one-point line is a zero-length one."""
    parts = []
    for p in polylines:
        if len(p) == 1:
            p = np.concatenate([p, p])
        parts.append(np.concatenate([p[:-1], p[1:]], axis=1))
    return np.concatenate(parts) if parts else np.zeros((0, 4))


def stroke_segments(strokes: Iterable[Stroke | Sequence]) -> np.ndarray:
    """Return all strokes' consecutive point pairs as (m, 4) segments, in the strokes' own units."""
    return polyline_segments(stroke_points(strokes))


def thin_points(p: np.ndarray, step: float) -> np.ndarray:
    """Return polyline `p` keeping its ends and the first point in each `step` of length along it."""
    if len(p) <= 2:
        return p
    along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
    bucket = np.floor(along / step)
    keep = np.ones(len(p), bool)
    keep[1:-1] = bucket[1:-1] != bucket[:-2]
    return p[keep]


def render_strokes(strokes: Iterable[Stroke], area: float = OMNIGLOT_STROKE_AREA, *, radius: float = PEN_RADIUS,
                   frame: bool = False, antialias: bool = False) -> Glyph:
    """Return the glyph of a drawing, rendered the way Omniglot's images were made from its strokes.

    `strokes` are in a square drawing area of side `area` (x right, y down; the app passes its canvas
    coordinates and side; Omniglot's files use 105). Stroke ink is a round pen of `radius` glyph pixels
    (calibrated: 2.475) along each polyline; a one-point stroke is a dot. Parts outside the area are cut off.
    Pixels are binary unless `antialias` (soft edges, for display; the model was trained on binary images).
    With `frame`, the drawing is scaled/moved only as far as needed to bring its ink into Omniglot's typical
    framing (same rule as `glyph_from_image`), e.g. for a tiny drawing in a corner of the canvas; without it
    the drawing area maps onto the glyph as-is, as for Omniglot's own images. `no_ink` is True when the
    result has fewer than `MIN_INK_PIXELS` ink pixels (nothing drawn, or only outside the area).
    Pressure and timing are ignored (Omniglot's pen had a constant width). Raises ValueError for a bad
    `area` and GlyphError for a pen path longer than `MAX_PEN_PATH` glyph px.
    """
    if not (isinstance(area, (int, float)) and math.isfinite(area) and area > 0):
        raise ValueError(f"area must be a positive number, got {area!r}")
    # Points absurdly far off the area are pulled in so the clipping maths cannot overflow (this could bend a
    # segment that reaches 1e12 px away; no real drawing does).
    offset = np.array(STROKE_OFFSET)
    lines = [np.clip(p * (GLYPH_SIZE / float(area)), -1e12, 1e12) + offset for p in stroke_points(strokes)]
    if not lines:
        return blank_glyph()
    if frame:
        # Path extent in glyph px; the ink adds one pen width to it.
        x0, y0 = (min(p[:, i].min() for p in lines) for i in (0, 1))
        x1, y1 = (max(p[:, i].max() for p in lines) for i in (0, 1))
        scale, (cx, cy), (tx, ty) = framing((x0, y0, x1, y1), 2 * radius)
        lines = [(p - np.array([cx, cy])) * scale + np.array([tx, ty]) for p in lines]
    if sum(len(p) for p in lines) > DENSE_POINTS:
        lines = [thin_points(p, THIN_STEP) for p in lines]
    try:
        pixels = paint(polyline_segments(lines), radius, antialias, max_pieces=MAX_PEN_PATH)
    except PathTooLong as exc:
        raise GlyphError(f"the drawing is too large to draw: its strokes are {exc.pieces:,} px long at the glyph's "
                         f"size, and Glyphs draws up to {exc.limit:,} px ({exc.limit // GLYPH_SIZE} times across "
                         f"the glyph)") from None
    return glyph_of(pixels)
