"""The pieces a segmentation is made of: connected components, glyphs (groups of them), text lines, the page's.

Boxes are (x0, y0, x1, y1) in working-image pixels, x1 and y1 exclusive (pixel edges).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Component:
    """A connected piece of ink: its label in the label map, box (x0, y0, x1, y1; pixel edges) and pixel count."""

    label: int
    box: tuple[int, int, int, int]
    pixels: int

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def extent(self) -> int:
        return max(self.width, self.height)

    @property
    def cy(self) -> float:
        return (self.box[1] + self.box[3]) / 2


@dataclass
class GlyphSegment:
    """One glyph found on the page: its components and their joint box (working-image pixels).

    `split`: the glyph is a piece cut from touching glyphs (rule 8, a best effort).
    """

    components: list[Component]
    box: tuple[int, int, int, int]
    split: bool = False

    @property
    def labels(self) -> list[int]:
        return [c.label for c in self.components]


@dataclass
class LineSegment:
    """One text line: its glyphs in reading order, its size (the typical glyph's longer side) and box."""

    glyphs: list[GlyphSegment]
    size: float
    box: tuple[int, int, int, int]

    @property
    def glyph_height(self) -> float:
        """Return the median height of the line's glyph boxes."""
        return float(np.median([g.box[3] - g.box[1] for g in self.glyphs])) if self.glyphs else 0.0


@dataclass
class Segmentation:
    """A page's glyphs: `labels` (the component label map), the lines in reading order, notes on limits hit."""

    labels: np.ndarray
    lines: list[LineSegment]
    scale: float
    notes: list[str] = field(default_factory=list)

    @property
    def glyphs(self) -> list[GlyphSegment]:
        """Return every glyph in reading order."""
        return [g for line in self.lines for g in line.glyphs]


def union_box(boxes) -> tuple[int, int, int, int]:
    """Return the box holding all `boxes` (x0, y0, x1, y1)."""
    boxes = list(boxes)
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
