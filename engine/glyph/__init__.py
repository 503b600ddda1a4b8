"""Glyphs: what a person drew, or any image, normalised to look like an Omniglot training image.

A glyph's pixels are a float32 (105, 105) array in [0, 1] with 1.0 = ink and 0.0 = background; an Omniglot
PNG (1-bit, ink black = 0 on white = 1) as a glyph is ``1 - png``. Both entry points return binary pixels
(0.0 or 1.0, unless `render_strokes(antialias=True)` is asked for) because every training image is 1-bit.

One idea per module:

- `base`: the `Glyph` type, its size (`GLYPH_SIZE`), `GlyphError`;
- `pen`: Omniglot's calibrated pen (`PEN_RADIUS`, `PEN_WIDTH`, `STROKE_OFFSET`) and painting with it;
- `render`: strokes to glyphs (`render_strokes`);
- `decode`: files to arrays, the one image decoder (`open_image`, `read_gray`, `image_channels`): raster
  formats only, sizes bounded before decoding;
- `framing`: Omniglot's ink framing and stroke width, and the rule bringing ink into them;
- `thinning`: stroke width and centre lines of ink masks;
- `normalise`: images to glyphs. `glyph_from_image` is THE normalisation of any image (file, drop, paste,
  import, font, a glyph cut out of a scan) into what the model gets; `looks_like_omniglot` says which images
  it keeps as they are; `glyph_from_omniglot_png` takes an image known to be Omniglot's as it is.
"""

from __future__ import annotations

from .base import GLYPH_SIZE, MIN_INK_PIXELS, Glyph, GlyphError
from .decode import (IMAGE_SUFFIXES, MAX_DECODE_BYTES, MAX_DECODE_PIXELS, RASTER_FORMATS, STROKE_SUFFIX,
                     ImageSizeError, ImageSource, open_image, read_gray)
from .framing import FRAME_CENTER_X_RANGE, FRAME_CENTER_Y_RANGE, FRAME_EXTENT_RANGE, WIDTH_RANGE
from .normalise import (DEFAULT_NORMALISATION, MIN_CONTRAST, MIN_INK_EXTENT, Normalisation, glyph_from_image,
                        glyph_from_omniglot_png, looks_like_omniglot)
from .pen import OMNIGLOT_STROKE_AREA, PEN_RADIUS, PEN_WIDTH, STROKE_OFFSET
from .render import MAX_PEN_PATH, render_strokes

__all__ = [
    "GLYPH_SIZE", "PEN_RADIUS", "PEN_WIDTH", "STROKE_OFFSET", "OMNIGLOT_STROKE_AREA", "MIN_INK_PIXELS",
    "MIN_INK_EXTENT", "MIN_CONTRAST", "FRAME_EXTENT_RANGE", "FRAME_CENTER_X_RANGE", "FRAME_CENTER_Y_RANGE",
    "WIDTH_RANGE", "IMAGE_SUFFIXES", "STROKE_SUFFIX", "RASTER_FORMATS", "MAX_DECODE_PIXELS", "MAX_DECODE_BYTES",
    "MAX_PEN_PATH", "Glyph", "GlyphError", "ImageSizeError", "ImageSource", "render_strokes", "glyph_from_image",
    "glyph_from_omniglot_png", "open_image", "read_gray", "Normalisation", "DEFAULT_NORMALISATION",
    "looks_like_omniglot",
]
