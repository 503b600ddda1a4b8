"""Images to glyphs: any picture of a character brought to Omniglot's look (framing, stroke width, 1-bit).

Decoded to luminance (`decode.image_channels`; alpha composited on a backdrop that contrasts with the opaque
pixels), the background taken as the median colour of the image's border (so light ink on dark is
inverted), then ink framing and stroke width are brought into Omniglot's range (see `framing`).

First, an image that already is an Omniglot drawing, decided from what it is (`looks_like_omniglot`: 105x105,
two levels, Omniglot's stroke width and ink extent; not its size alone), is taken exactly as it is. Every other
image (a file, a drop, a paste, an import, a font's character, a glyph cut out of a scan) goes the same way:

- Framing. The image is fitted into the 105-px square as a whole (its longer side becomes 105 px, centred);
  then its scale is clamped so that the ink's longer side lies within 58-91 px (`Normalisation.extent`; 58 px
  is 0.55 of the frame, as font import frames a letter: a letter printed small in its picture is brought up
  to it, where Omniglot's 38 px lower bound left it small), and its centre is clamped into Omniglot's box.
- Pen. The ink is thinned to its centre lines, at ~3 working px per glyph px (a large image shrunk by
  max-pooling so thin lines stay connected, a small one enlarged bilinearly), and redrawn with Omniglot's
  calibrated pen (`Normalisation.redraw`): a 1-px line, a marker, an uneven pen or a blurred scan all reach
  the encoder as Omniglot's pen would have drawn them (a filled shape becomes its centre line or a dot, as
  Omniglot has no filled shapes).

Both were chosen on the other-source checks of `benchmarks/bench_accuracy.py` (pens, sizes, scans, typefaces;
background alphabets only): redrawing every image (before: only strokes outside 3.0-7.1 px) lifts an uneven
pen, small images and scans, and the 58-px lower bound lifts typefaces as image folders while costing the
Omniglot-framed checks nothing beyond noise. `Normalisation()` with other fields gives the earlier rules back
for such measurements. Phone photos are turned upright by their EXIF orientation. Photos with uneven lighting
or shadows are not levelled: the background is one colour, taken from the border.

Near-empty input: ``no_ink`` is True when the result has fewer than `MIN_INK_PIXELS` ink pixels, when the
ink's longer side is under `MIN_INK_EXTENT` (4 px, less than one pen width) once the whole image is fitted
into 105 px (a speck, which framing would otherwise blow up into a blob), or when the image's contrast is
under `MIN_CONTRAST` (10% of full scale; a blank page). Callers should skip ranking for such glyphs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .base import GLYPH_SIZE, MIN_INK_PIXELS, Glyph, GlyphError, blank_glyph
from .decode import ImageSource, image_channels
from .framing import FRAME_EXTENT_RANGE, WIDTH_RANGE, framing
from .pen import PEN_RADIUS, PEN_WIDTH, paint
from .thinning import dilate, max_pool, skeleton_segments, stroke_width, thin

MIN_INK_EXTENT = 4.0
MIN_CONTRAST = 0.1
WORK_PX = 3  # working pixels per glyph pixel when thinning to centre lines
# The smallest ink extent of an image that is not an Omniglot drawing: 0.55 of the frame, as font import frames
# a letter (`engine.fonts.render.INK_FILL`); a letter printed small in its picture is brought up to it.
FILL_EXTENT = 58.0
# What an Omniglot drawing is (`looks_like_omniglot`): strokes of Omniglot's pen (99.5% of its images measure
# 3.0-8.0 px by `stroke_width`) and ink at least Omniglot's smallest framing (its 2.5th percentile, 38 px).
OMNIGLOT_LOOK_WIDTH = (3.0, 8.0)
OMNIGLOT_LOOK_EXTENT = (FRAME_EXTENT_RANGE[0], float(GLYPH_SIZE))


@dataclass(frozen=True)
class Normalisation:
    """How `glyph_from_image` brings an image to Omniglot's look (the defaults are the shipped rule).

    `keep_omniglot`: an image that already is an Omniglot drawing (see `looks_like_omniglot`) is taken exactly
    as it is. `extent`: the range (glyph px) the ink's longer side of every other image is clamped into, from
    its own scale once the whole image is fitted into the frame; Omniglot's 2.5th-97.5th percentiles, 38-91 px,
    keep the image's own framing where Omniglot could have drawn it; (58, 58) frames every image alike.
    `redraw`: every other image is thinned to its centre lines and redrawn with Omniglot's pen; False redraws
    only strokes outside Omniglot's width range (`WIDTH_RANGE`) and resamples the others.
    """

    keep_omniglot: bool = True
    extent: tuple[float, float] = (FILL_EXTENT, FRAME_EXTENT_RANGE[1])
    redraw: bool = True


DEFAULT_NORMALISATION = Normalisation()


def _ink_map(lum: np.ndarray, alpha: np.ndarray | None) -> np.ndarray | None:
    """Return soft ink (float32, 1 = ink) with the background found and removed, or None for a blank image."""
    if alpha is not None and float(alpha.min()) < 1.0:
        opaque = lum[alpha >= 0.5]
        # Transparent parts become the opposite of what is drawn, so dark ink goes on white and light on black.
        backdrop = 1.0 if (opaque.size and float(np.median(opaque)) < 0.5) else 0.0
        lum = alpha * lum + (1.0 - alpha) * backdrop
    h, w = lum.shape
    band = max(1, round(0.02 * min(h, w)))
    border = np.concatenate([lum[:band].ravel(), lum[-band:].ravel(), lum[:, :band].ravel(), lum[:, -band:].ravel()])
    # The border is mostly background even for tight crops; its median is the background colour.
    bg = float(np.median(border))
    dark = np.clip(bg - lum - MIN_CONTRAST, 0, None).sum(dtype=np.float64)
    light = np.clip(lum - bg - MIN_CONTRAST, 0, None).sum(dtype=np.float64)
    if dark == 0 and light == 0:
        return None
    dev = (bg - lum) if dark >= light else (lum - bg)
    strong = dev[dev > MIN_CONTRAST]
    # Full ink = the ink's own strength (a 99th percentile, not the max, so a stray pixel cannot set it).
    full = float(np.percentile(strong, 99))
    return np.clip(dev / full, 0.0, 1.0).astype(np.float32)


def _resample(ink: np.ndarray, scale: float, src_c: tuple[float, float], dst_c: tuple[float, float]) -> np.ndarray:
    """Return (105, 105) ink of `ink` mapped by x' = (x - src_c) * scale + dst_c, area-averaged."""
    h, w = ink.shape
    out = np.zeros((GLYPH_SIZE, GLYPH_SIZE), np.float32)
    # The output window the image lands on, and the source box that maps onto it exactly.
    u0 = max(0, math.floor((0 - src_c[0]) * scale + dst_c[0]))
    u1 = min(GLYPH_SIZE, math.ceil((w - src_c[0]) * scale + dst_c[0]))
    v0 = max(0, math.floor((0 - src_c[1]) * scale + dst_c[1]))
    v1 = min(GLYPH_SIZE, math.ceil((h - src_c[1]) * scale + dst_c[1]))
    if u1 <= u0 or v1 <= v0:
        return out
    pad = int(math.ceil(1.0 / scale)) + 2
    padded = np.pad(ink, pad)
    box = ((u0 - dst_c[0]) / scale + src_c[0] + pad, (v0 - dst_c[1]) / scale + src_c[1] + pad,
           (u1 - dst_c[0]) / scale + src_c[0] + pad, (v1 - dst_c[1]) / scale + src_c[1] + pad)
    box = (max(box[0], 0.0), max(box[1], 0.0), min(box[2], padded.shape[1]), min(box[3], padded.shape[0]))
    # Area averaging when shrinking keeps a thin line's ink (as grey) instead of skipping it; bilinear when growing.
    method = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    part = Image.fromarray(padded, mode="F").resize((u1 - u0, v1 - v0), method, box=box)
    out[v0:v1, u0:u1] = np.asarray(part)
    return out


def looks_like_omniglot(lum: np.ndarray, alpha: np.ndarray | None = None) -> bool:
    """Return True when an image already is an Omniglot drawing in what it is, not only in its size.

    That is: 105x105, opaque, two levels (ink black on a white background), strokes as wide as Omniglot's pen
    draws them (`OMNIGLOT_LOOK_WIDTH`) and ink spanning at least Omniglot's smallest framing
    (`OMNIGLOT_LOOK_EXTENT`). 96.8% of Omniglot's images (2,000 random background images) and the glyphs Glyphs
    saves pass; a 105-px drawing with 2-px or 12-px lines, or one letter small in its box, does not.
    """
    if lum.shape != (GLYPH_SIZE, GLYPH_SIZE) or (alpha is not None and float(alpha.min()) < 1.0):
        return False
    if not np.isin(lum, (0.0, 1.0)).all() or float(np.median(lum)) != 1.0:
        return False
    mask = lum < 0.5
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return False
    extent = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    (lo, hi), (wlo, whi) = OMNIGLOT_LOOK_EXTENT, OMNIGLOT_LOOK_WIDTH
    return bool(lo <= extent <= hi and wlo <= stroke_width(mask) <= whi)


def glyph_from_image(source: ImageSource, normalisation: Normalisation = DEFAULT_NORMALISATION) -> Glyph:
    """Return the glyph the model gets (binary, 105x105, 1 = ink, Omniglot's framing and pen) of any image.

    The one normalisation of every image that is not known to be an Omniglot drawing: files, drops, pasted
    images, imports, fonts and glyphs cut out of scans. `source` is a path, encoded bytes (PNG, JPEG, BMP,
    GIF, WebP or TIFF; first frame), a PIL image or a numpy array (H, W) or (H, W, 1|2|3|4) of bool, integers
    (any width) or floats (0..1, or 0..255). Any size up to `decode.MAX_DECODE_PIXELS` (larger JPEGs are
    decoded reduced), grayscale or colour, with or without alpha, dark ink on light or light ink on dark.
    An image that already is an Omniglot drawing (`looks_like_omniglot`) comes back exactly as it is; see the
    module docstring for the other steps. Returns `no_ink=True` (pixels blank, or the unframed speck) for a
    blank image or a speck. Raises `GlyphError` (a ValueError) naming the source when it cannot be read, is
    not a raster image, is too large or has an unsupported shape or type.
    """
    lum, alpha, _name = image_channels(source)
    if normalisation.keep_omniglot and looks_like_omniglot(lum, alpha):
        return _as_is(lum, None)
    ink = _ink_map(lum, alpha)
    if ink is None:
        return blank_glyph()
    mask = ink >= 0.5
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return blank_glyph()
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    h, w = ink.shape
    # Natural scale: the whole image fitted into the 105-px square (centred), like a drawing on the canvas.
    s0 = GLYPH_SIZE / max(h, w)
    nat_c = (GLYPH_SIZE / 2 - w * s0 / 2, GLYPH_SIZE / 2 - h * s0 / 2)  # where source (0, 0) lands

    m = 2  # a little context around the ink box, for resampling and for the width estimate's boundary
    cy0, cy1, cx0, cx1 = max(0, y0 - m), min(h, y1 + m), max(0, x0 - m), min(w, x1 + m)
    crop_ink, crop_mask = ink[cy0:cy1, cx0:cx1], mask[cy0:cy1, cx0:cx1]
    width = stroke_width(crop_mask)

    def to_glyph(x: float, y: float) -> tuple[float, float]:
        return x * s0 + nat_c[0], y * s0 + nat_c[1]

    gx0, gy0 = to_glyph(x0, y0)
    gx1, gy1 = to_glyph(x1, y1)
    if max(gx1 - gx0, gy1 - gy0) < MIN_INK_EXTENT:
        pixels = (_resample(crop_ink, s0, (0.0, 0.0), to_glyph(cx0, cy0)) >= 0.5).astype(np.float32)
        return Glyph(pixels, no_ink=True)
    # The ink box minus one stroke width is the pen path; framing is decided for it drawn with Omniglot's pen.
    inset = min(width * s0, gx1 - gx0, gy1 - gy0) / 2
    scale_rel, (pcx, pcy), (tcx, tcy) = framing((gx0 + inset, gy0 + inset, gx1 - inset, gy1 - inset), PEN_WIDTH,
                                                normalisation.extent)
    scale = s0 * scale_rel
    # Source point at glyph centre (pcx, pcy) before framing, in crop coordinates.
    src_c = ((pcx - nat_c[0]) / s0 - cx0, (pcy - nat_c[1]) / s0 - cy0)
    if not normalisation.redraw and WIDTH_RANGE[0] <= width * scale <= WIDTH_RANGE[1]:
        pixels = (_resample(crop_ink, scale, src_c, (tcx, tcy)) >= 0.5).astype(np.float32)
    else:
        pixels = _redraw(crop_ink, scale, src_c, (tcx, tcy))
    no_ink = np.count_nonzero(pixels >= 0.5) < MIN_INK_PIXELS
    return Glyph(pixels, no_ink=bool(no_ink))


def _redraw(ink: np.ndarray, scale: float, src_c: tuple[float, float], dst_c: tuple[float, float]) -> np.ndarray:
    """Return (105, 105) ink of the centre lines of `ink` (soft, 1 = ink), mapped as `_resample` maps it and
    drawn with Omniglot's pen.

    The lines are found at ~`WORK_PX` working pixels per glyph pixel: a large image is shrunk by max-pooling
    (thin lines stay connected), a small one enlarged (bilinear, so its lines keep their shape). The mask is
    grown by one working pixel before thinning, because Zhang-Suen erases two-pixel-wide diagonal lines
    entirely; one working pixel moves no centre line by more than a third of a glyph pixel.
    """
    k = max(1, int(1.0 / (WORK_PX * scale)))
    up = max(1, math.ceil(WORK_PX * scale))
    if up > 1:
        h, w = ink.shape
        grown = Image.fromarray(ink, mode="F").resize((w * up, h * up), Image.Resampling.BILINEAR)
        work, step = np.asarray(grown) >= 0.5, 1.0 / up
    else:
        work, step = max_pool(ink >= 0.5, k), float(k)
    skel = thin(dilate(np.pad(work, 1), 1))
    seg = (skeleton_segments(skel) - 1.0) * step
    seg = (seg - np.array([*src_c, *src_c])) * scale + np.array([*dst_c, *dst_c])
    return paint(seg, PEN_RADIUS, antialias=False)


def _as_is(lum: np.ndarray, alpha: np.ndarray | None) -> Glyph:
    """Return a 105x105 image (ink dark on light) as the glyph ``1 - image``, alpha composited on white."""
    if alpha is not None:
        lum = alpha * lum + (1.0 - alpha)
    pixels = np.clip(1.0 - lum, 0.0, 1.0)
    return Glyph(pixels, no_ink=bool(np.count_nonzero(pixels >= 0.5) < MIN_INK_PIXELS))


def glyph_from_omniglot_png(source: ImageSource) -> Glyph:
    """Return an Omniglot image (105x105, ink dark on light) as a glyph exactly as it is: ``1 - png``, no framing.

    Raises `GlyphError` if the source cannot be read or is not 105x105.
    """
    lum, alpha, name = image_channels(source, shrink=False)
    if lum.shape != (GLYPH_SIZE, GLYPH_SIZE):
        raise GlyphError(f"{name}: an Omniglot image is {GLYPH_SIZE}x{GLYPH_SIZE}, got {lum.shape[1]}x{lum.shape[0]}")
    return _as_is(lum, alpha)
