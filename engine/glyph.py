"""Glyphs: what a person drew, or any image, normalised to look like an Omniglot training image.

A glyph's pixels are a float32 (105, 105) array in [0, 1] with 1.0 = ink and 0.0 = background; an Omniglot
PNG (1-bit, ink black = 0 on white = 1) as a glyph is ``1 - png``. Both entry points return binary pixels
(0.0 or 1.0, unless `render_strokes(antialias=True)` is asked for) because every training image is 1-bit.

Stroke rendering (`render_strokes`), calibrated on real data
-------------------------------------------------------------
Omniglot's images were made from its pen trajectories, so the renderer was fitted to reproduce them:
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

Anti-aliasing: the training images are 1-bit with hard edges, so the renderer thresholds the exact pen
coverage (centre within r) and outputs 0/1 by default; soft edges would give the network grey levels it
never saw in training. `antialias=True` gives coverage-like soft edges for display only.

Pressure is ignored: Omniglot's pen had a constant width, and a width the model never saw would only move
the input away from the training data.

Images (`glyph_from_image`)
---------------------------
Decoded to luminance (alpha composited on a backdrop that contrasts with the opaque pixels), the background
taken as the median colour of the image's border (so light ink on dark is inverted), then ink framing and
stroke width are brought into Omniglot's range, measured over 3,000 random images_background images
(bounding box of the ink, pixel-edge coordinates, 105-px frame):

    longer bbox side: median 68 px, 2.5th-97.5th percentile 38-91 px
    bbox centre: x median 51.5 (2.5th-97.5th 39.5-62), y median 51 (40-61)
    stroke width estimate 2*area/(pi/4 * pixel-edge perimeter): median 5.5 px, 99% within 3.0-7.1 px
    (the lowest, 3.18, are dots-only Braille drawings; the 99th percentile is 7.1)

An input is first fitted into the 105-px square as a whole (its longer side becomes 105 px, centred); then
its scale is clamped so that the ink's longer side lies within 38-91 px, and its centre is clamped into the
box above. An input already inside those ranges is thus left exactly where it is, not pulled to a mean
framing it never had: 86% of real Omniglot images come out pixel-identical, and the others move or rescale
a little (mean IoU with the input 0.940 over 3,000 images; each range alone holds about 95% of them).

If the stroke width at the chosen scale is outside 3.0-7.1 px (a thin pen in a large photo, a marker, a
tiny image), the ink is thinned to its centre lines (at ~3x the glyph resolution, shrunk by max-pooling so
thin lines stay connected) and redrawn with the calibrated pen, so thin lines cannot vanish and thick ones
do not turn into blobs (a filled shape becomes its centre line or a dot, as Omniglot has no filled
shapes); otherwise the ink is resampled (area averaging when shrinking, bilinear when growing) and
thresholded at half coverage. Phone photos are turned upright by their EXIF orientation. Photos with
uneven lighting or shadows are not levelled: the background is one colour, taken from the border.

Near-empty input
----------------
``no_ink`` is True when the result has fewer than `MIN_INK_PIXELS` (10) ink pixels - about half of the
smallest mark the pen makes, a dot of about 19-21 px - or, for images, when the ink's longer side is under
`MIN_INK_EXTENT` (4 px, less than one pen width) once the whole image is fitted into 105 px (a speck, which
framing would otherwise blow up into a blob), or when the image's contrast is under `MIN_CONTRAST` (10% of
full scale; a blank page). Callers should skip ranking for such glyphs.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps

from .strokes import Stroke
from .units import GLYPH_SIZE, OMNIGLOT_STROKE_AREA, PEN_RADIUS

__all__ = [
    "GLYPH_SIZE", "PEN_RADIUS", "STROKE_OFFSET", "MIN_INK_PIXELS", "MIN_INK_EXTENT", "MIN_CONTRAST",
    "Glyph", "GlyphError", "render_strokes", "glyph_from_image", "glyph_from_omniglot_png",
]

# Image files the app and the gallery importer read (anything else PIL opens works when named directly).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm",
                            ".pbm", ".pnm"})
STROKE_SUFFIX = ".txt"  # Omniglot's pen-stroke files, drawn by `render_strokes` like the canvas

# Calibrated with PEN_RADIUS against Omniglot's stroke/image pairs (see the module docstring and
# benchmarks/stroke_renderer_fit.py).
STROKE_OFFSET = (0.75, 0.4375)

# Omniglot's ink framing over images_background (2.5th-97.5th percentiles, 105-px frame, pixel-edge coordinates).
FRAME_EXTENT_RANGE = (38.0, 91.0)
FRAME_CENTER_X_RANGE = (39.5, 62.0)
FRAME_CENTER_Y_RANGE = (40.0, 61.0)
FRAME_MARGIN = 0.0  # Omniglot's own ink touches the edge at times; only keep it inside
# Omniglot's stroke width by `_stroke_width` (holds 99% of the images): inside it an image's strokes are kept.
WIDTH_RANGE = (3.0, 7.1)

MIN_INK_PIXELS = 10
MIN_INK_EXTENT = 4.0
MIN_CONTRAST = 0.1

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, Image.Image, np.ndarray]


class GlyphError(ValueError):
    """An image that cannot be read or understood (unreadable, corrupt, unsupported shape); names the source."""


@dataclass(frozen=True, eq=False)
class Glyph:
    """A normalised glyph: `pixels` float32 (105, 105) in [0, 1], 1.0 = ink; `no_ink` means "nothing to rank".

    The pixels are copied and made read-only. Equality is identity (compare pixels with `np.array_equal`).
    """

    pixels: np.ndarray
    no_ink: bool

    def __post_init__(self) -> None:
        px = np.array(self.pixels, dtype=np.float32)
        if px.shape != (GLYPH_SIZE, GLYPH_SIZE):
            raise ValueError(f"Glyph pixels must be ({GLYPH_SIZE}, {GLYPH_SIZE}), got {px.shape}")
        if not np.all(np.isfinite(px)) or px.min(initial=0.0) < 0.0 or px.max(initial=0.0) > 1.0:
            raise ValueError("Glyph pixels must be finite and within [0, 1]")
        px.flags.writeable = False
        object.__setattr__(self, "pixels", px)
        object.__setattr__(self, "no_ink", bool(self.no_ink))

    @property
    def ink_fraction(self) -> float:
        """Return the mean ink over the glyph (0.0 = blank; Omniglot's images average about 0.08)."""
        return float(self.pixels.mean())

    @property
    def ink_pixels(self) -> int:
        """Return the number of pixels that are at least half ink."""
        return int(np.count_nonzero(self.pixels >= 0.5))

    def to_image(self) -> Image.Image:
        """Return the glyph as an 8-bit grayscale PIL image in Omniglot's colours (ink black on white)."""
        return Image.fromarray(np.round((1.0 - self.pixels) * 255).astype(np.uint8), mode="L")


def _blank_glyph() -> Glyph:
    return Glyph(np.zeros((GLYPH_SIZE, GLYPH_SIZE), np.float32), no_ink=True)


# ----------------------------------------------------------------------------------------------- rendering


def _clip_segments(seg: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Return the parts of segments (m, 4: x0 y0 x1 y1) inside the square [lo, hi]^2 (Liang-Barsky)."""
    p0, d = seg[:, :2], seg[:, 2:] - seg[:, :2]
    t0, t1 = np.zeros(len(seg)), np.ones(len(seg))
    keep = np.ones(len(seg), bool)
    for axis in (0, 1):
        for p, q in ((-d[:, axis], p0[:, axis] - lo), (d[:, axis], hi - p0[:, axis])):
            parallel = p == 0
            keep &= ~(parallel & (q < 0))
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(parallel, 0.0, q / np.where(parallel, 1.0, p))
            t0 = np.where(~parallel & (p < 0), np.maximum(t0, r), t0)
            t1 = np.where(~parallel & (p > 0), np.minimum(t1, r), t1)
    keep &= t0 <= t1
    out = np.concatenate([p0 + t0[:, None] * d, p0 + t1[:, None] * d], axis=1)
    return out[keep]


def _distance_field(seg: np.ndarray, size: int, reach: float) -> np.ndarray:
    """Return each pixel centre's distance to the nearest segment, as (size, size) float32; inf beyond `reach`.

    Segments are in continuous pixel coordinates (pixel j spans [j, j+1)); a zero-length segment is a point.
    """
    dist = np.full(size * size, np.inf, np.float32)
    seg = _clip_segments(np.asarray(seg, np.float64).reshape(-1, 4), -reach - 1.0, size + reach + 1.0)
    if len(seg) == 0:
        return dist.reshape(size, size)
    # Cut segments into pieces of length <= 1 so that every piece touches a small fixed window of pixels;
    # that keeps the work proportional to the ink, vectorised, and exact.
    length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    n_pieces = np.maximum(1, np.ceil(length)).astype(np.int64)
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
        inside = (cols >= 0) & (cols < size) & (rows >= 0) & (rows < size) & (d <= reach)
        np.minimum.at(dist, (rows * size + cols)[inside], d[inside].astype(np.float32))
    return dist.reshape(size, size)


def _paint(seg: np.ndarray, radius: float, antialias: bool) -> np.ndarray:
    """Return (105, 105) float32 ink of a round pen of `radius` swept along the segments (pixel coordinates)."""
    dist = _distance_field(seg, GLYPH_SIZE, radius + 1.0)
    if antialias:
        # Distance-based coverage: 1 inside, 0 outside, linear over the one-pixel band across the edge.
        return np.clip(radius + 0.5 - dist, 0.0, 1.0).astype(np.float32)
    return (dist <= radius).astype(np.float32)


def _stroke_segments(strokes: Sequence[Stroke]) -> np.ndarray:
    """Return all strokes' consecutive point pairs as (m, 4) segments; a one-point stroke is a zero-length one."""
    parts = []
    for s in strokes:
        p = np.asarray(s.points if isinstance(s, Stroke) else s, np.float64).reshape(-1, 2)
        if len(p) == 0:
            continue
        if len(p) == 1:
            p = np.concatenate([p, p])
        parts.append(np.concatenate([p[:-1], p[1:]], axis=1))
    return np.concatenate(parts) if parts else np.zeros((0, 4))


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
    Pressure and timing are ignored (Omniglot's pen had a constant width).
    """
    if not (isinstance(area, (int, float)) and math.isfinite(area) and area > 0):
        raise ValueError(f"area must be a positive number, got {area!r}")
    # Points absurdly far off the area are pulled in so the clipping maths cannot overflow (this could bend a
    # segment that reaches 1e12 px away; no real drawing does).
    seg = np.clip(_stroke_segments(list(strokes)) * (GLYPH_SIZE / float(area)), -1e12, 1e12)
    if len(seg) == 0:
        return _blank_glyph()
    seg = seg + np.array([*STROKE_OFFSET, *STROKE_OFFSET])
    if frame:
        # Path extent in glyph px; the ink adds one pen width to it.
        x0, x1 = min(seg[:, 0].min(), seg[:, 2].min()), max(seg[:, 0].max(), seg[:, 2].max())
        y0, y1 = min(seg[:, 1].min(), seg[:, 3].min()), max(seg[:, 1].max(), seg[:, 3].max())
        scale, (cx, cy), (tx, ty) = _framing((x0, y0, x1, y1), 2 * radius)
        seg = (seg - np.array([cx, cy, cx, cy])) * scale + np.array([tx, ty, tx, ty])
    pixels = _paint(seg, radius, antialias)
    return Glyph(pixels, no_ink=bool(np.count_nonzero(pixels >= 0.5) < MIN_INK_PIXELS))


def _framing(path_box: tuple[float, float, float, float], pen: float) -> tuple[float, tuple[float, float],
                                                                                 tuple[float, float]]:
    """Return (scale, centre, new centre) bringing a drawing's ink framing into Omniglot's range.

    `path_box` is the (x0, y0, x1, y1) extent of the pen path in glyph pixels at its natural scale and `pen`
    the width of the pen that will draw it, so the ink box is the path box grown by `pen`. The scale is 1
    and the centre unchanged when the ink already lies within Omniglot's 2.5th-97.5th percentile framing.
    """
    x0, y0, x1, y1 = path_box
    path_ext = max(x1 - x0, y1 - y0)
    lo, hi = FRAME_EXTENT_RANGE
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


# ------------------------------------------------------------------------------------------ image decoding


def _as_float_channels(arr: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (luminance, alpha or None), float32 in [0, 1], from an (H, W) or (H, W, 1|2|3|4) array."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
        raise GlyphError(f"{source}: expected an (H, W) or (H, W, 1-4 channels) image, got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise GlyphError(f"{source}: empty image of shape {arr.shape}")
    if arr.dtype == bool:
        data = arr.astype(np.float32)
    elif arr.dtype == np.uint8:
        data = arr.astype(np.float32)
        data *= np.float32(1.0 / 255.0)  # in place: large photos are large
    elif np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        # Wider integers (16-bit PNGs, PIL's 32-bit "I" mode) do not always use their whole range: 12-bit
        # sensor data, or 8-bit values in a 16-bit container. Scale to the image's own maximum (at least 255),
        # so only the blank-page contrast test depends on it; negative values are stretched.
        data = arr.astype(np.float64)
        data = data / max(hi, 255) if lo >= 0 else (data - lo) / max(hi - lo, 1)
        data = data.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.floating):
        data = arr.astype(np.float32)
        if not np.all(np.isfinite(data)):
            raise GlyphError(f"{source}: the image contains NaN or infinite values")
        lo, hi = float(data.min()), float(data.max())
        if lo < 0.0 or hi > 1.0:
            # Not 0..1 intensities: 0..255 floats are common; anything else is stretched to 0..1.
            data = data / 255.0 if (lo >= 0.0 and hi <= 255.0) else (data - lo) / max(hi - lo, 1e-12)
    else:
        raise GlyphError(f"{source}: unsupported pixel type {arr.dtype}")
    if data.ndim == 2:
        return data, None
    channels = data.shape[2]
    alpha = np.clip(data[:, :, -1], 0, 1) if channels in (2, 4) else None
    if channels >= 3:
        lum = 0.299 * data[:, :, 0] + 0.587 * data[:, :, 1] + 0.114 * data[:, :, 2]  # ITU-R 601, like PIL's "L"
    else:
        lum = data[:, :, 0]
    return lum.astype(np.float32), alpha


def _pil_to_array(im: Image.Image) -> np.ndarray:
    """Return a PIL image as a numpy array that `_as_float_channels` understands (first frame, alpha kept)."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(im).astype(np.uint16)
    if mode in ("I", "F", "1", "L", "LA"):
        if mode == "L" and "transparency" in im.info:
            return np.asarray(im.convert("LA"))
        return np.asarray(im)
    # Colour: PIL's own luminance conversion (ITU-R 601, in C) is much faster than numpy on a large photo.
    if mode in ("La", "RGBa"):  # premultiplied alpha: undo it first (PIL converts these only to LA/RGBA)
        return _pil_to_array(im.convert(mode.upper()))
    transparent = "A" in mode or "transparency" in im.info
    if transparent:
        return np.asarray(im.convert("RGBA").convert("LA"))
    if mode in ("RGB", "P", "CMYK", "YCbCr", "RGBX"):
        return np.asarray(im.convert("L"))
    return np.asarray(im.convert("RGB").convert("L"))  # LAB, HSV...: PIL converts those to "L" only via RGB


def _load(source: ImageSource) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Return (luminance, alpha or None, name for messages) of any supported image source."""
    if isinstance(source, np.ndarray):
        name = f"<array {source.shape} {source.dtype}>"
        lum, alpha = _as_float_channels(source, name)
        return lum, alpha, name
    if isinstance(source, Image.Image):
        name = f"<PIL image {source.mode} {source.size[0]}x{source.size[1]}>"
        im = source
    else:
        in_memory = isinstance(source, (bytes, bytearray, memoryview))
        if in_memory:
            name = f"<{len(source)} bytes>"
        elif isinstance(source, (str, os.PathLike)):
            name = str(Path(source))
        else:
            raise GlyphError(f"not an image source: {type(source).__name__} (give a path, bytes, PIL image or array)")
        try:
            # Reading the bytes first leaves no file handle open (PIL keeps one for multi-frame GIFs).
            data = bytes(source) if in_memory else Path(source).read_bytes()
            im = Image.open(io.BytesIO(data))
            im.load()  # decode now: Image.open is lazy, and truncated data only fails here
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
            raise GlyphError(f"{name}: cannot read an image from it ({err})") from err
    try:
        # Phone photos are stored sideways with an EXIF note on how to turn them; a character must be upright.
        # (exif_transpose drops the note, so an image turned already is not turned again.)
        im = ImageOps.exif_transpose(im)
    except (OSError, ValueError, KeyError, TypeError, SyntaxError):
        pass  # broken EXIF: use the pixels as stored
    try:
        arr = _pil_to_array(im)
    except (OSError, ValueError) as err:
        raise GlyphError(f"{name}: cannot decode the image ({err})") from err
    lum, alpha = _as_float_channels(arr, name)
    return lum, alpha, name


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


# ------------------------------------------------------------------------------------ measuring and thinning


def _stroke_width(mask: np.ndarray) -> float:
    """Return a stroke-width estimate of a binary mask: 2 * area / perimeter (perimeter with Crofton's pi/4)."""
    m = np.pad(mask, 1).astype(np.int8)
    edges = np.count_nonzero(np.diff(m, axis=0)) + np.count_nonzero(np.diff(m, axis=1))
    area = np.count_nonzero(mask)
    # Counting pixel edges overestimates an oblique boundary's length by |cos|+|sin|, 4/pi on average.
    return 2.0 * area / (edges * math.pi / 4) if edges else 0.0


def _thin(mask: np.ndarray) -> np.ndarray:
    """Return the one-pixel-wide centre lines of a binary mask (Zhang-Suen thinning, vectorised)."""
    img = np.pad(mask.astype(bool), 1)
    passes = 0
    while True:
        changed = False
        passes += 1
        for first in (True, False):
            p2, p3, p4 = img[:-2, 1:-1], img[:-2, 2:], img[1:-1, 2:]
            p5, p6, p7 = img[2:, 2:], img[2:, 1:-1], img[2:, :-2]
            p8, p9 = img[1:-1, :-2], img[:-2, :-2]
            ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
            count = sum(p.astype(np.uint8) for p in ring[:8])
            transitions = sum((~ring[i] & ring[i + 1]).astype(np.uint8) for i in range(8))
            if first:
                cond = ~(p2 & p4 & p6) & ~(p4 & p6 & p8)
            else:
                cond = ~(p2 & p4 & p8) & ~(p2 & p6 & p8)
            core = img[1:-1, 1:-1]
            remove = core & (count >= 2) & (count <= 6) & (transitions == 1) & cond
            if remove.any():
                core[remove] = False
                changed = True
        if not changed:
            break
    skel = img[1:-1, 1:-1]
    # Zhang-Suen erases some tiny blobs (a 2x2 square) entirely. Every pixel of a surviving stroke lies within
    # about twice the number of passes of its centre line, so ink farther than that from any line was such a
    # blob: keep it.
    return skel | (mask & ~_dilate(skel, 2 * passes + 2))


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    """Return a binary mask grown by `steps` pixels (8-neighbourhood)."""
    out = mask.copy()
    for _ in range(steps):
        p = np.pad(out, 1)
        out = (p[:-2, :-2] | p[:-2, 1:-1] | p[:-2, 2:] | p[1:-1, :-2] | p[1:-1, 1:-1] | p[1:-1, 2:]
               | p[2:, :-2] | p[2:, 1:-1] | p[2:, 2:])
    return out


def _max_pool(mask: np.ndarray, k: int) -> np.ndarray:
    """Return a binary mask shrunk by an integer factor, a block being ink if any of its pixels is (lines survive)."""
    if k <= 1:
        return mask
    h, w = mask.shape
    p = np.pad(mask, ((0, -h % k), (0, -w % k)))
    return p.reshape(p.shape[0] // k, k, p.shape[1] // k, k).any(axis=(1, 3))


def _skeleton_segments(skel: np.ndarray) -> np.ndarray:
    """Return segments (m, 4; pixel-centre coordinates) joining 8-adjacent skeleton pixels, plus dots."""
    rows, cols = np.nonzero(skel)
    segs = [np.stack([cols, rows, cols, rows], axis=1).astype(np.float64)]  # every pixel a dot: none is lost
    p = np.pad(skel, 1)
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        nb = p[1 + dr:1 + dr + skel.shape[0], 1 + dc:1 + dc + skel.shape[1]]
        r, c = np.nonzero(skel & nb)
        segs.append(np.stack([c, r, c + dc, r + dr], axis=1).astype(np.float64))
    return np.concatenate(segs) + 0.5


# ------------------------------------------------------------------------------------------- image -> glyph


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


def glyph_from_image(source: ImageSource) -> Glyph:
    """Return the normalised glyph (binary, 105x105, 1 = ink, Omniglot framing and stroke width) of an image.

    `source` is a path, encoded bytes (PNG, JPEG, BMP, GIF, WebP, ... anything PIL reads; first frame), a PIL
    image or a numpy array (H, W) or (H, W, 1|2|3|4) of bool, integers (any width) or floats (0..1, or 0..255).
    Any size, grayscale or colour, with or without alpha, dark ink on light or light ink on dark. See the
    module docstring for the steps. Returns `no_ink=True` (pixels blank, or the unframed speck) for a blank
    image or a speck. Raises `GlyphError` (a ValueError) naming the source when it cannot be read or has an
    unsupported shape or type.
    """
    lum, alpha, _name = _load(source)
    ink = _ink_map(lum, alpha)
    if ink is None:
        return _blank_glyph()
    mask = ink >= 0.5
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return _blank_glyph()
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    h, w = ink.shape
    # Natural scale: the whole image fitted into the 105-px square (centred), like a drawing on the canvas.
    s0 = GLYPH_SIZE / max(h, w)
    nat_c = (GLYPH_SIZE / 2 - w * s0 / 2, GLYPH_SIZE / 2 - h * s0 / 2)  # where source (0, 0) lands

    m = 2  # a little context around the ink box, for resampling and for the width estimate's boundary
    cy0, cy1, cx0, cx1 = max(0, y0 - m), min(h, y1 + m), max(0, x0 - m), min(w, x1 + m)
    crop_ink, crop_mask = ink[cy0:cy1, cx0:cx1], mask[cy0:cy1, cx0:cx1]
    width = _stroke_width(crop_mask)

    def to_glyph(x: float, y: float) -> tuple[float, float]:
        return x * s0 + nat_c[0], y * s0 + nat_c[1]

    gx0, gy0 = to_glyph(x0, y0)
    gx1, gy1 = to_glyph(x1, y1)
    if max(gx1 - gx0, gy1 - gy0) < MIN_INK_EXTENT:
        pixels = (_resample(crop_ink, s0, (0.0, 0.0), to_glyph(cx0, cy0)) >= 0.5).astype(np.float32)
        return Glyph(pixels, no_ink=True)
    # The ink box minus one stroke width is the pen path; framing is decided for it drawn with Omniglot's pen.
    inset = min(width * s0, gx1 - gx0, gy1 - gy0) / 2
    pen = 2 * PEN_RADIUS
    scale_rel, (pcx, pcy), (tcx, tcy) = _framing((gx0 + inset, gy0 + inset, gx1 - inset, gy1 - inset), pen)
    scale = s0 * scale_rel
    # Source point at glyph centre (pcx, pcy) before framing, in crop coordinates.
    src_c = ((pcx - nat_c[0]) / s0 - cx0, (pcy - nat_c[1]) / s0 - cy0)
    out_width = width * scale
    if WIDTH_RANGE[0] <= out_width <= WIDTH_RANGE[1]:
        pixels = (_resample(crop_ink, scale, src_c, (tcx, tcy)) >= 0.5).astype(np.float32)
    else:
        # Thin to centre lines at a resolution of ~3 working px per glyph px (max-pooling keeps thin lines),
        # then redraw them with the calibrated pen.
        k = max(1, int(1.0 / (3.0 * scale)))
        skel = _thin(_max_pool(crop_mask, k))
        seg = _skeleton_segments(skel) * k
        seg = (seg - np.array([*src_c, *src_c])) * scale + np.array([tcx, tcy, tcx, tcy])
        pixels = _paint(seg, PEN_RADIUS, antialias=False)
    no_ink = np.count_nonzero(pixels >= 0.5) < MIN_INK_PIXELS
    return Glyph(pixels, no_ink=bool(no_ink))


def glyph_from_omniglot_png(source: ImageSource) -> Glyph:
    """Return an Omniglot image (105x105, ink dark on light) as a glyph exactly as it is: ``1 - png``, no framing.

    Raises `GlyphError` if the source cannot be read or is not 105x105.
    """
    lum, alpha, name = _load(source)
    if lum.shape != (GLYPH_SIZE, GLYPH_SIZE):
        raise GlyphError(f"{name}: an Omniglot image is {GLYPH_SIZE}x{GLYPH_SIZE}, got {lum.shape[1]}x{lum.shape[0]}")
    if alpha is not None:
        lum = alpha * lum + (1.0 - alpha)
    pixels = np.clip(1.0 - lum, 0.0, 1.0)
    return Glyph(pixels, no_ink=bool(np.count_nonzero(pixels >= 0.5) < MIN_INK_PIXELS))
