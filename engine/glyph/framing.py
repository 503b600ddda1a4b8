"""Omniglot's framing: where its ink sits in the 105-px square and how wide its strokes are, and the rule that
brings a drawing or an image into that range.

Measured over 3,000 random images_background images (bounding box of the ink, pixel-edge coordinates,
105-px frame; `benchmarks/stroke_renderer_fit.py`):

    longer bbox side: median 68 px, 2.5th-97.5th percentile 38-91 px
    bbox centre: x median 51.5 (2.5th-97.5th 39.5-62), y median 51 (40-61)
    stroke width estimate 2*area/(pi/4 * pixel-edge perimeter): median 5.5 px, 99% within 3.0-7.1 px
    (the lowest, 3.18, are dots-only Braille drawings; the 99th percentile is 7.1)

A drawing's scale is clamped so that the ink's longer side lies within 38-91 px, and its centre is clamped
into the box above. Input already inside those ranges is thus left exactly where it is, not pulled to a
mean framing it never had.
"""

from __future__ import annotations

from .base import GLYPH_SIZE

# Omniglot's ink framing over images_background (2.5th-97.5th percentiles, 105-px frame, pixel-edge coordinates).
FRAME_EXTENT_RANGE = (38.0, 91.0)
FRAME_CENTER_X_RANGE = (39.5, 62.0)
FRAME_CENTER_Y_RANGE = (40.0, 61.0)
FRAME_MARGIN = 0.0  # Omniglot's own ink touches the edge at times; only keep it inside
# Omniglot's stroke width by `thinning.stroke_width` (holds 99% of the images): inside it an image's strokes are kept.
WIDTH_RANGE = (3.0, 7.1)


def framing(path_box: tuple[float, float, float, float], pen: float,
            extent: tuple[float, float] = FRAME_EXTENT_RANGE) -> tuple[float, tuple[float, float], tuple[float, float]]:
    """Return (scale, centre, new centre) bringing a drawing's ink framing into Omniglot's range.

    `path_box` is the (x0, y0, x1, y1) extent of the pen path in glyph pixels at its natural scale and `pen`
    the width of the pen that will draw it, so the ink box is the path box grown by `pen`. The scale is 1
    and the centre unchanged when the ink already lies within Omniglot's 2.5th-97.5th percentile framing.
    `extent` is the range the ink's longer side is clamped into (glyph px; Omniglot's by default).
    """
    x0, y0, x1, y1 = path_box
    path_ext = max(x1 - x0, y1 - y0)
    lo, hi = extent
    ink_ext = path_ext + pen
    target = min(max(ink_ext, lo), hi)
    # Exactly 1 when no clamping is needed, so in-range input is resampled 1:1 (Omniglot images unchanged).
    scale = (target - pen) / path_ext if (path_ext > 1e-9 and target != ink_ext) else 1.0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    new = []
    for c, half, (clo, chi) in ((cx, (x1 - x0) / 2, FRAME_CENTER_X_RANGE), (cy, (y1 - y0) / 2, FRAME_CENTER_Y_RANGE)):
        c2 = min(max(c, clo), chi)
        # Keep the whole ink inside the glyph even for large drawings near the edge of the centre range.
        reach = half * scale + pen / 2 + FRAME_MARGIN
        c2 = min(max(c2, reach), GLYPH_SIZE - reach) if 2 * reach <= GLYPH_SIZE else GLYPH_SIZE / 2
        new.append(c2)
    return scale, (cx, cy), (new[0], new[1])
