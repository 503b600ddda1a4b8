"""A person's edits of a segmented page: merge two boxes, split one, delete a speck.

Each edit takes the segmented page and its transcription (`page.transcribe_segmented`) and returns both
changed, leaving the old ones as they were (so an edit can be undone by keeping them). Only the changed glyphs
are cut out again, through the same `cut_out` (the single-image normalisation), and ranked, through the same
`rank_glyphs`; every other glyph keeps its ranking, and a confirmed one its confirmed name. Reading order is
kept: a merged glyph takes the first one's place, a split one's pieces take its place in the line's order.
Nothing is written to a gallery.

Splitting: a glyph of several components is split between its components at the widest gap along the line
(the two groups a person sees as two glyphs wrongly grouped); a glyph of one piece, or whose components
overlap along the line, is cut at the column with the least of its ink in the middle half of its box
(`cuts.middle_cut`: touching glyphs are joined by little ink, and a cut near an edge would give a sliver).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ..recognition.recognize import Recognizer
from .cuts import cut_columns, ink_projection, middle_cut
from .page import (Segmented, TranscribeConfig, cut_out, gallery_chars, page_notes, page_recognizer, rank_glyphs,
                   transcribed_glyph)
from .pieces import GlyphSegment, LineSegment, union_box
from .result import Page, TranscribedGlyph, TranscribedLine

Edit = tuple[Segmented, Page]


def locate(segmented: Segmented, index: int) -> tuple[int, int]:
    """Return (line, position in the line) of glyph `index` (reading order); raises IndexError if there is none."""
    if index < 0:
        raise IndexError(f"no glyph {index}")
    for n, line in enumerate(segmented.segmentation.lines):
        if index < len(line.glyphs):
            return n, index
        index -= len(line.glyphs)
    raise IndexError("no such glyph on the page")


def merge_glyphs(segmented: Segmented, page: Page, first: int, second: int, recognizer: Recognizer,
                 config: TranscribeConfig | None = None) -> Edit:
    """Return the page with glyphs `first` and `second` (neighbours in one line) made one glyph, ranked again.

    The merged glyph holds both glyphs' components. Raises ValueError for glyphs that are not neighbours in
    one line.
    """
    first, second = sorted((first, second))
    (la, pa), (lb, pb) = locate(segmented, first), locate(segmented, second)
    if la != lb or pb != pa + 1:
        raise ValueError("only two neighbouring glyphs of one line can be merged")
    a, b = segmented.segmentation.lines[la].glyphs[pa:pa + 2]
    merged = GlyphSegment(sorted(a.components + b.components, key=lambda c: c.label),
                          union_box([a.box, b.box]))
    return _replace(segmented, page, la, pa, 2, [merged], segmented.segmentation.labels, recognizer, config)


def split_glyph(segmented: Segmented, page: Page, index: int, recognizer: Recognizer,
                config: TranscribeConfig | None = None) -> Edit:
    """Return the page with glyph `index` split in two (module docstring), both pieces ranked.

    Raises ValueError for a glyph too narrow to cut or whose cut leaves one side without ink.
    """
    config = config or TranscribeConfig()
    n, pos = locate(segmented, index)
    glyph = segmented.segmentation.lines[n].glyphs[pos]
    labels = segmented.segmentation.labels
    pieces = _split_by_components(glyph)
    if pieces is None:
        cut = middle_cut(ink_projection(labels, glyph))
        if cut is None:
            raise ValueError("this glyph is too narrow to split")
        labels = labels.copy()  # the old segmentation keeps its labels (undo)
        pieces = cut_columns(labels, glyph, [cut])
        if len(pieces) < 2:
            raise ValueError("no place to split this glyph: one side of every cut has no ink")
    if config.segment.rtl:
        pieces = pieces[::-1]
    return _replace(segmented, page, n, pos, 1, pieces, labels, recognizer, config)


def delete_glyph(segmented: Segmented, page: Page, index: int) -> Edit:
    """Return the page without glyph `index` (a speck, a stain); a line left empty goes too."""
    n, pos = locate(segmented, index)
    return _replace(segmented, page, n, pos, 1, [], segmented.segmentation.labels, None, None)


def _split_by_components(glyph: GlyphSegment) -> list[GlyphSegment] | None:
    """Return the glyph's components in two groups at their widest gap along the line, or None if none has one."""
    comps = sorted(glyph.components, key=lambda c: c.box[0])
    best, best_gap, reach = None, 0, comps[0].box[2]
    for k in range(1, len(comps)):
        gap = comps[k].box[0] - reach
        if gap > best_gap:
            best, best_gap = k, gap
        reach = max(reach, comps[k].box[2])
    if best is None:
        return None
    return [GlyphSegment(sorted(part, key=lambda c: c.label), union_box(c.box for c in part))
            for part in (comps[:best], comps[best:])]


def _replace(segmented: Segmented, page: Page, n: int, pos: int, count: int, new: Sequence[GlyphSegment],
             labels: np.ndarray, recognizer: Recognizer | None, config: TranscribeConfig | None) -> Edit:
    """Return both with `count` glyphs of line `n` from `pos` replaced by `new`, which are cut out and ranked."""
    config = config or TranscribeConfig()
    seg = segmented.segmentation
    old_line = seg.lines[n]
    line = LineSegment(old_line.glyphs[:pos] + list(new) + old_line.glyphs[pos + count:], old_line.size,
                       old_line.box)
    line.box = union_box(g.box for g in line.glyphs) if line.glyphs else old_line.box
    start = sum(len(l.glyphs) for l in seg.lines[:n]) + pos
    cut = [cut_out(segmented.page, labels, g, line.size, config.context, config.normalisation) for g in new]
    ranked: list[TranscribedGlyph] = []
    gallery_empty = any("gallery has no characters" in note for note in page.notes)  # a deletion ranks nothing
    if new:
        assert recognizer is not None
        results = rank_glyphs(page_recognizer(recognizer, config.reference_views), cut, config.top,
                              config.batch_size)  # as the page was ranked
        chars = gallery_chars(recognizer)
        ranked = [transcribed_glyph(segmented.page, line, g, glyph, r, chars)
                  for g, glyph, r in zip(new, cut, results)]
        gallery_empty = len(recognizer.gallery) == 0
    glyphs = segmented.glyphs[:start] + cut + segmented.glyphs[start + count:]
    lines = list(seg.lines)
    page_lines = list(page.lines)
    old_page_line = page.lines[n]
    if line.glyphs:
        lines[n] = line
        page_lines[n] = TranscribedLine(segmented.page.to_original(line.box),
                                        old_page_line.glyphs[:pos] + ranked + old_page_line.glyphs[pos + count:])
    else:
        del lines[n], page_lines[n]
    edited = Segmented(segmented.page, replace(seg, labels=labels, lines=lines), glyphs)
    every = [g for l in page_lines for g in l.glyphs]
    return edited, Page(page.image, page.size, page_lines, page_notes(edited, every, gallery_empty))
