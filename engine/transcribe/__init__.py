"""Transcribing a page: every glyph of a scan, a photo or a written line found, ranked and written as text.

- `segment`: ink to glyphs in text lines, in reading order (the rules and their reasons);
- `ink`: decoding a page and finding its ink the way single images do;
- `page`: cutting each glyph out, normalising it like any image given to `rank`, ranking them in batches;
- `edits`: a person's merge, split and delete of boxes, the changed glyphs cut out and ranked again;
- `written`: a line written on the app's wide canvas, rendered with the canvas's pen into a page image;
- `corrections`: a confirmed correction enrols the glyph (undoable) and re-ranks the others;
- `result`: the typed result (pages, lines, glyphs with box, best match, score, confidence, alternatives),
  its text, JSON and CSV.
"""

from __future__ import annotations

from .ink import PageImage, read_page
from .page import (Segmented, TranscribeConfig, build_page, cut_out, page_recognizer, rank_glyphs, segment_page,
                   transcribe, transcribe_segmented)
from .corrections import confirm, rerank
from .edits import delete_glyph, merge_glyphs, split_glyph
from .result import (Alternative, Page, TranscribedGlyph, TranscribedLine, glyph_json, page_csv, page_json,
                     read_page_json)
from .segment import SegmentConfig, Segmentation, segment_mask

__all__ = [
    "Alternative", "Page", "PageImage", "SegmentConfig", "Segmentation", "Segmented", "TranscribeConfig",
    "TranscribedGlyph", "TranscribedLine", "build_page", "confirm", "cut_out", "delete_glyph", "glyph_json",
    "merge_glyphs", "page_csv", "page_json", "page_recognizer", "rank_glyphs", "read_page", "read_page_json",
    "rerank", "segment_mask", "segment_page", "split_glyph", "transcribe", "transcribe_segmented",
]
