"""Omniglot's pen: its calibrated width and offset, and painting a round pen along segments onto a glyph.

Calibrated on real data
-----------------------
Omniglot's images were made from its pen trajectories, so the pen was fitted to reproduce them:
`benchmarks/stroke_renderer_fit.py` renders each drawing of ``strokes_background_subset.zip`` (3 alphabets,
2,120 drawings) and compares it with the image of the same drawing in ``images_background.zip`` by IoU of
the ink. Model: a round pen of radius r swept along the polyline of the samples (exact point-to-segment
distance at each pixel centre), a pixel is ink iff its centre is within r of the path, and stroke (x, y)
maps to the continuous pixel coordinates (x + dx, y + dy) (pixel j spans [j, j+1), its centre is j + 0.5).
A coarse-to-fine grid search (offset and radius on 100 random drawings, then a scale of 0.98-1.02 on 200,
then offset in 1/16 px and radius in 0.025 px steps on all 2,120) found the scale 1.00 and

    r = 2.475 px (pen width 4.95 px), dx = +0.75 px, dy = +0.4375 px
    IoU with the real images over all 2,120 drawings: mean 0.925, median 0.935, 5th percentile 0.863
    (per alphabet: Japanese (katakana) 0.928, Sanskrit 0.938, Tagalog 0.887)

Neighbouring settings lose little (r 2.45 or 2.50: -0.001 to -0.002 mean IoU) but r +-0.25 px loses 0.04 and
no offset loses 0.14. What remains is mostly one-pixel edge differences: the stroke files hold positions
on a per-drawing grid of 0.7-1 unit (the drawer's screen pixels, rescaled), so the exact path is unknown.
The minimum (0.15) and the other few below 0.75 are drawer 10's katakana, whose strokes are shifted and
scaled against their images (a data quirk, not a renderer error).

Anti-aliasing: the training images are 1-bit with hard edges, so painting thresholds the exact pen coverage
(centre within r) and gives 0/1 by default; soft edges would give the network grey levels it never saw in
training. `antialias=True` gives coverage-like soft edges for display only.
"""

from __future__ import annotations

import math

import numpy as np

from ..units import OMNIGLOT_STROKE_AREA, PEN_RADIUS  # noqa: F401 - OMNIGLOT_STROKE_AREA is re-exported
from .base import GLYPH_SIZE, GlyphError

PEN_WIDTH = 2 * PEN_RADIUS  # the width the canvas draws at, in glyph px
STROKE_OFFSET = (0.75, 0.4375)


class PathTooLong(GlyphError):
    """A pen path longer than painting allows (`pieces` 1-px pieces, at most `limit`)."""

    def __init__(self, pieces: int, limit: int):
        super().__init__(f"the pen path is {pieces:,} px long at glyph size, more than the {limit:,} px "
                         f"Glyphs draws")
        self.pieces, self.limit = pieces, limit

def _clip_segments(seg: np.ndarray, lo: float, hi: float | tuple[float, float]) -> np.ndarray:
    """Return the parts of segments (m, 4: x0 y0 x1 y1) inside [lo, hi]^2, or [lo, hi_x] x [lo, hi_y] (Liang-Barsky)."""
    his = hi if isinstance(hi, tuple) else (hi, hi)
    p0, d = seg[:, :2], seg[:, 2:] - seg[:, :2]
    t0, t1 = np.zeros(len(seg)), np.ones(len(seg))
    keep = np.ones(len(seg), bool)
    for axis in (0, 1):
        for p, q in ((-d[:, axis], p0[:, axis] - lo), (d[:, axis], his[axis] - p0[:, axis])):
            parallel = p == 0
            keep &= ~(parallel & (q < 0))
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(parallel, 0.0, q / np.where(parallel, 1.0, p))
            t0 = np.where(~parallel & (p < 0), np.maximum(t0, r), t0)
            t1 = np.where(~parallel & (p > 0), np.minimum(t1, r), t1)
    keep &= t0 <= t1
    out = np.concatenate([p0 + t0[:, None] * d, p0 + t1[:, None] * d], axis=1)
    return out[keep]


def distance_field(seg: np.ndarray, size: int | tuple[int, int], reach: float, max_pieces: int | None = None
                   ) -> np.ndarray:
    """Return each pixel centre's distance to the nearest segment, as (size, size) float32 (or (h, w) for a
    `size` of (h, w)); inf beyond `reach`.

    Segments are in continuous pixel coordinates (pixel j spans [j, j+1)); a zero-length segment is a point.
    The work is proportional to the path's length within reach of the square (in pieces of at most 1 px, at
    least one per segment); with `max_pieces`, a longer path raises `PathTooLong` before any is done.
    """
    h, w = size if isinstance(size, tuple) else (size, size)
    dist = np.full(h * w, np.inf, np.float32)
    seg = _clip_segments(np.asarray(seg, np.float64).reshape(-1, 4), -reach - 1.0, (w + reach + 1.0, h + reach + 1.0))
    if len(seg) == 0:
        return dist.reshape(h, w)
    # Cut segments into pieces of length <= 1 so that every piece touches a small fixed window of pixels;
    # that keeps the work proportional to the ink, vectorised, and exact.
    length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    n_pieces = np.maximum(1, np.ceil(length)).astype(np.int64)
    if max_pieces is not None and int(n_pieces.sum()) > max_pieces:
        raise PathTooLong(int(n_pieces.sum()), max_pieces)
    owner = np.repeat(np.arange(len(seg)), n_pieces)
    k = np.arange(len(owner)) - np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)
    s = seg[owner]
    frac0 = (k / n_pieces[owner])[:, None]
    frac1 = ((k + 1) / n_pieces[owner])[:, None]
    a = s[:, :2] + (s[:, 2:] - s[:, :2]) * frac0
    b = s[:, :2] + (s[:, 2:] - s[:, :2]) * frac1
    half = int(math.ceil(reach + 1.0))
    offs = np.arange(-half, half + 1)
    oy, ox = np.meshgrid(offs, offs, indexing="ij")
    oy, ox = oy.ravel(), ox.ravel()
    chunk = max(1, 1_000_000 // len(ox))
    for start in range(0, len(a), chunk):
        pa, pb = a[start:start + chunk], b[start:start + chunk]
        mid = (pa + pb) / 2
        cols = np.floor(mid[:, 0]).astype(np.int64)[:, None] + ox
        rows = np.floor(mid[:, 1]).astype(np.int64)[:, None] + oy
        px, py = cols + 0.5, rows + 0.5
        dx, dy = (pb - pa)[:, 0:1], (pb - pa)[:, 1:2]
        len2 = dx * dx + dy * dy
        t = ((px - pa[:, 0:1]) * dx + (py - pa[:, 1:2]) * dy) / np.where(len2 > 0, len2, 1.0)
        t = np.clip(t, 0.0, 1.0)
        d = np.hypot(px - pa[:, 0:1] - t * dx, py - pa[:, 1:2] - t * dy)
        inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h) & (d <= reach)
        np.minimum.at(dist, (rows * w + cols)[inside], d[inside].astype(np.float32))
    return dist.reshape(h, w)


def paint(seg: np.ndarray, radius: float, antialias: bool, max_pieces: int | None = None,
          size: int | tuple[int, int] = GLYPH_SIZE) -> np.ndarray:
    """Return (105, 105) float32 ink (or `size`: a side, or (h, w)) of a round pen of `radius` swept along the
    segments (pixel coordinates).

    Binary unless `antialias`. `max_pieces` bounds the work (see `distance_field`).
    """
    dist = distance_field(seg, size, radius + 1.0, max_pieces)
    if antialias:
        # Distance-based coverage: 1 inside, 0 outside, linear over the one-pixel band across the edge.
        return np.clip(radius + 0.5 - dist, 0.0, 1.0).astype(np.float32)
    return (dist <= radius).astype(np.float32)


