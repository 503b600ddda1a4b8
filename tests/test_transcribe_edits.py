"""A person's edits of a transcribed page (engine.transcribe.edits), touching glyphs cut apart, and a line written
on the wide canvas: what a person checks after merging, splitting or deleting boxes."""

from __future__ import annotations

import numpy as np
import pytest

from engine.gallery import Gallery
from engine.recognition.recognize import Recognizer
from engine.strokes import Stroke
from engine.transcribe import (SegmentConfig, TranscribeConfig, delete_glyph, merge_glyphs, page_json,
                               split_glyph, transcribe, transcribe_segmented)
from engine.transcribe.compose import PageLayout, compose_page
from engine.transcribe.written import render_line
from synthetic import page_shapes, shapes_line

SHAPES = page_shapes()


class CountingRecognizer:
    """The recognizer, counting the glyphs it is asked to rank (so a test sees what was re-ranked)."""

    def __init__(self, recognizer: Recognizer):
        self.recognizer, self.ranked = recognizer, 0

    def rank_many(self, glyphs, *args, **kwargs):
        self.ranked += len(glyphs)
        return self.recognizer.rank_many(glyphs, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.recognizer, name)


@pytest.fixture
def recognizer(shipped_model, shapes_gallery) -> CountingRecognizer:
    return CountingRecognizer(Recognizer(shipped_model, shapes_gallery))


def names(page) -> list[str | None]:
    return [g.name for g in page.glyphs]


def broken_ring() -> np.ndarray:
    """The ring with a gap cut down its middle: two arcs, a glyph a page segmented too finely shows as two."""
    ink = SHAPES["ring"].copy()
    ink[:, 50:56] = 0
    return ink


def compose(glyphs, layout: PageLayout | None = None, seed: int = 0):
    return compose_page([glyphs], np.random.default_rng(seed), layout).luminance()


# A segmentation that splits the broken ring; ranked with the recognizer's own views (no page reference views), so
# the counting recognizer is the one that ranks.
FINE = TranscribeConfig(segment=SegmentConfig(gap_fraction=0.02), reference_views=0)


def test_merging_the_two_halves_of_a_glyph_gives_one_glyph_ranked_again(recognizer):
    image = compose([("cross", SHAPES["cross"]), ("ring", broken_ring()), ("wedge", SHAPES["wedge"])])
    segmented, page = transcribe_segmented(image, recognizer, FINE)
    assert len(page.glyphs) == 4  # the ring came out as its two arcs
    cross, wedge = page.glyphs[0], page.glyphs[3]
    recognizer.ranked = 0
    merged_seg, merged = merge_glyphs(segmented, page, 1, 2, recognizer, FINE)
    assert names(merged) == ["cross", "ring", "wedge"]
    assert recognizer.ranked == 1  # only the merged glyph was ranked again
    assert merged.glyphs[0] is cross and merged.glyphs[2] is wedge  # the others kept as they were
    assert merged_seg.count == 3 and len(merged_seg.segmentation.glyphs[1].components) == 2
    a, b = page.glyphs[1].box, page.glyphs[2].box
    assert merged.glyphs[1].box == (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
    assert merged.text.startswith("[cross][ring") and merged.text.endswith("[wedge]") and merged.text.count("[") == 3
    assert len(page.glyphs) == 4 and segmented.count == 4  # the edit left the old page as it was (undo)
    with pytest.raises(ValueError, match="neighbouring"):
        merge_glyphs(segmented, page, 0, 2, recognizer, FINE)


def test_splitting_a_box_of_two_touching_glyphs_gives_both_names(recognizer):
    whole = TranscribeConfig(segment=SegmentConfig(split_touching=False))
    image = shapes_line(["ring", "cross"], touching={1})
    segmented, page = transcribe_segmented(image, recognizer, whole)
    assert len(page.glyphs) == 1  # one piece of ink
    _, split = split_glyph(segmented, page, 0, recognizer, whole)
    assert names(split) == ["ring", "cross"] and not any(g.split for g in split.glyphs)
    left, right = split.glyphs
    assert left.box[2] <= right.box[0] + 1 and left.box[0] == page.glyphs[0].box[0]


def test_splitting_a_box_of_two_grouped_glyphs_splits_between_their_components(recognizer):
    # Rules that group neighbours far apart: the ring and the cross become one box of two components.
    loose = TranscribeConfig(segment=SegmentConfig(gap_fraction=1.0, max_width=4.0))
    segmented, page = transcribe_segmented(shapes_line(["ring", "cross", "wedge"]), recognizer, loose)
    assert len(page.glyphs) == 1
    split_seg, split = split_glyph(segmented, page, 0, recognizer, loose)
    assert len(split.glyphs) == 2 and split.glyphs[0].name == "ring"
    assert split_seg.segmentation.labels is segmented.segmentation.labels  # split along components: no ink cut
    _, again = split_glyph(split_seg, split, 1, recognizer, loose)
    assert names(again) == ["ring", "cross", "wedge"]


def test_a_confirmed_glyph_keeps_its_name_through_an_edit(recognizer):
    from dataclasses import replace

    from engine.transcribe.corrections import with_glyph
    from engine.transcribe.result import Alternative

    image = compose([("zed", SHAPES["zed"]), ("ring", broken_ring())])
    segmented, page = transcribe_segmented(image, recognizer, FINE)
    page = with_glyph(page, 0, replace(page.glyphs[0], alternatives=[Alternative("my zed", 1.0)], confirmed=True))
    _, merged = merge_glyphs(segmented, page, 1, 2, recognizer, FINE)
    assert names(merged) == ["my zed", "ring"] and merged.glyphs[0].confirmed


def test_deleting_a_speck_removes_one_glyph_and_its_text(recognizer):
    image = compose([("ring", SHAPES["ring"]), ("cross", SHAPES["cross"]), ("wedge", SHAPES["wedge"])])
    segmented, page = transcribe_segmented(image, recognizer)
    recognizer.ranked = 0
    edited_seg, edited = delete_glyph(segmented, page, 1)
    assert names(edited) == ["ring", "wedge"] and edited.text == "[ring][wedge]"
    assert recognizer.ranked == 0 and edited_seg.count == 2
    assert [len(line["glyphs"]) for line in page_json(edited)["lines"]] == [2]
    # The last glyph of a line takes its line with it.
    _, one = delete_glyph(*delete_glyph(edited_seg, edited, 0), 0)
    assert one.lines == [] and one.text == ""


def test_an_edit_of_a_glyph_that_is_not_there_is_an_error(recognizer):
    segmented, page = transcribe_segmented(compose([("ring", SHAPES["ring"])]), recognizer)
    with pytest.raises(IndexError):
        delete_glyph(segmented, page, 1)
    with pytest.raises(IndexError):
        split_glyph(segmented, page, -1, recognizer)


# ------------------------------------------------------------------------------------------ touching glyphs


SPLIT = TranscribeConfig(segment=SegmentConfig(split_touching=True))  # off by default (README: the benchmark)


def test_two_glyphs_drawn_touching_come_out_as_two_marked_as_a_best_effort(recognizer):
    image = shapes_line(["ring", "cross", "wedge", "zed", "tee"], touching={4})
    page = transcribe(image, recognizer, SPLIT)
    assert names(page) == ["ring", "cross", "wedge", "zed", "tee"]
    assert [g.split for g in page.glyphs] == [False, False, False, True, True]
    assert any("cut from touching glyphs" in n for n in page.notes)
    glyphs = page_json(page)["lines"][0]["glyphs"]
    assert [g.get("best_effort") for g in glyphs] == [None, None, None, "split", "split"]
    # Without the best effort, the pair is one wide box, marked as such.
    whole = transcribe(image, recognizer)
    assert len(whole.glyphs) == 4 and whole.glyphs[3].wide
    assert page_json(whole)["lines"][0]["glyphs"][3]["best_effort"] == "wide"


def test_a_wide_glyph_whose_pieces_would_be_too_narrow_stays_whole(recognizer):
    # A cut is kept only when every piece is a plausible glyph (min_piece x the line's glyph height wide): with a
    # rule no piece of this pair can meet, the pair stays one box, marked wide.
    narrow = SegmentConfig(split_touching=True, min_piece=2.0)  # no piece can be two glyph heights wide
    image = shapes_line(["ring", "cross", "wedge", "zed", "tee"], touching={4})
    page = transcribe(image, recognizer, TranscribeConfig(segment=narrow))
    assert len(page.glyphs) == 4 and page.glyphs[3].wide and not any(g.split for g in page.glyphs)


# ------------------------------------------------------------------------------------------ a written line


def test_a_line_written_on_the_wide_canvas_gives_its_glyphs_in_order(recognizer):
    # Two separated shapes written on a canvas four squares wide, in canvas units (the square canvas's 105).
    ell = [Stroke([(30, 20), (30, 82), (78, 82)])]
    zed = [Stroke([(x + 210, y) for x, y in [(24, 24), (80, 24), (24, 80), (80, 80)]])]
    image = render_line(ell + zed, width=420)
    assert image.shape == (105, 420)
    page = transcribe(image, recognizer)
    assert len(page.lines) == 1 and names(page) == ["ell", "zed"]
    assert page.glyphs[0].box[2] < 210 <= page.glyphs[1].box[0]


def test_a_blank_written_line_is_a_blank_page_and_a_bad_size_an_error(recognizer):
    page = transcribe(render_line([], width=420), recognizer)
    assert page.lines == [] and any("blank" in n for n in page.notes)
    with pytest.raises(ValueError):
        render_line([], width=0)


def test_the_written_line_is_drawn_with_the_square_canvas_pen(recognizer):
    from engine.glyph import render_strokes

    strokes = [Stroke([(30, 20), (30, 82), (78, 82)])]
    line = render_line(strokes, width=105)
    assert np.array_equal(line < 128, render_strokes(strokes).pixels > 0)


def test_an_empty_gallery_names_no_edited_glyph(shipped_model):
    image = compose([("cross", SHAPES["cross"]), ("ring", broken_ring())])
    recognizer = Recognizer(shipped_model, Gallery.in_memory("Empty"))
    segmented, page = transcribe_segmented(image, recognizer, FINE)
    _, merged = merge_glyphs(segmented, page, 1, 2, recognizer, FINE)
    assert names(merged) == [None, None] and any("gallery has no characters" in n for n in merged.notes)
