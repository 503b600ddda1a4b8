"""Transcribing a page: segment it, cut each glyph out, rank every glyph through the single-glyph pipeline.

Each glyph is cut out as a person would cut it out by hand: a square of the page around it (only its own
ink kept, neighbours' ink wiped to background), given to `engine.glyph.glyph_from_image`, the function
that normalises any image `rank` is given (framing, stroke width, 1-bit). The square's side is
`context` x the line's glyph size (at least the glyph's own box), so a glyph the size of its line's glyphs
lands in the frame at 105 / 1.3 = 81 px and a smaller one (a comma, a short mark) stays smaller, down to the
normalisation's least ink size (58 px). The context was chosen on the validation alphabets
(`benchmarks/bench_transcribe.py --split validation --choose`, clean pages, 360 glyphs): CER 5.0% at 1.3 and
for a tight crop (every glyph framed at 91 px, its size relative to the line lost), 5.8% at 1.54 (a line-size
glyph at Omniglot's median 68 px), 9.7% at 1.8 and 20.8% at 2.1 (glyphs small in the frame), against 4.4%
for the same drawings ranked as Omniglot stores them. The glyphs are then ranked by
`Recognizer.rank_many` in batches (one forward pass per batch), with the same index, views, scoring and
"no confident match" threshold as `rank`; then neighbours that may be one glyph are ranked as one too, and
the gallery decides (`engine.transcribe.regroup`).

Pages are ranked with 8 reference views (`page_recognizer`): on the validation alphabets the cut-outs of 2,049
glyphs (12 pages) were wrong 6.3% of the time against 7.2% with the model card's views (none), on 10 training
alphabets (745 glyphs) 8.5% against 9.1%; the same drawings as Omniglot stores them barely change (7.6% / 7.9%).
A single drawing keeps the card's views, which were chosen for it.

The cut-out's normalisation is the single-image one (`TranscribeConfig.normalisation`, for measurements). On
the validation alphabets (`--split validation --pages 3 --choose`, 881 glyphs) resampling in-range strokes
instead of redrawing them read clean pages better (CER 7.8% against 8.7%) and scan-like ones worse (9.4%
against 9.0%), and on training alphabets it made no difference, so the one normalisation stays.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from ..cancel import Cancelled
from ..glyph import Glyph, ImageSource, glyph_from_image
from ..glyph.normalise import DEFAULT_NORMALISATION, Normalisation
from ..recognition.recognize import CARD_THRESHOLD_KEY, DEFAULT_THRESHOLD, RankResult, Recognizer
from .ink import PageImage, read_page
from .regroup import RegroupConfig, regroup_lines
from .result import Alternative, Page, TranscribedGlyph, TranscribedLine
from .pieces import GlyphSegment, LineSegment
from .segment import SegmentConfig, Segmentation, segment_mask

ProgressFn = Callable[[int, int], None]

# The cut-out square's side over the line's glyph size (module docstring: chosen on the validation alphabets).
CONTEXT = 1.3
# A glyph this much wider than its line's glyphs are tall is probably touching glyphs that could not be split
# (the segmentation's own threshold for trying to split them: `segment` rule 8).
WIDE_GLYPH = SegmentConfig().wide_glyph
# Reference views pages are ranked with (engine.recognition.views, best view): a cut-out glyph has been shrunk
# and enlarged again, and 8 distorted views of each reference meet it better (chosen on background alphabets,
# module docstring).
PAGE_REFERENCE_VIEWS = 8
# A model card's "no confident match" threshold for those views (scores are the best of 9 views, so higher than
# a single drawing's: calibrated like "rank_threshold", see the shipped card).
CARD_PAGE_THRESHOLD_KEY = "page_rank_threshold"
# Ink kept around a glyph's own pixels: its soft edge (antialiasing, blur) that fell under the half-ink mask.
EDGE_PX = 2


@dataclass(frozen=True)
class TranscribeConfig:
    """How a page is transcribed: segmentation rules, cut-out context, candidates per glyph, batch size."""

    segment: SegmentConfig = field(default_factory=SegmentConfig)
    context: float = CONTEXT
    normalisation: Normalisation = DEFAULT_NORMALISATION
    regroup: RegroupConfig = field(default_factory=RegroupConfig)
    reference_views: int = PAGE_REFERENCE_VIEWS
    top: int = 5
    batch_size: int = 64


@dataclass
class Segmented:
    """A page segmented and its glyphs cut out, ready to rank (or re-rank after a gallery edit)."""

    page: PageImage
    segmentation: Segmentation
    glyphs: list[Glyph]  # one per segment, in reading order

    @property
    def count(self) -> int:
        return len(self.glyphs)


def cut_out(page: PageImage, labels: np.ndarray, segment: GlyphSegment, line_size: float,
            context: float, normalisation: Normalisation = DEFAULT_NORMALISATION) -> Glyph:
    """Return the normalised glyph of one segment: its own ink cut out in a square, through `glyph_from_image`."""
    x0, y0, x1, y1 = segment.box
    side = int(round(max(x1 - x0, y1 - y0, context * line_size))) + 2 * EDGE_PX
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    sx0, sy0 = cx - side // 2, cy - side // 2
    h, w = labels.shape
    ax0, ay0, ax1, ay1 = max(sx0, 0), max(sy0, 0), min(sx0 + side, w), min(sy0 + side, h)
    sub_labels = labels[ay0:ay1, ax0:ax1]
    own = np.isin(sub_labels, segment.labels)
    keep = ndimage.binary_dilation(own, iterations=EDGE_PX) & ((sub_labels == 0) | own)
    crop = np.ones((side, side), np.float32)  # the cut-out: dark ink on white
    crop[ay0 - sy0:ay1 - sy0, ax0 - sx0:ax1 - sx0] = np.where(keep, 1.0 - page.ink[ay0:ay1, ax0:ax1], 1.0)
    return glyph_from_image(crop, normalisation)


_page_recognizers: "weakref.WeakKeyDictionary[Recognizer, Recognizer]" = weakref.WeakKeyDictionary()
_page_lock = threading.Lock()


def page_recognizer(recognizer: Recognizer, reference_views: int = PAGE_REFERENCE_VIEWS) -> Recognizer:
    """Return the recogniser a page's glyphs are ranked with: `recognizer`'s model and gallery (edits included)
    with at least `reference_views` reference views (best view), and the card's threshold for them
    (`page_rank_threshold`; `recognizer`'s own when the card has none or it was given one of its own). Made
    once per recogniser, so its reference embeddings are computed once and then follow the gallery's edits."""
    if recognizer.views.reference_views >= reference_views:
        return recognizer
    views = replace(recognizer.views, reference_views=reference_views, rule="max")
    card = recognizer.loaded.card or {}
    threshold = recognizer.threshold
    if CARD_PAGE_THRESHOLD_KEY in card and threshold == card.get(CARD_THRESHOLD_KEY, DEFAULT_THRESHOLD):
        threshold = float(card[CARD_PAGE_THRESHOLD_KEY])
    with _page_lock:
        page = _page_recognizers.get(recognizer)
        if page is None or page.views != views or page.gallery is not recognizer.gallery or page.threshold != threshold:
            page = Recognizer(recognizer.loaded, recognizer.gallery, threshold, views)
            _page_recognizers[recognizer] = page
    return page


def segment_page(source: ImageSource | PageImage, config: TranscribeConfig | None = None) -> Segmented:
    """Return a page segmented into glyphs in reading order, each cut out and normalised.

    `source` is anything `glyph_from_image` reads (path, bytes, PIL image, array) or a `PageImage`. Raises
    GlyphError for an unreadable image.
    """
    config = config or TranscribeConfig()
    page = source if isinstance(source, PageImage) else read_page(source)
    seg = segment_mask(page.mask, config.segment)
    glyphs = [cut_out(page, seg.labels, g, line.size, config.context, config.normalisation)
              for line in seg.lines for g in line.glyphs]
    return Segmented(page, seg, glyphs)


def rank_glyphs(recognizer: Recognizer, glyphs: Sequence[Glyph], top: int = 5, batch_size: int = 64,
                progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> list[RankResult]:
    """Return a RankResult per glyph, ranked in batches; `progress(done, total)` per batch; `cancel` raises
    Cancelled."""
    results: list[RankResult] = []
    total = len(glyphs)
    for start in range(0, total, batch_size):
        if cancel is not None and cancel.is_set():
            raise Cancelled("transcription cancelled")
        results.extend(recognizer.rank_many(glyphs[start:start + batch_size], k=top, batch_size=batch_size))
        if progress:
            progress(len(results), total)
    return results


def regroup(segmented: Segmented, results: list[RankResult], recognizer: Recognizer, config: TranscribeConfig,
            cancel: threading.Event | None = None) -> tuple[Segmented, list[RankResult]]:
    """Return the page regrouped by recognition (engine.transcribe.regroup) and its glyphs' rankings.

    Neighbours that might be one glyph are cut out and ranked as one (one extra batch for the page); the
    glyphs kept as they were keep their cut-out and ranking."""
    seg, page = segmented.segmentation, segmented.page
    cut: dict[int, Glyph] = {}

    def rank_segments(items):
        glyphs = []
        for li, s in items:
            cut[id(s)] = cut_out(page, seg.labels, s, seg.lines[li].size, config.context, config.normalisation)
            glyphs.append(cut[id(s)])
        return rank_glyphs(recognizer, glyphs, config.top, config.batch_size, cancel=cancel)

    lines, chosen = regroup_lines(seg.lines, results, config.segment.max_width, config.regroup, rank_segments)
    glyphs = [segmented.glyphs[i] if i is not None else cut[id(s)] for i, _, s in chosen]
    return Segmented(page, replace(seg, lines=lines), glyphs), [r for _, r, _ in chosen]


def alternatives(result: RankResult, chars: dict[str, str | None]) -> list[Alternative]:
    """Return a glyph's ranking as its alternatives, best first, each with its Unicode character when known."""
    return [Alternative(m.name, m.score, chars.get(m.name)) for m in result.matches]


def transcribed_glyph(page: PageImage, line: LineSegment, segment: GlyphSegment, glyph: Glyph, result: RankResult,
                      chars: dict[str, str | None]) -> TranscribedGlyph:
    """Return one glyph of a page as transcribed: its box in the original's pixels, ranking and best-effort marks."""
    alts = alternatives(result, chars)
    wide = not segment.split and (segment.box[2] - segment.box[0]) > WIDE_GLYPH * line.glyph_height
    return TranscribedGlyph(page.to_original(segment.box), glyph, alts,
                            confident=not result.no_confident_match and not result.no_ink, wide=wide,
                            split=segment.split)


def page_notes(segmented: Segmented, glyphs: Sequence[TranscribedGlyph], gallery_empty: bool) -> list[str]:
    """Return what a page's reader should know: limits hit, a blank page, an empty gallery, best efforts made."""
    notes = list(segmented.segmentation.notes)
    if segmented.page.ink is None:
        notes.append("no ink found: the page is blank (or has too little contrast)")
    elif not glyphs:
        notes.append("no glyphs found: only specks of ink")
    if gallery_empty and glyphs:
        notes.append("the gallery has no characters: glyphs were found but cannot be named")
    split = sum(g.split for g in glyphs)
    if split:
        notes.append(f"{split} glyph(s) cut from touching glyphs at their thinnest columns (best effort)")
    wide = sum(g.wide for g in glyphs)
    if wide:
        notes.append(f"{wide} glyph box(es) much wider than their line's glyphs: probably touching glyphs that "
                     f"could not be split (best effort)")
    return notes


def build_page(segmented: Segmented, results: Sequence[RankResult], chars: dict[str, str | None],
               gallery_empty: bool = False) -> Page:
    """Return the transcribed Page of a segmented page and its glyphs' rankings (in reading order)."""
    page, seg = segmented.page, segmented.segmentation
    lines, i = [], 0
    for line in seg.lines:
        out = []
        for g in line.glyphs:
            out.append(transcribed_glyph(page, line, g, segmented.glyphs[i], results[i], chars))
            i += 1
        lines.append(TranscribedLine(page.to_original(line.box), out))
    glyphs = [g for line in lines for g in line.glyphs]
    return Page(page.name, page.original_size, lines, page_notes(segmented, glyphs, gallery_empty))


def gallery_chars(recognizer: Recognizer) -> dict[str, str | None]:
    """Return {character name: its Unicode character or None} of the recognizer's gallery."""
    return {c.name: c.char for c in recognizer.gallery.characters}


def transcribe_segmented(source: ImageSource | PageImage, recognizer: Recognizer,
                         config: TranscribeConfig | None = None, progress: ProgressFn | None = None,
                         cancel: threading.Event | None = None) -> tuple[Segmented, Page]:
    """Return (the segmented page, its transcription): `transcribe`, keeping what edits (`edits`) work on."""
    config = config or TranscribeConfig()
    recognizer = page_recognizer(recognizer, config.reference_views)
    recognizer.refresh(cancel=cancel)  # the page's reference views, embedded once per gallery state: cancellable
    segmented = segment_page(source, config)
    if cancel is not None and cancel.is_set():
        raise Cancelled("transcription cancelled")
    results = rank_glyphs(recognizer, segmented.glyphs, config.top, config.batch_size, progress, cancel)
    if config.regroup.enabled and len(recognizer.gallery):
        segmented, results = regroup(segmented, results, recognizer, config, cancel)
    return segmented, build_page(segmented, results, gallery_chars(recognizer),
                                 gallery_empty=len(recognizer.gallery) == 0)


def transcribe(source: ImageSource | PageImage, recognizer: Recognizer, config: TranscribeConfig | None = None,
               progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> Page:
    """Return the transcription of a page image against the recognizer's gallery (see the module docstring).

    `progress(done, total)` counts glyphs ranked; `cancel` (set from another thread) raises Cancelled.
    Raises GlyphError for an unreadable image. Nothing is written anywhere.
    """
    return transcribe_segmented(source, recognizer, config, progress, cancel)[1]
