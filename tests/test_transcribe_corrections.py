"""Correcting a transcription (engine.transcribe.corrections) and exporting it (text, JSON, CSV)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from engine.transcribe import confirm, page_csv, page_json, read_page_json, transcribe
from engine.transcribe.compose import compose_page
from engine.workspace import Workspace
from synthetic import page_shapes

SHAPES = page_shapes()


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    """The shipped model with a gallery folder knowing ring and cross only."""
    ws = Workspace(rank_threads=None)
    ws.load_model(None, "cpu")
    ws.create_gallery("Two", tmp_path / "two")
    ws.add_character("ring", _glyph("ring"))
    ws.add_character("cross", _glyph("cross"))
    return ws


def _glyph(name: str):
    from engine.glyph import Glyph

    return Glyph(SHAPES[name].astype(np.float32), no_ink=False)


def page_of(workspace, names: list[str], seed: int = 0):
    composed = compose_page([[(n, SHAPES[n]) for n in names]], np.random.default_rng(seed))
    return transcribe(composed.luminance(), workspace.recognizer)


def test_a_correction_enrols_the_glyph_undoably_and_re_ranks_the_others(workspace):
    page = page_of(workspace, ["ring", "zed", "cross", "zed"])
    assert [g.confident for g in page.glyphs] == [True, False, True, False]  # zed is not in the gallery
    corrected, edited = confirm(workspace, page, 1, "zed")
    assert "zed" in workspace.gallery.names() and "zed" in edited.message
    first, second = corrected.glyphs[1], corrected.glyphs[3]
    assert first.confirmed and first.name == "zed"
    # The other zed, not confirmed, was ranked again against the gallery that now knows zed.
    assert not second.confirmed and second.name == "zed" and second.confident
    assert [g.name for g in corrected.glyphs] == ["ring", "zed", "cross", "zed"]
    # Undone like every gallery edit: the gallery is back to two characters.
    workspace.undo()
    assert workspace.gallery.names() == ["ring", "cross"]


def test_a_correction_to_a_known_character_adds_another_example(workspace):
    page = page_of(workspace, ["ring", "cross"])
    confirm(workspace, page, 0, "ring")
    assert len(workspace.gallery.character("ring").references) == 2


def test_a_correction_needs_a_name(workspace):
    page = page_of(workspace, ["ring"])
    with pytest.raises(ValueError, match="name"):
        confirm(workspace, page, 0, "  ")
    assert workspace.gallery.names() == ["ring", "cross"]


def test_json_export_reads_back_with_the_same_boxes_and_names(workspace):
    page = page_of(workspace, ["ring", "cross", "ring"])
    text = json.dumps(page_json(page, image="p.png"))
    (line,) = read_page_json(json.loads(text))
    assert [(tuple(g["box"]), g["name"]) for g in line] == [(g.box, g.name) for g in page.glyphs]
    with pytest.raises(ValueError, match="lines"):
        read_page_json({"image": "p.png"})


def test_csv_export_has_a_row_per_glyph_in_reading_order(workspace):
    page = page_of(workspace, ["cross", "ring"])
    rows = list(csv.DictReader(io.StringIO(page_csv(page))))
    assert [(r["line"], r["position"], r["name"]) for r in rows] == [("1", "1", "cross"), ("1", "2", "ring")]
    assert [tuple(int(r[k]) for k in ("x0", "y0", "x1", "y1")) for r in rows] == [g.box for g in page.glyphs]
    assert [float(r["score"]) for r in rows] == [round(g.score, 6) for g in page.glyphs]
