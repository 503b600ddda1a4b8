"""The workspace (engine.workspace) without a window: loading a model, opening, creating and importing galleries,
edits with undo and redo, and ranking, one glyph or a batch, with the glyph exactly as the encoder got it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.recognition.centering import center_ink
from engine.gallery import Gallery, GalleryError
from engine.glyph import Glyph
from engine.strokes import Stroke
from engine.workspace import (EMPTY_CANVAS, EMPTY_GALLERY, NO_GALLERY, NO_MODEL, RANKED, HistoryError, NoGallery,
                              Workspace, galleries_dir)

from glyph_shapes import shape
from synthetic import write_png

KINDS = ["bar", "pole", "box", "ring", "diag", "ell"]


def glyph(kind: str, dx: int = 0, dy: int = 0) -> Glyph:
    return Glyph(shape(kind, dx, dy), no_ink=False)


def centred(pixels: np.ndarray) -> np.ndarray:
    """The glyph with its ink box moved to the middle, as the shipped card asks (engine.recognition.centering)."""
    return center_ink(torch.from_numpy(np.array(pixels))[None, None])[0, 0].numpy()


def state(ws: Workspace) -> list[tuple[str, int]]:
    """What a person sees of the open gallery: its characters in order with their number of examples."""
    return [(c.name, len(c.references)) for c in ws.snapshot().characters]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> Workspace:
    """A workspace with the shipped model loaded on the CPU and a gallery of the six shapes (read-only tests)."""
    ws = Workspace(rank_threads=None)
    info = ws.load_model(None, "cpu")
    assert info.device == "cpu" and info.name
    ws.create_gallery("Shapes", tmp_path_factory.mktemp("g") / "shapes")
    for kind in KINDS:
        ws.add_character(kind, glyph(kind))
    return ws


@pytest.fixture
def workspace(shipped, tmp_path) -> Workspace:
    """A fresh workspace sharing the loaded model, with an empty gallery of its own."""
    ws = Workspace(rank_threads=None)
    ws.loaded = shipped.loaded
    ws.create_gallery("Mine", tmp_path / "mine")
    return ws


# ----------------------------------------------------------------------------------------------- ranking


def test_ranking_says_what_is_missing_before_it_can_rank(shipped, tmp_path):
    ws = Workspace(rank_threads=None)
    assert ws.rank(glyph("ring")).state == NO_MODEL
    assert ws.rank([]).state == EMPTY_CANVAS and ws.rank(None).glyph is None
    ws.loaded = shipped.loaded
    assert ws.rank(glyph("ring")).state == NO_GALLERY
    ws.create_gallery("Empty", tmp_path / "empty")
    outcome = ws.rank(glyph("ring"))
    assert outcome.state == EMPTY_GALLERY and outcome.matches == () and outcome.model_input is None
    assert ws.rank(Glyph(np.zeros((105, 105), np.float32), no_ink=True)).state == EMPTY_CANVAS


def test_each_shape_ranks_itself_first_and_carries_the_encoders_input(shipped):
    for kind in KINDS:
        query = glyph(kind, 9, -7)
        outcome = shipped.rank(query, request_id=7)
        assert outcome.state == RANKED and outcome.request_id == 7 and outcome.glyph is query
        assert outcome.matches[0].name == kind and len(outcome.matches) == 5
        np.testing.assert_array_equal(outcome.model_input, centred(query.pixels))
        # The encoder's input is what the gallery's embedding of the same pixels is made from.
        direct = shipped.recognizer.encoder.embed(query.pixels[None], center=True)
        ranked = shipped.recognizer.encoder.embed(outcome.model_input[None])
        assert torch.equal(direct, ranked)


def test_strokes_are_rendered_in_omniglots_framing_then_ranked(shipped):
    from engine.glyph import render_strokes

    ring = [Stroke(np.column_stack([52 + 26 * np.cos(t), 52 + 26 * np.sin(t)]))
            for t in [np.linspace(0, 2 * np.pi, 64)]]
    outcome = shipped.rank(ring)
    np.testing.assert_array_equal(outcome.glyph.pixels, render_strokes(ring, area=105.0, frame=True).pixels)
    np.testing.assert_array_equal(outcome.model_input, centred(outcome.glyph.pixels))
    assert outcome.matches[0].name == "ring"


def test_a_batch_ranks_as_each_glyph_alone(shipped):
    queries = [glyph(kind, dx, dy) for kind in KINDS for dx, dy in ((0, 0), (6, -4))]
    queries.insert(3, Glyph(np.zeros((105, 105), np.float32), no_ink=True))
    batch = shipped.rank_glyphs(queries, k=3, batch_size=4)
    assert [o.request_id for o in batch] == list(range(len(queries)))
    for query, outcome in zip(queries, batch):
        alone = shipped.rank(query, k=3)
        assert outcome.state == alone.state and outcome.glyph is query
        assert [m.name for m in outcome.matches] == [m.name for m in alone.matches]
        # A batch runs the same network on the same inputs; only the order of float sums may differ.
        assert [m.score for m in outcome.matches] == pytest.approx([m.score for m in alone.matches], abs=1e-4)
        if alone.model_input is None:
            assert outcome.model_input is None
        else:
            np.testing.assert_array_equal(outcome.model_input, alone.model_input)
    assert batch[3].state == EMPTY_CANVAS


def test_query_views_take_effect_at_the_next_ranking(shipped):
    assert shipped.rank(glyph("box")).query_views == 0
    shipped.set_query_views(True)
    try:
        outcome = shipped.rank(glyph("box"))
        assert outcome.query_views > 0 and outcome.matches[0].name == "box"
    finally:
        shipped.set_query_views(False)
    assert shipped.rank(glyph("box")).query_views == 0


def test_a_model_that_fails_to_load_leaves_the_current_one(shipped, tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not weights")
    before = shipped.loaded
    with pytest.raises(Exception):
        shipped.load_model(bad, "cpu")
    assert shipped.loaded is before and shipped.rank(glyph("ell")).matches[0].name == "ell"


# ----------------------------------------------------------------------------------------------- galleries


def test_edits_rank_at_once_and_undo_and_redo_restore_each_state(workspace):
    ws = workspace
    states = [state(ws)]
    for kind in ("bar", "ring", "ell"):
        edited = ws.add_character(kind, glyph(kind))
        states.append(state(ws))
    assert edited.message == "Added “ell”." and edited.snapshot.history.undo_text == "Add “ell”"
    assert ws.rank(glyph("ring", 4, 4)).matches[0].name == "ring"
    ws.add_reference("ring", glyph("ring", 10, 0))
    states.append(state(ws))
    ws.rename("ring", "circle")
    states.append(state(ws))
    assert ws.rank(glyph("ring", 4, 4)).matches[0].name == "circle"  # the recogniser follows the edit
    ws.remove_reference("circle", 0)
    states.append(state(ws))
    ws.merge(["bar", "ell"], "bar")
    states.append(state(ws))
    ws.delete(["circle"])
    states.append(state(ws))
    assert state(ws) == [("bar", 2)]
    assert [m.name for m in ws.rank(glyph("ring")).matches] == ["bar"]

    for expected in reversed(states[:-1]):
        ws.undo()
        assert state(ws) == expected
    assert ws.snapshot().history.undo_text is None
    with pytest.raises(HistoryError, match="nothing to undo"):
        ws.undo()
    for expected in states[1:]:
        ws.redo()
        assert state(ws) == expected
    assert state(ws) == [(c.name, len(c.references)) for c in Gallery.open(ws.snapshot().path).characters]


def test_a_refused_edit_changes_nothing(workspace):
    ws = workspace
    ws.add_character("bar", glyph("bar"))
    ws.add_character("ring", glyph("ring"))
    before, history = state(ws), ws.snapshot().history
    with pytest.raises(HistoryError, match="Nothing was changed"):
        ws.rename("bar", "ring")
    with pytest.raises(GalleryError):
        ws.add_character("bar", glyph("box"))
    assert state(ws) == before and ws.snapshot().history == history


def test_edits_need_an_open_gallery(shipped):
    ws = Workspace(rank_threads=None)
    with pytest.raises(NoGallery, match="No gallery is open"):
        ws.add_character("bar", glyph("bar"))
    with pytest.raises(HistoryError, match="nothing to undo or redo"):
        ws.undo()


def test_adding_images_is_one_step_and_names_what_it_skipped(workspace, tmp_path):
    ws = workspace
    paths = [tmp_path / "ring.png", tmp_path / "bar.png", tmp_path / "blank.png", tmp_path / "ring2.png"]
    write_png(paths[0], shape("ring") > 0)
    write_png(paths[1], shape("bar") > 0)
    write_png(paths[2], np.zeros((105, 105), bool))
    paths[3].write_bytes(b"not an image")
    edited = ws.add_images(paths)
    assert state(ws) == [("ring", 1), ("bar", 1)]
    assert edited.message.startswith("Added 2 images to the gallery. Skipped 2: blank.png (no ink found in it)")
    assert "ring2.png" in edited.message and edited.snapshot.history.undo_text == "Add 2 images"
    ws.undo()
    assert state(ws) == []


def test_each_gallery_keeps_its_own_history(workspace, tmp_path):
    ws = workspace
    first = ws.snapshot().path
    ws.add_character("bar", glyph("bar"))
    ws.create_gallery("Other", tmp_path / "other")
    assert ws.snapshot().history.undo_text is None
    ws.add_character("ring", glyph("ring"))
    ws.open_gallery(first)
    assert ws.snapshot().history.undo_text == "Add “bar”"
    ws.undo()
    assert state(ws) == [] and ws.rank(glyph("bar")).state == EMPTY_GALLERY


def test_a_gallery_that_cannot_be_opened_leaves_the_open_one(workspace, tmp_path):
    workspace.add_character("bar", glyph("bar"))
    (tmp_path / "nothing").mkdir()
    with pytest.raises(GalleryError):
        workspace.open_gallery(tmp_path / "nothing")
    assert state(workspace) == [("bar", 1)] and workspace.rank(glyph("bar")).matches[0].name == "bar"


def test_imports_get_unique_names_and_start_with_an_empty_history(workspace, tmp_path):
    source = tmp_path / "Shapes"
    for kind in ("ring", "bar", "box"):
        write_png(source / f"{kind}.png", shape(kind) > 0)
    first = Workspace.import_gallery(source)
    edited = workspace.adopt_import(first)
    assert edited.message == "Imported “Shapes”: 3 characters, 3 examples."
    assert edited.snapshot.path.parent == galleries_dir() and edited.snapshot.history.undo_text is None
    assert workspace.rank(glyph("box", 3, 3)).matches[0].name == "box"
    second = workspace.adopt_import(Workspace.import_gallery(source))
    assert second.snapshot.name == "Shapes (2)" and second.snapshot.path != edited.snapshot.path
    made = workspace.create_gallery("Shapes")
    assert made.name == "Shapes (3)" and made.path.parent == galleries_dir()


def test_export_writes_the_open_gallery(workspace, tmp_path):
    workspace.add_character("bar", glyph("bar"))
    out = workspace.export(tmp_path / "copy.zip", as_zip=True)
    from engine.gallery import load_gallery

    assert out.is_file() and load_gallery(out).names() == ["bar"]


def test_importing_the_workspace_loads_no_torch():
    """The app imports the workspace while its window opens; torch (seconds to import) waits for the first call."""
    import subprocess
    import sys

    from engine.paths import REPO_ROOT

    code = "import sys, engine.workspace; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_another_writers_change_is_reloaded_and_ranked(workspace):
    ws = workspace
    ws.add_character("bar", glyph("bar"))
    assert ws.reload_gallery() is None  # nothing changed: nothing to do
    Gallery.open(ws.snapshot().path).add_character("ring", [shape("ring")])  # "the command line"
    edited = ws.reload_gallery()
    assert edited is not None and "changed by another program" in edited.message
    assert state(ws) == [("bar", 1), ("ring", 1)] and edited.snapshot.characters[1].name == "ring"
    assert ws.rank(glyph("ring", 4, 4)).matches[0].name == "ring"  # the recogniser embedded what is new
