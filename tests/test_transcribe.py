"""Transcribing pages (engine.transcribe): what a person checks on a page they know the text of.

Pages are composed from known glyphs (tests/synthetic.py's shapes, or real Omniglot drawings) with their truth
boxes, and read with the shipped model.
"""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image

from engine.cancel import Cancelled
from engine.gallery import Character, Gallery, Reference
from engine.glyph import GlyphError
from engine.recognition.recognize import Recognizer
from engine.transcribe import SegmentConfig, TranscribeConfig, page_json, page_recognizer, transcribe
from engine.transcribe.compose import PageLayout, compose_page, scan_like
from engine.transcribe.regroup import RegroupConfig, choose_spans
from synthetic import page_shapes, two_part_shape

SHAPES = page_shapes()
NAMES = list(SHAPES)


def compose(lines: list[list[str]], seed: int = 0, rtl: bool = False, layout: PageLayout | None = None):
    rng = np.random.default_rng(seed)
    return compose_page([[(n, SHAPES[n]) for n in line] for line in lines], rng, layout, rtl=rtl)


def names_of(page) -> list[list[str | None]]:
    return [[g.name for g in line.glyphs] for line in page.lines]


def truth_of(composed) -> list[list[str]]:
    return [[label for label, _ in line] for line in composed.lines]


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union


@pytest.fixture
def recognizer(shipped_model, shapes_gallery) -> Recognizer:
    return Recognizer(shipped_model, shapes_gallery)


TWO_LINES = [NAMES, NAMES[::-1]]


@pytest.mark.parametrize("look", ["clean", "scan-like", "light on dark"])
def test_a_page_of_the_references_themselves_transcribes_exactly(recognizer, look):
    composed = compose(TWO_LINES)
    image = {"clean": composed.luminance(), "scan-like": scan_like(composed, np.random.default_rng(1)),
             "light on dark": 255 - composed.luminance()}[look]
    page = transcribe(image, recognizer)
    assert names_of(page) == truth_of(composed)
    assert all(g.confident for g in page.glyphs)
    assert page.text == "\n".join("".join(f"[{n}]" for n in line) for line in TWO_LINES)  # no Unicode chars known
    boxes = [b for line in composed.lines for _, b in line]
    assert all(iou(g.box, b) >= 0.8 for g, b in zip(page.glyphs, boxes))


def test_a_dotted_glyph_and_a_two_bar_glyph_stay_one_glyph_each(recognizer):
    composed = compose([["dotted", "equals", "dotted", "equals", "dotted", "ring", "equals"]], seed=3)
    page = transcribe(composed.luminance(), recognizer)
    assert names_of(page) == truth_of(composed)
    for g, (_, box) in zip(page.glyphs, composed.lines[0]):
        assert iou(g.box, box) >= 0.9  # the box holds the dot (or both bars), not just the stem


def test_a_glyph_in_two_separate_parts_is_one_glyph_when_the_gallery_knows_it(shipped_model):
    shapes = {**SHAPES, "bars": two_part_shape()}
    gallery = Gallery.in_memory("Shapes and bars", [Character(n, [Reference(f"{n}.png", "", ink.astype(np.float32))])
                                                   for n, ink in shapes.items()])
    recognizer = Recognizer(shipped_model, gallery)
    line = ["ring", "bars", "cross", "ell", "bars", "wedge", "bars", "zed"]
    composed = compose_page([[(n, shapes[n]) for n in line]], np.random.default_rng(4))
    geometry_only = transcribe(composed.luminance(), recognizer, TranscribeConfig(regroup=RegroupConfig(enabled=False)))
    assert len(geometry_only.glyphs) > len(line)  # the gap between the bars is wider than a gap inside a glyph
    page = transcribe(composed.luminance(), recognizer)
    assert names_of(page) == [line]
    for g, (_, box) in zip(page.glyphs, composed.lines[0]):
        assert iou(g.box, box) >= 0.9


def test_recognition_joins_two_pieces_only_for_a_confident_match_that_beats_them_apart():
    assert choose_spans([0.3, 0.2, 0.9], {0: (0.95, True)}) == [(0, 2), (2, 3)]
    assert choose_spans([0.3, 0.2, 0.9], {0: (0.95, False)}) == [(0, 1), (1, 2), (2, 3)]  # not confident
    assert choose_spans([0.97, 0.96], {0: (0.9, True)}) == [(0, 1), (1, 2)]  # each is a better match alone
    assert choose_spans([0.2, 0.3, 0.2], {0: (0.8, True), 1: (0.99, True)}) == [(0, 1), (1, 3)]
    assert choose_spans([], {}) == []


def test_pages_rank_with_reference_views_that_follow_the_gallerys_edits(shipped_model):
    gallery = Gallery.in_memory("Some shapes", [Character(n, [Reference(f"{n}.png", "", SHAPES[n].astype(np.float32))])
                                                for n in ("ring", "cross", "wedge")])
    single = Recognizer(shipped_model, gallery)
    page = page_recognizer(single)
    assert page.views.reference_views == 8 and page.views.center == single.views.center
    assert page.gallery is gallery
    assert page.threshold == shipped_model.card["page_rank_threshold"] > single.threshold  # best of 9 views
    own = Recognizer(shipped_model, gallery, threshold=0.5)
    assert page_recognizer(own).threshold == 0.5  # a threshold a person chose is kept
    assert page_recognizer(single) is page  # made once: its reference embeddings are kept
    composed = compose([["zed", "ring"]])
    assert names_of(transcribe(composed.luminance(), single))[0][1] == "ring"
    gallery.add_character("zed", [SHAPES["zed"].astype(np.float32)])
    assert names_of(transcribe(composed.luminance(), single)) == [["zed", "ring"]]


def test_two_skewed_lines_come_out_in_order(recognizer):
    composed = compose([NAMES[:6], NAMES[2:]], seed=5)
    # A page scanned 3 degrees askew: each long line drifts by about half a glyph's height.
    image = Image.fromarray(composed.luminance()).rotate(3, expand=True, fillcolor=255, resample=Image.BILINEAR)
    page = transcribe(np.asarray(image), recognizer)
    assert names_of(page) == truth_of(composed)


def test_uneven_baselines_stay_one_line(recognizer):
    composed = compose([NAMES + NAMES], seed=7, layout=PageLayout(jitter=0.25))
    page = transcribe(composed.luminance(), recognizer)
    assert names_of(page) == truth_of(composed)


def test_right_to_left(recognizer):
    composed = compose(TWO_LINES, seed=2, rtl=True)
    rtl = TranscribeConfig(segment=SegmentConfig(rtl=True))
    assert names_of(transcribe(composed.luminance(), recognizer, rtl)) == truth_of(composed)
    # Read left to right, the same page gives each line reversed.
    assert names_of(transcribe(composed.luminance(), recognizer)) == [line[::-1] for line in truth_of(composed)]


def test_alternatives_are_the_top_k_best_first_and_the_json_follows_the_schema(recognizer):
    composed = compose([NAMES[:3]])
    page = transcribe(composed.luminance(), recognizer, TranscribeConfig(top=4))
    data = page_json(page, image="page.png")
    assert set(data) == {"image", "lines", "text"} and data["image"] == "page.png"
    assert data["text"] == "[ring][cross][wedge]"
    (line,) = data["lines"]
    assert set(line) == {"box", "glyphs"} and len(line["box"]) == 4
    for g, name in zip(line["glyphs"], NAMES[:3]):
        assert set(g) == {"box", "name", "char", "score", "confident", "alternatives"}
        assert g["name"] == name and g["char"] is None and g["confident"] is True
        scores = [a["score"] for a in g["alternatives"]]
        assert len(scores) == 4 and scores == sorted(scores, reverse=True) and scores[0] == g["score"]
        assert g["alternatives"][0]["name"] == name


def test_unicode_characters_and_unconfident_glyphs_in_the_text(shipped_model):
    def ref(name: str) -> Reference:
        return Reference(f"{name}.png", "", SHAPES[name].astype(np.float32))

    gallery = Gallery.in_memory("Two", [Character("ring", [ref("ring")], "o"), Character("cross", [ref("cross")])])
    composed = compose([["ring", "cross", "zed"]])
    page = transcribe(composed.luminance(), Recognizer(shipped_model, gallery))
    ring, cross, zed = page.glyphs
    assert (ring.text, cross.text) == ("o", "[cross]")
    assert not zed.confident and zed.text == f"[{zed.char or zed.name}?]"  # not in the gallery: a guess, marked


# ------------------------------------------------------------------------------------------- bad input


def test_a_blank_page_gives_no_lines_and_says_so(recognizer):
    page = transcribe(np.full((800, 600), 255, np.uint8), recognizer)
    assert page.lines == [] and page.text == ""
    assert any("blank" in n for n in page.notes)


def test_ten_thousand_specks_are_not_glyphs(recognizer):
    rng = np.random.default_rng(0)
    image = np.full((2000, 2000), 255, np.uint8)
    ys, xs = rng.integers(0, 1999, 10_000), rng.integers(0, 1999, 10_000)
    image[ys, xs] = 0
    image[ys[::2], xs[::2] + 1] = 0  # some specks of two pixels
    page = transcribe(image, recognizer)
    assert page.lines == []
    assert any("specks" in n for n in page.notes)


def test_dust_beside_the_text_is_dropped(recognizer):
    composed = compose(TWO_LINES, seed=4)
    image = composed.luminance().copy()
    rng = np.random.default_rng(1)
    ys, xs = rng.integers(0, image.shape[0], 400), rng.integers(0, image.shape[1], 400)
    image[ys, xs] = 0
    assert names_of(transcribe(image, recognizer)) == truth_of(composed)


def test_a_40_megapixel_scan_is_read_and_boxes_are_in_its_pixels(recognizer):
    composed = compose([NAMES[:4]], seed=6)
    small = Image.fromarray(composed.luminance())
    factor = 8
    scan = Image.new("L", (8000, 5000), 255)
    scan.paste(small.resize((small.width * factor, small.height * factor), Image.BILINEAR), (100, 200))
    buffer = io.BytesIO()
    scan.save(buffer, format="PNG")
    page = transcribe(buffer.getvalue(), recognizer)
    assert page.size == (8000, 5000)
    assert names_of(page) == truth_of(composed)
    for g, (_, b) in zip(page.glyphs, composed.lines[0]):
        expected = (100 + b[0] * factor, 200 + b[1] * factor, 100 + b[2] * factor, 200 + b[3] * factor)
        assert iou(g.box, expected) >= 0.8


def test_an_empty_gallery_finds_the_glyphs_but_names_none(shipped_model):
    composed = compose([NAMES[:3]])
    page = transcribe(composed.luminance(), Recognizer(shipped_model, Gallery.in_memory("Empty")))
    assert [g.name for g in page.glyphs] == [None, None, None]
    assert not any(g.confident for g in page.glyphs) and page.text == "[?][?][?]"
    assert any("gallery has no characters" in n for n in page.notes)


def test_touching_glyphs_are_one_box_marked_as_a_best_effort(recognizer):
    composed = compose([["ring", "cross", "ell", "tee"]], layout=PageLayout(gap_range=(-0.15, -0.15)))
    page = transcribe(composed.luminance(), recognizer)
    assert len(page.glyphs) < 4
    assert any(g.wide for g in page.glyphs) and any("touching" in n for n in page.notes)


def test_an_unreadable_file_is_a_clear_error(recognizer, tmp_path):
    bad = tmp_path / "page.png"
    bad.write_bytes(b"%PDF-1.4 not an image")
    with pytest.raises(GlyphError, match="PDF"):
        transcribe(bad, recognizer)


def test_cancel_stops_the_ranking(recognizer):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        transcribe(compose([NAMES]).luminance(), recognizer, cancel=cancel)


def test_progress_counts_the_glyphs_ranked(recognizer):
    seen = []
    transcribe(compose(TWO_LINES).luminance(), recognizer, TranscribeConfig(batch_size=5),
               progress=lambda done, total: seen.append((done, total)))
    assert seen == [(5, 16), (10, 16), (15, 16), (16, 16)]


# ------------------------------------------------------------------------------------------ real data


def test_a_real_omniglot_page_against_its_own_drawings(real_omniglot, shipped_model):
    """Latin (a validation alphabet) a-z as drawer 1 wrote it, with drawer 1's drawings as the gallery: every glyph
    is found in order, and nearly all read right (a drawing scaled to 35-60 px on the page is not the drawing)."""
    data = real_omniglot.background
    latin = data.alphabets.index("Latin")
    chars = data.alphabet_characters(latin)
    drawings = {}
    for c in chars:
        idx = np.flatnonzero((data.char == c) & (data.drawer == 1))[0]
        drawings[data.char_names[c]] = data.pixels(np.array([idx]))[0]
    gallery = Gallery.in_memory("Latin", [Character(n, [Reference(f"{n}.png", "", px.astype(np.float32))])
                                          for n, px in drawings.items()])
    names = list(drawings)
    composed = compose_page([[(n, drawings[n]) for n in names[:13]], [(n, drawings[n]) for n in names[13:]]],
                            np.random.default_rng(0))
    page = transcribe(composed.luminance(), Recognizer(shipped_model, gallery))
    truth = truth_of(composed)
    assert [len(line) for line in names_of(page)] == [len(line) for line in truth]
    boxes = [b for line in composed.lines for _, b in line]
    assert all(iou(g.box, b) >= 0.8 for g, b in zip(page.glyphs, boxes))
    right = sum(g.name == t for g, t in zip(page.glyphs, sum(truth, [])))
    assert right >= 24, f"{right} of 26 read right"
