"""The glyph: a 105x105 float32 picture, 1.0 = ink, as every model reads it; its size and its error type."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..units import GLYPH_SIZE  # noqa: F401 - re-exported: models resize from it to their own input size
# Fewer ink pixels than this is "nothing to rank": about half of the smallest mark the pen makes (a dot of
# about 19-21 px).
MIN_INK_PIXELS = 10


class GlyphError(ValueError):
    """An image or drawing that cannot be read or understood (unreadable, corrupt, unsupported, too large).

    The message names the source.
    """


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


def blank_glyph() -> Glyph:
    """Return an all-background glyph with `no_ink` set."""
    return Glyph(np.zeros((GLYPH_SIZE, GLYPH_SIZE), np.float32), no_ink=True)


def glyph_of(pixels: np.ndarray) -> Glyph:
    """Return a Glyph of `pixels`, `no_ink` when fewer than `MIN_INK_PIXELS` of them are at least half ink."""
    return Glyph(pixels, no_ink=bool(np.count_nonzero(pixels >= 0.5) < MIN_INK_PIXELS))
