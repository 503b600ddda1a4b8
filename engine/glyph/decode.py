"""Files to arrays: the one image decoder every reader of images goes through.

Only raster formats are read: PNG, JPEG, BMP, GIF, WebP and TIFF, recognised by their content (not their
name) before anything is decoded. Anything else is refused with a message saying so; in particular
PostScript/EPS named ``.png`` never reaches Pillow's EPS reader, which would run Ghostscript on it.

Size is bounded before decoding: an image of more than `MAX_DECODE_PIXELS` (or `MAX_DECODE_BYTES` of
decoded pixels) is refused from its header (a JPEG is decoded at 1/2 to 1/8 scale instead when that brings
it under the bound), so a 13,000 x 13,000 PNG costs milliseconds, not seconds and gigabytes. For a glyph
nothing finer than `WORKING_SIDE` pixels is needed (the glyph is 105 px), so `image_channels` shrinks
larger images by an integer factor (area average) before any numpy work.

Multi-frame files (GIF, TIFF, WebP) give their first frame.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from .base import GlyphError

# Pillow's names of the formats read. MPO is the multi-picture JPEG many phone cameras write: Pillow's JPEG
# reader opens it as "MPO", and its first picture is an ordinary JPEG.
RASTER_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
_READ_FORMATS = (*RASTER_FORMATS, "MPO")
FORMAT_NAMES = "PNG, JPEG, BMP, GIF, WebP or TIFF"
# Image files the app and the gallery importer pick up by name; their content must still be one of the above.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
STROKE_SUFFIX = ".txt"  # Omniglot's pen-stroke files, drawn by `render_strokes` like the canvas

# Largest image decoded at full size: 40 megapixels (a 600-dpi letter-size scan is 34), and at most 100 MB of
# Pillow's pixels (it keeps colour in 4 bytes a pixel: 25 megapixels), so a decode stays under a second and
# 200 MB. Larger JPEGs are decoded at a reduced scale instead; other formats are refused.
MAX_DECODE_PIXELS = 40_000_000
MAX_DECODE_BYTES = 100_000_000
# Longest side kept for glyph work; larger images are shrunk first by an integer factor (area average). At
# 3,000 px a character filling a tenth of the image still has 300 px, several times the glyph's resolution.
WORKING_SIDE = 3000

_EXIF_ORIENTATION = 0x0112
_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, Image.Image, np.ndarray]


class ImageSizeError(GlyphError):
    """An image whose size is not the one required; `size` is its (width, height)."""

    def __init__(self, message: str, size: tuple[int, int]):
        super().__init__(message)
        self.size = size


def source_name(source: object) -> str:
    """Return how messages name an image source: its path, or a short description of bytes/arrays/images."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    if isinstance(source, (str, os.PathLike)):
        return str(Path(source))
    if isinstance(source, np.ndarray):
        return f"<array {source.shape} {source.dtype}>"
    if isinstance(source, Image.Image):
        return f"<PIL image {source.mode} {source.size[0]}x{source.size[1]}>"
    return f"<{type(source).__name__}>"


def _what_it_is(data: bytes) -> str:
    """Return a few words naming a refused file's format when it is a well-known non-raster one."""
    head = data[:1024].lstrip()
    if head.startswith(b"%!PS") or data[:4] == b"\xc5\xd0\xd3\xc6":
        return " (it is PostScript/EPS, which is never opened: reading it would run Ghostscript)"
    if head.startswith(b"%PDF"):
        return " (it is a PDF document)"
    if head[:5].lower() in (b"<?xml", b"<svg ") or b"<svg" in head[:256].lower():
        return " (it is an SVG drawing; export it as PNG)"
    return ""


def open_image(source: str | os.PathLike | bytes | bytearray | memoryview, label: str | None = None, *,
               size: tuple[int, int] | None = None, max_pixels: int | None = None,
               reduce_to: int | None = None) -> Image.Image:
    """Return the decoded first frame of an image file (path or bytes) as a PIL image; the one decoder.

    The content must be one of `RASTER_FORMATS` whatever the file is called. `size` (width, height), when
    given, is required exactly (`ImageSizeError` otherwise), checked before decoding. An image of more than
    `max_pixels` (default: `MAX_DECODE_PIXELS`, and `MAX_DECODE_BYTES` of Pillow's pixels) is refused before
    decoding, unless it is a JPEG that can be decoded at a reduced scale; with `reduce_to`, a JPEG larger
    than that on its longer side is decoded reduced (never below it). Raises GlyphError naming `label`
    (default: the path) for an unreadable, refused or oversized file.
    """
    name = label or source_name(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        try:
            # Reading the bytes first leaves no file handle open (PIL keeps one for multi-frame GIFs).
            data = Path(source).read_bytes()
        except OSError as err:
            raise GlyphError(f"{name}: cannot read an image from it ({err.strerror or err})") from err
    else:
        raise GlyphError(f"not an image source: {type(source).__name__} (give a path, bytes, PIL image or array)")
    try:
        # `formats` limits which of Pillow's readers may even look at the file: none of the others runs.
        with warnings.catch_warnings():  # Pillow warns of pixel counts this function bounds itself, below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=RASTER_FORMATS)
    except UnidentifiedImageError as err:
        raise GlyphError(f"{name}: not an image Glyphs reads (it reads {FORMAT_NAMES}){_what_it_is(data)}") from err
    except Image.DecompressionBombError as err:
        raise GlyphError(f"{name}: the image is too large to read ({err})") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise GlyphError(f"{name}: cannot read an image from it ({err})") from err
    if im.format not in _READ_FORMATS:  # not reachable with `formats` above; a second lock on the same door
        raise GlyphError(f"{name}: {im.format} images are not read (Glyphs reads {FORMAT_NAMES})")
    w, h = im.size
    if size is not None and (w, h) != tuple(size):
        raise ImageSizeError(f"{name}: the image is {w}x{h}, expected {size[0]}x{size[1]}", (w, h))
    if max_pixels is None:
        per_pixel = 1 if im.mode in ("1", "L", "P") else 2 if im.mode.startswith("I;16") else 4
        max_pixels = min(MAX_DECODE_PIXELS, MAX_DECODE_BYTES // per_pixel)
    if im.format in ("JPEG", "MPO"):
        # JPEG decodes at 1/2, 1/4 or 1/8 scale for little more than the cost of the smaller image: the least
        # reduction under the bound, or the most that keeps `reduce_to`.
        fits = [d for d in (1, 2, 4, 8) if math.ceil(w / d) * math.ceil(h / d) <= max_pixels]
        keeps = [d for d in (1, 2, 4, 8) if reduce_to and math.ceil(max(w, h) / d) >= reduce_to]
        d = max(fits[0] if fits else 8, keeps[-1] if keeps else 1)
        if d > 1:
            im.draft(None, (math.ceil(w / d), math.ceil(h / d)))
    if im.size[0] * im.size[1] > max_pixels:
        raise GlyphError(f"{name}: the image is {w:,}x{h:,} pixels ({w * h / 1e6:.0f} megapixels); Glyphs reads "
                         f"images of up to {max_pixels / 1e6:g} megapixels: scale it down first")
    try:
        im.load()  # decode now: Image.open is lazy, and truncated data only fails here
    except Image.DecompressionBombError as err:
        raise GlyphError(f"{name}: the image is too large to read ({err})") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise GlyphError(f"{name}: cannot read an image from it ({err})") from err
    return im


def read_gray(source: str | os.PathLike | bytes, label: str | None = None,
              size: tuple[int, int] | None = None) -> np.ndarray:
    """Return an image file's 8-bit gray levels (H, W) uint8 as stored (PIL's "L"), no framing or resizing.

    `size` (width, height) is required exactly when given (`ImageSizeError`). Raises GlyphError as
    `open_image` does.
    """
    im = open_image(source, label, size=size)
    try:
        return np.asarray(im.convert("L"))
    except (OSError, ValueError) as err:
        raise GlyphError(f"{label or source_name(source)}: cannot decode the image ({err})") from err


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


def _luminance_image(im: Image.Image) -> Image.Image:
    """Return a PIL image as luminance (with alpha when it has any) in a mode numpy reads (first frame).

    Colour goes through PIL's own conversion (ITU-R 601, in C), much faster than numpy on a large photo.
    """
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F", "1", "LA"):
        return im
    if mode == "L":
        return im.convert("LA") if "transparency" in im.info else im
    if mode in ("La", "RGBa"):  # premultiplied alpha: undo it first (PIL converts these only to LA/RGBA)
        return _luminance_image(im.convert(mode.upper()))
    if "A" in mode or "transparency" in im.info:
        return im.convert("RGBA").convert("LA")
    if mode in ("RGB", "P", "CMYK", "YCbCr", "RGBX"):
        return im.convert("L")
    return im.convert("RGB").convert("L")  # LAB, HSV...: PIL converts those to "L" only via RGB


def _shrunk(im: Image.Image, max_side: int | None) -> Image.Image:
    """Return a luminance image shrunk by the smallest integer factor that brings its longer side to `max_side`."""
    factor = math.ceil(max(im.size) / max_side) if max_side else 1
    if factor <= 1:
        return im
    if im.mode == "1":
        im = im.convert("L")
    elif im.mode.startswith("I;16"):
        im = im.convert("I")  # PIL's reduce does not take 16-bit modes; "I" holds the same values
    return im.reduce(factor)


def _orientation(im: Image.Image) -> int:
    """Return an image's EXIF orientation (1 = upright), 1 when it has none or a broken one."""
    try:
        return int(im.getexif().get(_EXIF_ORIENTATION, 1))
    except (OSError, ValueError, KeyError, TypeError, SyntaxError):
        return 1  # broken EXIF: use the pixels as stored


def image_channels(source: ImageSource, shrink: bool = True) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Return (luminance, alpha or None, name for messages) of any image source, float32 in [0, 1].

    `source` is a path or encoded bytes (read by `open_image`), a PIL image or a numpy array (see
    `_as_float_channels`). With `shrink`, images (not arrays) longer than `WORKING_SIDE` are shrunk first;
    phone photos stored sideways are turned upright by their EXIF orientation. Raises GlyphError naming
    the source.
    """
    name = source_name(source)
    max_side = WORKING_SIDE if shrink else None
    if isinstance(source, np.ndarray):
        lum, alpha = _as_float_channels(source, name)
        return lum, alpha, name
    if isinstance(source, Image.Image):
        if source.format is not None and source.format not in _READ_FORMATS:
            raise GlyphError(f"{name}: {source.format} images are not read (Glyphs reads {FORMAT_NAMES})")
        im = source
    else:
        im = open_image(source, name, reduce_to=max_side)
    turn = _TRANSPOSE_FOR_ORIENTATION.get(_orientation(im))
    try:
        im = _shrunk(_luminance_image(im), max_side)
        # A character must be upright; turning the luminance equals turning the image (and costs less).
        if turn is not None:
            im = im.transpose(turn)
        arr = np.asarray(im).astype(np.uint16) if im.mode.startswith("I;16") else np.asarray(im)
    except (OSError, ValueError) as err:
        raise GlyphError(f"{name}: cannot decode the image ({err})") from err
    lum, alpha = _as_float_channels(arr, name)
    return lum, alpha, name
