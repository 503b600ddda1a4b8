"""A page's pixels and ink: decoded like any image, its ink found with the single-image ink map.

The page is decoded by the one image decoder (`engine.glyph.decode.image_channels`), which also bounds it:
at most 40 megapixels are decoded, and a page longer than `decode.WORKING_SIDE` (3,000 px) is shrunk by an
integer factor before any work, so a 40-megapixel scan is segmented at about 6 megapixels (a glyph of a
600-dpi scan keeps ~40 px, more than enough to frame it at 105). Boxes are reported in the original
image's pixels all the same (`PageImage.to_original`).
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..glyph import GlyphError, ImageSource
from ..glyph.decode import RASTER_FORMATS, WORKING_SIDE, image_channels, source_name
from ..glyph.normalise import _ink_map  # the ink map every single image is read with (one rule, one place)

_EXIF_ORIENTATION = 0x0112
_SIDEWAYS = (5, 6, 7, 8)  # EXIF orientations that swap width and height


@dataclass
class PageImage:
    """A decoded page: soft ink (float32, 1 = ink; None for a blank page) at the working size, and its sizes."""

    name: str
    ink: np.ndarray | None
    working_size: tuple[int, int]   # (width, height) of `ink`
    original_size: tuple[int, int]  # (width, height) of the image as given (upright)

    @property
    def mask(self) -> np.ndarray:
        """Return the binary ink (ink >= 0.5, a glyph's own rule), all False for a blank page."""
        if self.ink is None:
            return np.zeros(self.working_size[::-1], bool)
        return self.ink >= 0.5

    def to_original(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """Return a working-size box (x0, y0, x1, y1) in the original image's pixels."""
        fx = self.original_size[0] / self.working_size[0]
        fy = self.original_size[1] / self.working_size[1]
        return (math.floor(box[0] * fx), math.floor(box[1] * fy),
                min(self.original_size[0], math.ceil(box[2] * fx)), min(self.original_size[1], math.ceil(box[3] * fy)))


def _original_size(source: ImageSource) -> tuple[int, int] | None:
    """Return the upright (width, height) of an image source from its header, or None if it has none."""
    if isinstance(source, np.ndarray):
        return int(source.shape[1]), int(source.shape[0])
    try:
        if isinstance(source, Image.Image):
            im = source
        else:
            data = Path(source).read_bytes() if isinstance(source, (str, os.PathLike)) else bytes(source)
            im = Image.open(io.BytesIO(data), formats=RASTER_FORMATS)  # header only: nothing decoded yet
        w, h = im.size
        orientation = int(im.getexif().get(_EXIF_ORIENTATION, 1))
    except (OSError, ValueError, TypeError, SyntaxError):
        return None  # image_channels gives the message
    return (h, w) if orientation in _SIDEWAYS else (w, h)


def _shrink_array(lum: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Return arrays longer than `WORKING_SIDE` shrunk by an integer factor (area average), as files are."""
    factor = math.ceil(max(lum.shape) / WORKING_SIDE)
    if factor <= 1:
        return lum, alpha

    def reduce(a: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(np.ascontiguousarray(a, np.float32), mode="F").reduce(factor))

    return reduce(lum), (reduce(alpha) if alpha is not None else None)


def read_page(source: ImageSource) -> PageImage:
    """Return a page decoded and its ink found (see the module docstring); raises GlyphError naming the source."""
    original = _original_size(source)
    lum, alpha, name = image_channels(source)
    if isinstance(source, np.ndarray):
        lum, alpha = _shrink_array(lum, alpha)
    if lum.size == 0:
        raise GlyphError(f"{source_name(source)}: empty image")
    working = (int(lum.shape[1]), int(lum.shape[0]))
    return PageImage(name, _ink_map(lum, alpha), working, original or working)
