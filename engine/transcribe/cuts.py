"""Cutting a glyph in two or more along columns: where ink is thinnest (the ink projection's minima).

Two glyphs written touching are joined by a little ink (a stroke's end on its neighbour's), so the column
with the least of the glyph's own ink near where a glyph boundary is expected is where to cut. Used by the
segmentation's best effort for touching glyphs (`segment` rule 8, `split_touching`) and by a person's
"split" in the Transcribe tab (`edits.split_glyph`).

Cutting relabels the ink right of each cut in the label map (new labels), so every piece is cut out later
with only its own ink, like any glyph. The caller gives a label map it may change (a copy, to keep the old).
"""

from __future__ import annotations

import numpy as np

from .pieces import Component, GlyphSegment, LineSegment, union_box

# A person's split cuts between these fractions of the glyph's width: a cut at the very edge gives a sliver.
MIDDLE = (0.25, 0.75)
# A touching cut is looked for within this fraction of a piece's expected width around where it is expected.
SEARCH = 0.3


def ink_projection(labels: np.ndarray, glyph: GlyphSegment) -> np.ndarray:
    """Return the glyph's own ink per column of its box (pixel counts, x0 first)."""
    x0, y0, x1, y1 = glyph.box
    return np.isin(labels[y0:y1, x0:x1], glyph.labels).sum(axis=0)


def thinnest_column(projection: np.ndarray, lo: int, hi: int, target: float) -> int:
    """Return the column in [lo, hi) with the least ink, the one nearest `target` among equals (box-relative)."""
    cols = np.arange(lo, hi)
    order = np.lexsort((np.abs(cols - target), projection[lo:hi]))
    return int(cols[order[0]])


def middle_cut(projection: np.ndarray) -> int | None:
    """Return the best column to cut a glyph in two (box-relative; thinnest in its middle), or None if too narrow."""
    width = len(projection)
    lo, hi = int(np.ceil(MIDDLE[0] * width)), int(np.floor(MIDDLE[1] * width)) + 1
    lo, hi = max(lo, 1), min(hi, width)
    if hi <= lo:
        return None
    return thinnest_column(projection, lo, hi, width / 2)


def cut_columns(labels: np.ndarray, glyph: GlyphSegment, cuts: list[int]) -> list[GlyphSegment]:
    """Return the glyph cut at box-relative columns `cuts` (ascending), left to right; changes `labels`.

    Each piece holds the ink of the glyph's components between two cuts, each component part under a label
    of its own (the leftmost part of a component keeps its label). A piece with no ink is left out.
    """
    x0 = glyph.box[0]
    edges = [x0] + [x0 + c for c in cuts] + [glyph.box[2]]
    pieces: list[list[Component]] = [[] for _ in range(len(edges) - 1)]
    next_label = int(labels.max()) + 1
    for comp in glyph.components:
        cx0, cy0, cx1, cy1 = comp.box
        own = labels[cy0:cy1, cx0:cx1] == comp.label
        first = True
        for k in range(len(edges) - 1):
            a, b = max(edges[k], cx0), min(edges[k + 1], cx1)
            if a >= b:
                continue
            part = np.zeros_like(own)
            part[:, a - cx0:b - cx0] = own[:, a - cx0:b - cx0]
            if not part.any():
                continue
            label = comp.label if first else next_label
            if not first:
                next_label += 1
                labels[cy0:cy1, cx0:cx1][part] = label
            first = False
            rows, cols = np.flatnonzero(part.any(axis=1)), np.flatnonzero(part.any(axis=0))
            box = (cx0 + int(cols[0]), cy0 + int(rows[0]), cx0 + int(cols[-1]) + 1, cy0 + int(rows[-1]) + 1)
            pieces[k].append(Component(label, box, int(part.sum())))
    return [GlyphSegment(sorted(p, key=lambda c: c.label), union_box(c.box for c in p)) for p in pieces if p]


def touching_cuts(projection: np.ndarray, pieces: int) -> list[int]:
    """Return the columns cutting a glyph into `pieces` of about equal width, each at the thinnest ink nearby."""
    width = len(projection)
    step = width / pieces
    cuts = []
    for k in range(1, pieces):
        target = k * step
        lo = max(int(np.floor(target - SEARCH * step)), (cuts[-1] + 1) if cuts else 1)
        hi = min(int(np.ceil(target + SEARCH * step)) + 1, width)
        if hi > lo:
            cuts.append(thinnest_column(projection, lo, hi, target))
    return cuts


def split_touching(labels: np.ndarray, line: LineSegment, wide: float, min_piece: float, rtl: bool
                   ) -> tuple[LineSegment, int]:
    """Return (the line with its touching glyphs cut, how many glyphs were cut) (`segment` rule 8); changes
    `labels` where it cuts.

    A glyph whose widest component is over `wide` x the line's glyph height is cut into pieces about the
    width of the line's other glyphs (their median; the glyph height if there are none), and kept cut only
    if every piece is at least `min_piece` x the glyph height wide.
    """
    height = line.glyph_height
    if height <= 0:
        return line, 0
    limit = wide * height
    normal = [g.box[2] - g.box[0] for g in line.glyphs if g.box[2] - g.box[0] <= limit]
    typical = float(np.median(normal)) if normal else height
    glyphs, cut = [], 0
    for g in line.glyphs:
        if max(c.width for c in g.components) <= limit:
            glyphs.append(g)
            continue
        n = max(2, int(round((g.box[2] - g.box[0]) / max(typical, 1.0))))
        trial = labels[g.box[1]:g.box[3], g.box[0]:g.box[2]].copy()
        pieces = cut_columns(labels, g, touching_cuts(ink_projection(labels, g), n))
        if len(pieces) >= 2 and all(p.box[2] - p.box[0] >= min_piece * height for p in pieces):
            glyphs.extend(GlyphSegment(p.components, p.box, split=True) for p in pieces)
            cut += 1
        else:
            labels[g.box[1]:g.box[3], g.box[0]:g.box[2]] = trial  # undo the trial cut
            glyphs.append(g)
    if not cut:
        return line, 0
    glyphs.sort(key=lambda g: -g.box[2] if rtl else g.box[0])
    return LineSegment(glyphs, line.size, line.box), cut
