"""Letting recognition decide whether two neighbouring pieces are one glyph or two (rule 10 of segmentation).

The geometric rules (engine.transcribe.segment) cannot tell a glyph written in two separated parts (a
hiragana "け", a letter of a script whose strokes do not touch) from two narrow glyphs written close together:
both are two pieces with a gap. The gallery can. For each pair of neighbours in a line whose gap is under
`gap` x the line's glyph size and whose joint box is no wider than the segmentation's `max_width`, the pair is
also cut out and ranked as one glyph; then each line's pieces are grouped by dynamic programming so that the
product of the best scores (each a match probability) is highest: two pieces stay two glyphs when each is
a better match alone than the pair is as one. A pair only becomes one glyph when it is a confident match
(the recogniser's threshold), so two pieces of characters the gallery does not know are left as the
segmentation found them.

The gap was chosen on pages of background training alphabets with glyphs in several parts (hiragana,
katakana, Korean, Tifinagh, Arcadian, Grantha; `benchmarks/bench_transcribe.py --split training --choose`, 846
glyphs, clean): CER 15.1% without regrouping, 13.4% at 0.4, 13.1% at 0.6 and at 0.9; the validation alphabets'
pages, which the gap rule already segments without a fault, are unchanged by it (8.7% / 9.0%).

Only pairs are considered (a glyph of three separated parts where each pair is no better: left as it is), and
only neighbours along the line (the pieces in reading order).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..recognition.recognize import RankResult
from .segment import GlyphSegment, LineSegment, union_box

# Scores are floored before their logarithms, so a piece that matched nothing (score 0, or no ink) still has
# a finite cost and a pair can only win by being a match itself.
SCORE_FLOOR = 1e-4


@dataclass(frozen=True)
class RegroupConfig:
    """Which neighbours are also tried as one glyph: gap under `gap` x the line's size (`enabled` False: none)."""

    enabled: bool = True
    gap: float = 0.6


def best_score(result: RankResult) -> float:
    """Return the best match's score of a ranking, 0.0 when there is none (no ink, empty gallery)."""
    return result.best.score if result.best is not None and not result.no_ink else 0.0


def merged(a: GlyphSegment, b: GlyphSegment) -> GlyphSegment:
    """Return the glyph made of both segments' components."""
    comps = sorted(a.components + b.components, key=lambda c: c.label)
    return GlyphSegment(comps, union_box([a.box, b.box]))


def candidate_pairs(line: LineSegment, max_width: float, config: RegroupConfig) -> list[int]:
    """Return the positions i (in the line's reading order) where glyphs i and i + 1 might be one glyph."""
    if not config.enabled:
        return []
    out = []
    for i, (a, b) in enumerate(zip(line.glyphs, line.glyphs[1:])):
        left, right = (a, b) if a.box[0] <= b.box[0] else (b, a)
        gap = right.box[0] - left.box[2]
        width = max(a.box[2], b.box[2]) - min(a.box[0], b.box[0])
        if gap <= config.gap * line.size and width <= max_width * line.size:
            out.append(i)
    return out


def choose_spans(singles: Sequence[float], pairs: dict[int, tuple[float, bool]]) -> list[tuple[int, int]]:
    """Return the line's glyphs as spans (start, stop) of its pieces, chosen for the highest product of scores.

    `singles[i]` is piece i's best score alone; `pairs[i]` is (score, confident) of pieces i and i + 1 as one
    glyph. A pair is only taken when it is a confident match.
    """
    n = len(singles)
    cost = [0.0] + [-math.inf] * n  # cost[k]: best log-score of the first k pieces
    back = [0] * (n + 1)
    for k in range(1, n + 1):
        cost[k], back[k] = cost[k - 1] + math.log(max(singles[k - 1], SCORE_FLOOR)), 1
        pair = pairs.get(k - 2) if k >= 2 else None
        if pair is not None and pair[1]:
            two = cost[k - 2] + math.log(max(pair[0], SCORE_FLOOR))
            if two > cost[k]:
                cost[k], back[k] = two, 2
    spans, k = [], n
    while k > 0:
        spans.append((k - back[k], k))
        k -= back[k]
    return spans[::-1]


def regroup_lines(lines: list[LineSegment], results: list[RankResult], max_width: float, config: RegroupConfig,
                  rank_segments: Callable[[list[tuple[int, GlyphSegment]]], list[RankResult]]
                  ) -> tuple[list[LineSegment], list[tuple[int | None, RankResult, GlyphSegment]]]:
    """Return the lines regrouped and, per glyph in reading order, (its index in the old glyph list or None for
    a new pair, its ranking, its segment).

    `results` are the old glyphs' rankings in reading order; `rank_segments([(line index, segment)])` cuts out
    and ranks the candidate pairs (one batch for the page).
    """
    starts = []
    pos = 0
    for line in lines:
        starts.append(pos)
        pos += len(line.glyphs)
    candidates = [(li, i) for li, line in enumerate(lines) for i in candidate_pairs(line, max_width, config)]
    pair_segments = {(li, i): merged(lines[li].glyphs[i], lines[li].glyphs[i + 1]) for li, i in candidates}
    ranked = rank_segments([(li, pair_segments[(li, i)]) for li, i in candidates])
    pair_results = dict(zip(candidates, ranked))
    new_lines, out = [], []
    for li, line in enumerate(lines):
        singles = [best_score(results[starts[li] + i]) for i in range(len(line.glyphs))]
        pairs = {i: (best_score(r), not r.no_confident_match and not r.no_ink)
                 for (l2, i), r in pair_results.items() if l2 == li}
        glyphs = []
        for a, b in choose_spans(singles, pairs):
            if b - a == 1:
                seg = line.glyphs[a]
                out.append((starts[li] + a, results[starts[li] + a], seg))
            else:
                seg = pair_segments[(li, a)]
                out.append((None, pair_results[(li, a)], seg))
            glyphs.append(seg)
        new_lines.append(LineSegment(glyphs, line.size, line.box))
    return new_lines, out
