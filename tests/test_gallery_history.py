"""The gallery's undo history (engine.gallery.history) on real engine galleries: every step undoes and redoes
exactly, and a step that cannot apply says why and changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from engine.gallery.history import (AddExamples, DeleteCharacters, GalleryHistory, HistoryError, MergeCharacters,
                                 RemoveExample, RenameCharacter)
from engine.gallery import Gallery


def _glyph(seed: int) -> np.ndarray:
    """A distinct 105x105 ink pattern per seed."""
    pixels = np.zeros((105, 105), np.float32)
    rng = np.random.default_rng(seed)
    for x, y in rng.integers(10, 90, size=(6, 2)):
        pixels[y:y + 8, x:x + 8] = 1.0
    return pixels


def _state(gallery: Gallery) -> list[tuple[str, list[str]]]:
    """What a person sees: the characters in order with their examples (by pixel digest)."""
    return [(c.name, [r.key for r in c.references]) for c in gallery.characters]


@pytest.fixture
def gallery(tmp_path) -> Gallery:
    g = Gallery.create(tmp_path / "Shapes", "Shapes")
    for i, name in enumerate(["triangle", "square", "circle", "star", "spiral"]):
        g.add_character(name, [_glyph(i)])
    return g


def _apply(history: GalleryHistory, gallery: Gallery, step) -> str:
    message = step.apply(gallery)
    history.push(step)
    return message


def test_each_step_undoes_and_redoes_exactly(gallery, tmp_path):
    history = GalleryHistory()
    states = [_state(gallery)]
    _apply(history, gallery, RenameCharacter("spiral", "swirl"))
    states.append(_state(gallery))
    _apply(history, gallery, DeleteCharacters(["square", "star"]))
    states.append(_state(gallery))
    gallery.add_reference("circle", _glyph(10))
    history.push(AddExamples("Add an example", [AddExamples.record(gallery, "circle", False)]))
    states.append(_state(gallery))
    gallery.add_character("hexagon", [_glyph(11)])
    history.push(AddExamples("Add “hexagon”", [AddExamples.record(gallery, "hexagon", True)]))
    states.append(_state(gallery))
    removed = gallery.remove_reference("circle", 0)
    history.push(RemoveExample("circle", 0, removed.pixels, removed.key))
    states.append(_state(gallery))
    merge = MergeCharacters(gallery, ["swirl", "triangle"], "triangle")
    _apply(history, gallery, merge)
    states.append(_state(gallery))
    assert gallery.names() == ["triangle", "circle", "hexagon"]

    for expected in reversed(states[:-1]):
        history.undo(gallery)
        assert _state(gallery) == expected
    assert history.state().undo_text is None
    for expected in states[1:]:
        history.redo(gallery)
        assert _state(gallery) == expected
    # Saved, not only in memory: the folder holds the final state.
    assert _state(Gallery.open(gallery.path)) == states[-1]


def test_deleting_five_is_one_step_and_undo_says_restored_5_characters(gallery):
    history = GalleryHistory()
    before = _state(gallery)
    message = _apply(history, gallery, DeleteCharacters(gallery.names()))
    assert message == "Deleted 5 characters." and len(gallery) == 0
    assert history.state().undo_text == "Delete 5 characters"
    assert history.undo(gallery) == "Restored 5 characters."
    assert _state(gallery) == before
    assert history.state().redo_text == "Delete 5 characters"


def test_a_step_that_cannot_apply_says_why_and_changes_nothing(gallery):
    """The issue's scenario, with the conflict coming from outside the history (another program)."""
    history = GalleryHistory()
    _apply(history, gallery, DeleteCharacters(gallery.names()))
    gallery.add_character("triangle", [_glyph(20)])  # e.g. the command line, while the app kept its history
    before = _state(gallery)
    with pytest.raises(HistoryError, match="Cannot undo Delete 5 characters: a character called “triangle” "
                                           "exists now. Nothing was changed."):
        history.undo(gallery)
    assert _state(gallery) == before  # none of the other four came back either
    assert history.state().undo_text == "Delete 5 characters" and history.state().redo_text is None


def test_a_new_change_ends_the_redo_and_an_empty_history_refuses(gallery):
    history = GalleryHistory()
    with pytest.raises(HistoryError, match="nothing to undo"):
        history.undo(gallery)
    _apply(history, gallery, DeleteCharacters(["triangle"]))
    history.undo(gallery)
    assert history.state().redo_text == "Delete “triangle”"
    _apply(history, gallery, RenameCharacter("square", "box"))
    assert history.state().redo_text is None
    before = _state(gallery)
    with pytest.raises(HistoryError, match="nothing to redo"):
        history.redo(gallery)
    assert _state(gallery) == before


def test_a_refused_first_apply_changes_nothing(gallery):
    before = _state(gallery)
    with pytest.raises(HistoryError, match="Cannot rename “square” to “circle”: a character called “circle"):
        RenameCharacter("square", "circle").apply(gallery)
    with pytest.raises(HistoryError, match="“ghost” is no longer in the gallery"):
        DeleteCharacters(["triangle", "ghost"]).apply(gallery)
    assert _state(gallery) == before


def test_undoing_an_added_example_that_was_changed_elsewhere_is_refused(gallery):
    history = GalleryHistory()
    gallery.add_reference("circle", _glyph(30))
    history.push(AddExamples("Add an example of “circle”", [AddExamples.record(gallery, "circle", False)]))
    gallery.remove_reference("circle", 1)  # removed outside the history
    before = _state(gallery)
    with pytest.raises(HistoryError, match="no longer holds the added example"):
        history.undo(gallery)
    assert _state(gallery) == before
