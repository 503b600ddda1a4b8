"""Segmenting a page: its ink becomes glyphs (groups of connected components) in text lines, in reading order.

The rules, each with its why (the sizes are relative, so one page can be a 300-dpi scan or a phone photo):

1. **Ink**: the ink map single images use (`ink.page_ink`: background = the border's median colour, light ink
   on dark inverted), thresholded at half strength like a glyph's mask, so a page finds the same ink its
   glyphs would find one by one.
2. **Components**: 8-connected, so a stroke drawn diagonally pixel by pixel stays one piece.
3. **Page scale** `s`: the ink-weighted median of the components' longer sides. Weighted by ink, thousands of
   specks cannot pull it down while a page of glyphs has most of its ink in glyph-sized pieces.
4. **Specks**: a component under `min_component_px` pixels (absolute: smaller than any pen mark) is noise;
   one shorter than `min_extent_px` (too small to read at any scale) never counts for the page scale nor
   starts a line; a glyph whose longer side stays under `speck_fraction` x its line's size after grouping
   (a dot that joined no glyph) is dropped.
5. **Lines** are built from the *major* components (height >= `major_fraction` x s; dots, accents and flat
   strokes would otherwise start lines of their own or miss a line whose band they lie at the edge of),
   taken left to right: each joins the line whose band (median
   top and bottom of its last few members) it overlaps most, if the overlap is at least `line_overlap` of
   the smaller height or its centre lies in the band (the lower bar of "=" under a flat upper bar); so a
   line can drift by a few degrees of skew and its baseline can wander, as long as neighbours overlap. A gap of more
   than `line_gap` x s starts a new line (another column).
6. **Minor components** (dots, accents, short or flat strokes) join the line nearest to them vertically, measured
   against the member closest along the line (skew again), within `attach_distance` x the line's size.
7. **Grouping a glyph's components** within a line: components overlapping along the line by at least
   `overlap_fraction` of the narrower one are one glyph (a dot over its stem, stacked strokes); then the
   closest neighbours along the line merge while their gap is under `gap_fraction` x the line's size and the
   merged glyph is no wider than `max_width` x the line's size (a broken stroke, a detached tick); a small
   piece (under `minor_fraction` of the line's size) joins its nearest neighbour within `dot_gap` x size,
   since a dot alone is rarely a character.
8. **Touching glyphs** (best effort): a glyph whose widest component is more than `wide_glyph` x its line's
   glyph height wide is probably two or more glyphs written touching (the widest single characters, "=" or
   "m", are under it). With `split_touching` it is cut at the ink projection's minima (the thinnest columns,
   where a touching join is) into pieces about a line's glyph wide, and kept cut only when every piece is at
   least `min_piece` x the line's glyph height wide (narrower pieces would be parts of a glyph, not glyphs);
   the pieces are marked `split` (best effort). Otherwise the glyph stays whole, marked wide later. Off by
   default: on composed pages of the training alphabets (glyphs 0.3-0.7 sizes apart) it cuts wide single
   characters (box precision 98.7% -> 92.1%, recall 96.1% -> 94.6%; thresholds up to 3 glyph heights still
   lose a little), while on pages whose glyphs often touch it finds 45.5% -> 59.6% of the boxes
   (`benchmarks/bench_transcribe_split_touching_cpu.txt`).
9. **Reading order**: lines top to bottom (lines side by side, whose bands overlap, left to right, or right
   to left), glyphs by their left edge (right edge, right to left).
10. What geometry cannot tell (a glyph in two separated parts, or two narrow glyphs close together) the
    gallery decides once the glyphs are ranked: `engine.transcribe.regroup`.

Bounds: at most `max_components` components are considered (the largest), at most `max_glyphs` glyphs are
returned (the largest), and either limit reached is reported in `Segmentation.notes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .cuts import split_touching
from .pieces import Component, GlyphSegment, LineSegment, Segmentation, union_box


@dataclass(frozen=True)
class SegmentConfig:
    """The segmentation rules' parameters (module docstring); sizes relative to the page or line scale.

    Chosen on pages of the background set's training alphabets (segmentation alone, 2,960 glyphs clean and
    scan-like: `benchmarks/bench_transcribe.py --split training --boxes-only --choose`): `gap_fraction`
    0.25 found 95.9% of the boxes with 98.9% precision, against 94.8%/96.2% at 0.12, 95.5%/98.1% at 0.2 and
    93.6%/98.1% at 0.35; the other parameters moved the numbers by 0.3 points or less. Nearly all the boxes
    missed are Braille's (characters made of dots only, smaller than `min_extent_px`, with gaps like the
    gaps between characters: 3 of 57 found); without it 99.3% of the boxes are found.
    """

    min_component_px: int = 6
    min_extent_px: int = 8
    speck_fraction: float = 0.2
    major_fraction: float = 0.4
    line_overlap: float = 0.35
    line_gap: float = 4.0
    band_members: int = 3
    attach_distance: float = 0.75
    overlap_fraction: float = 0.5
    gap_fraction: float = 0.25
    max_width: float = 1.5
    minor_fraction: float = 0.35
    dot_gap: float = 0.5
    wide_glyph: float = 1.6
    split_touching: bool = False
    min_piece: float = 0.4
    rtl: bool = False
    max_components: int = 50_000
    max_glyphs: int = 5_000


# ------------------------------------------------------------------------------------------ components


def find_components(mask: np.ndarray, config: SegmentConfig) -> tuple[np.ndarray, list[Component], list[str]]:
    """Return (label map, components, notes) of a binary ink mask; specks under `min_component_px` dropped.

    The label map is relabelled so that only kept components have labels (1..n); at most
    `config.max_components` (the largest) are kept.
    """
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    notes: list[str] = []
    if n == 0:
        return labels, [], notes
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    counts[0] = 0
    keep = np.flatnonzero(counts >= config.min_component_px)
    if len(keep) > config.max_components:
        notes.append(f"{len(keep):,} pieces of ink: only the {config.max_components:,} largest were considered")
        keep = keep[np.argsort(-counts[keep], kind="stable")[:config.max_components]]
        keep.sort()
    lut = np.zeros(n + 1, np.int32)
    lut[keep] = np.arange(1, len(keep) + 1, dtype=np.int32)
    labels = lut[labels]
    comps = []
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        comps.append(Component(i, (sl[1].start, sl[0].start, sl[1].stop, sl[0].stop), int(counts[keep[i - 1]])))
    return labels, comps, notes


def page_scale(components: list[Component], min_extent: int = 0) -> float:
    """Return the ink-weighted median of the longer sides of components at least `min_extent` long (rule 3).

    0.0 when there are none.
    """
    components = [c for c in components if c.extent >= min_extent]
    if not components:
        return 0.0
    ext = np.array([c.extent for c in components], np.float64)
    weight = np.array([c.pixels for c in components], np.float64)
    order = np.argsort(ext, kind="stable")
    cum = np.cumsum(weight[order])
    return float(ext[order][np.searchsorted(cum, cum[-1] / 2)])


# ----------------------------------------------------------------------------------------------- lines


class _Lines:
    """Lines being built (rule 5): each line's members, and its band and right end as arrays for fast lookup."""

    def __init__(self, band_members: int):
        self.n = band_members
        self.members: list[list[Component]] = []
        self.top = np.zeros(0)
        self.bottom = np.zeros(0)
        self.x1 = np.zeros(0)

    def start(self, c: Component) -> None:
        self.members.append([c])
        self.top, self.bottom = np.append(self.top, 0.0), np.append(self.bottom, 0.0)
        self.x1 = np.append(self.x1, 0.0)
        self._update(len(self.members) - 1)

    def add(self, i: int, c: Component) -> None:
        self.members[i].append(c)
        self._update(i)

    def _update(self, i: int) -> None:
        # The median top and bottom of the last few members: the line's band where it has got to, so it may
        # drift; medians, so one flat stroke (a bar of "=") or one tall glyph does not narrow or stretch it.
        last = self.members[i][-self.n:]
        self.top[i] = float(np.median([c.box[1] for c in last]))
        self.bottom[i] = float(np.median([c.box[3] for c in last]))
        self.x1[i] = max(self.x1[i], last[-1].box[2])


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return min(a1, b1) - max(a0, b0)


def build_lines(majors: list[Component], scale: float, config: SegmentConfig) -> list[list[Component]]:
    """Return the major components grouped into lines (rule 5), each left to right."""
    lines = _Lines(config.band_members)
    for c in sorted(majors, key=lambda c: (c.box[0], c.box[1])):
        ov = np.minimum(c.box[3], lines.bottom) - np.maximum(c.box[1], lines.top)
        inside = (lines.top <= c.cy) & (c.cy <= lines.bottom)
        ok = ((ov >= config.line_overlap * np.minimum(c.height, lines.bottom - lines.top)) | inside) & (ov > 0)
        ok &= (c.box[0] - lines.x1) <= config.line_gap * scale
        if ok.any():
            lines.add(int(np.argmax(np.where(ok, ov, -np.inf))), c)
        else:
            lines.start(c)
    return lines.members


def _line_size(members: list[Component]) -> float:
    return float(np.median([c.extent for c in members]))


def attach_minors(lines: list[list[Component]], minors: list[Component], config: SegmentConfig
                  ) -> tuple[list[list[Component]], list[Component]]:
    """Return (lines with their minor components added, minors that joined none) (rule 6).

    A minor piece is measured against each line's members near it along the line (within one line size), so
    a skewed line is met at its local height; it joins the line of the member it is closest to.
    """
    if not lines or not minors:
        return lines, list(minors)
    boxes = np.array([c.box for members in lines for c in members], np.float64)
    owner = np.array([i for i, members in enumerate(lines) for _ in members])
    size = np.array([_line_size(m) for m in lines])[owner]
    added: list[list[Component]] = [[] for _ in lines]
    alone = []
    for c in minors:
        dx = np.maximum(np.maximum(boxes[:, 0] - c.box[2], c.box[0] - boxes[:, 2]), 0.0)
        dy = np.maximum(np.maximum(boxes[:, 1] - c.box[3], c.box[1] - boxes[:, 3]), 0.0)
        ok = (dx <= size) & (dy <= config.attach_distance * size)
        if ok.any():
            added[int(owner[np.argmin(np.where(ok, dx + dy, np.inf))])].append(c)
        else:
            alone.append(c)
    return [m + a for m, a in zip(lines, added)], alone


# -------------------------------------------------------------------------------------------- grouping


def group_line(members: list[Component], size: float, config: SegmentConfig) -> list[list[Component]]:
    """Return a line's components grouped into glyphs (rule 7), left to right."""
    groups = [[c] for c in sorted(members, key=lambda c: c.box[0])]
    groups = _merge_overlapping(groups, config.overlap_fraction)
    while True:
        merged = _merge_closest(groups, size, config)
        if merged is None:
            break
        groups = merged
    return groups


def _span(group: list[Component]) -> tuple[int, int]:
    return min(c.box[0] for c in group), max(c.box[2] for c in group)


def _merge_overlapping(groups: list[list[Component]], fraction: float) -> list[list[Component]]:
    """Merge groups whose spans along the line overlap by `fraction` of the narrower one, until none do."""
    changed = True
    while changed:
        changed = False
        groups.sort(key=lambda g: _span(g)[0])
        out: list[list[Component]] = []
        for g in groups:
            if out:
                a0, a1 = _span(out[-1])
                b0, b1 = _span(g)
                if _overlap(a0, a1, b0, b1) >= fraction * max(1, min(a1 - a0, b1 - b0)):
                    out[-1] = out[-1] + g
                    changed = True
                    continue
            out.append(g)
        groups = out
    return groups


def _merge_closest(groups: list[list[Component]], size: float, config: SegmentConfig) -> list[list[Component]] | None:
    """Merge the one pair of neighbours that rule 7 merges first (smallest gap), or return None."""
    best, best_gap = None, None
    for i in range(len(groups) - 1):
        a0, a1 = _span(groups[i])
        b0, b1 = _span(groups[i + 1])
        gap = b0 - a1
        if b1 - a0 > config.max_width * size:
            continue
        small = min(_extent(groups[i]), _extent(groups[i + 1])) < config.minor_fraction * size
        limit = (config.dot_gap if small else config.gap_fraction) * size
        if gap <= limit and (best_gap is None or gap < best_gap):
            best, best_gap = i, gap
    if best is None:
        return None
    return groups[:best] + [groups[best] + groups[best + 1]] + groups[best + 2:]


def _extent(group: list[Component]) -> int:
    b = union_box(c.box for c in group)
    return max(b[2] - b[0], b[3] - b[1])


# ---------------------------------------------------------------------------------------------- order


def _reading_order(lines: list[LineSegment], rtl: bool) -> list[LineSegment]:
    """Return lines top to bottom; lines whose vertical bands overlap (side by side) by their horizontal order."""
    rows: list[list[LineSegment]] = []
    for line in sorted(lines, key=lambda l: (l.box[1] + l.box[3]) / 2):
        row = rows[-1] if rows else None
        if row is not None:
            top, bottom = min(l.box[1] for l in row), max(l.box[3] for l in row)
            cy = (line.box[1] + line.box[3]) / 2
            if top <= cy <= bottom and all(_overlap(l.box[0], l.box[2], line.box[0], line.box[2]) <= 0 for l in row):
                row.append(line)
                continue
        rows.append([line])
    out = []
    for row in rows:
        out.extend(sorted(row, key=lambda l: -l.box[2] if rtl else l.box[0]))
    return out


# ------------------------------------------------------------------------------------------------ all


def segment_mask(mask: np.ndarray, config: SegmentConfig | None = None) -> Segmentation:
    """Return the glyphs of a binary ink mask (True = ink) in text lines, in reading order (module docstring)."""
    config = config or SegmentConfig()
    labels, comps, notes = find_components(mask, config)
    scale = page_scale(comps, config.min_extent_px)
    if scale == 0.0:
        return Segmentation(labels, [], scale, notes)
    major_px = max(config.major_fraction * scale, config.min_extent_px)
    majors = [c for c in comps if c.height >= major_px]
    minors = [c for c in comps if c.height < major_px]
    line_members, alone = attach_minors(build_lines(majors, scale, config), minors, config)
    lines = []
    for members in line_members:
        size = _line_size([c for c in members if c.height >= major_px])
        groups = [g for g in group_line(members, size, config) if _extent(g) >= config.speck_fraction * size]
        lines.append(_line(groups, size, config.rtl))
    # Pieces near no line: a glyph of their own (a line of small marks) unless they are specks on the page scale.
    loose = [c for c in alone if c.extent >= max(config.speck_fraction * scale, config.min_extent_px)]
    for members in build_lines(loose, scale, config):
        size = _line_size(members)
        lines.append(_line(group_line(members, size, config), size, config.rtl))
    lines = [l for l in lines if l.glyphs]
    if config.split_touching:
        lines = [split_touching(labels, l, config.wide_glyph, config.min_piece, config.rtl)[0] for l in lines]
    lines = _reading_order(lines, config.rtl)
    n = sum(len(l.glyphs) for l in lines)
    if n > config.max_glyphs:
        notes.append(f"{n:,} glyphs found: only the {config.max_glyphs:,} largest are kept")
        lines = _keep_largest(lines, config.max_glyphs)
    return Segmentation(labels, lines, scale, notes)


def _line(groups: list[list[Component]], size: float, rtl: bool) -> LineSegment:
    glyphs = [GlyphSegment(sorted(g, key=lambda c: c.label), union_box(c.box for c in g)) for g in groups]
    glyphs.sort(key=lambda g: -g.box[2] if rtl else g.box[0])
    box = union_box(g.box for g in glyphs) if glyphs else (0, 0, 0, 0)
    return LineSegment(glyphs, size, box)


def _keep_largest(lines: list[LineSegment], limit: int) -> list[LineSegment]:
    ink = sorted(((sum(c.pixels for c in g.components), i, j) for i, l in enumerate(lines)
                  for j, g in enumerate(l.glyphs)), reverse=True)
    kept = {(i, j) for _, i, j in ink[:limit]}
    out = []
    for i, line in enumerate(lines):
        glyphs = [g for j, g in enumerate(line.glyphs) if (i, j) in kept]
        if glyphs:
            out.append(LineSegment(glyphs, line.size, union_box(g.box for g in glyphs)))
    return out
