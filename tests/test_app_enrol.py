"""Enrolling through the buttons, and editing the gallery: rename, delete with undo, merge, references."""

from __future__ import annotations

import pytest

from app_helpers import draw, sample_drawings, wait_gallery, wait_ranked


@pytest.fixture
def empty_gallery_window(make_window, qtbot):
    window = make_window()
    window.session.create_gallery("Mine")
    wait_gallery(qtbot, window, 0)
    return window


def _answer(monkeypatch, *answers):
    """Make the app's name prompts return `answers` in turn (and record the suggested defaults)."""
    from app import dialogs

    queue, defaults = list(answers), []

    def ask_text(_parent, _title, _label, default=""):
        defaults.append(default)
        return queue.pop(0)

    monkeypatch.setattr(dialogs, "ask_text", ask_text)
    return defaults


def _enrol_all(window, qtbot, monkeypatch, drawings):
    tab = window.recognise
    defaults = _answer(monkeypatch, *drawings)
    for i, (name, (reference, _query)) in enumerate(drawings.items()):
        tab.canvas.clear()
        draw(qtbot, tab.canvas, reference)
        wait_ranked(qtbot, window, state=None)
        assert tab.add_new.isEnabled()
        tab.add_new.click()
        wait_gallery(qtbot, window, i + 1)
    return defaults


def test_enrolled_characters_are_recognised_on_the_next_drawing(empty_gallery_window, qtbot, monkeypatch):
    window, drawings = empty_gallery_window, sample_drawings()
    defaults = _enrol_all(window, qtbot, monkeypatch, drawings)
    assert defaults[0] == "character01"  # the next free name is suggested
    assert window.session.snapshot.names() == list(drawings)
    tab = window.recognise
    for name, (_reference, query) in drawings.items():
        tab.canvas.clear()
        draw(qtbot, tab.canvas, query)
        outcome = wait_ranked(qtbot, window)
        assert outcome.matches[0].name == name
        assert tab.results.visible_matches()[0][0] == name
    assert "Mine" in window.status.gallery.text() and f"{len(drawings)} characters" in window.status.gallery.text()


def test_new_character_ranks_first_right_after_enrolment(empty_gallery_window, qtbot, monkeypatch):
    window, drawings = empty_gallery_window, sample_drawings()
    first, second = list(drawings)[:2]
    _enrol_all(window, qtbot, monkeypatch, {first: drawings[first]})
    tab = window.recognise
    tab.canvas.clear()
    draw(qtbot, tab.canvas, drawings[second][0])
    wait_ranked(qtbot, window)
    _answer(monkeypatch, second)
    tab.add_new.click()
    wait_gallery(qtbot, window, 2)
    # The drawing on screen is re-ranked against the new gallery: it now matches itself.
    outcome = wait_ranked(qtbot, window)
    assert outcome.matches[0].name == second and outcome.matches[0].score > 0.5


def test_add_as_another_example_of_the_top_result(empty_gallery_window, qtbot, monkeypatch):
    window, drawings = empty_gallery_window, sample_drawings()
    _enrol_all(window, qtbot, monkeypatch, drawings)
    name, (_reference, query) = next(iter(drawings.items()))
    tab = window.recognise
    tab.canvas.clear()
    draw(qtbot, tab.canvas, query)
    wait_ranked(qtbot, window)
    assert tab.add_example.isEnabled() and name in tab.add_example.text()
    tab.add_example.click()
    qtbot.waitUntil(lambda: len(window.session.snapshot.character(name).references) == 2, timeout=20_000)
    # Clicking a result shows all that character's references.
    tab.results.character_clicked.emit(name)
    dialog = tab._references
    assert dialog is not None and dialog.grid.count() == 2
    dialog.close()


def test_duplicate_name_is_refused_with_a_message(empty_gallery_window, qtbot, monkeypatch):
    window, drawings = empty_gallery_window, sample_drawings()
    name = next(iter(drawings))
    _enrol_all(window, qtbot, monkeypatch, {name: drawings[name]})
    _answer(monkeypatch, name)
    window.recognise.add_new.click()
    assert "already a character" in window.message_bar.text()
    assert len(window.session.snapshot.characters) == 1


def test_rename_delete_undo_and_merge(empty_gallery_window, qtbot, monkeypatch):
    from app import dialogs

    window, drawings = empty_gallery_window, sample_drawings()
    _enrol_all(window, qtbot, monkeypatch, drawings)
    names = list(drawings)
    view = window.recognise.gallery_view
    assert view.grid.count() == len(names)

    view.select([names[0]])
    _answer(monkeypatch, "renamed")
    window.act_rename.trigger()
    qtbot.waitUntil(lambda: "renamed" in window.session.snapshot.names(), timeout=20_000)

    view.select(["renamed"])
    window.act_delete.trigger()
    qtbot.waitUntil(lambda: "renamed" not in window.session.snapshot.names(), timeout=20_000)
    assert "Deleted" in window.message_bar.text()
    window.act_undo.trigger()  # the gallery's edit is the last thing done: Edit > Undo restores it
    qtbot.waitUntil(lambda: "renamed" in window.session.snapshot.names(), timeout=20_000)
    window.act_undo.trigger()  # and undoes the rename
    qtbot.waitUntil(lambda: names[0] in window.session.snapshot.names(), timeout=20_000)

    view.select(names[:2])
    monkeypatch.setattr(dialogs, "ask_item", lambda *_a: names[1])
    window.act_merge.trigger()
    qtbot.waitUntil(lambda: len(window.session.snapshot.characters) == len(names) - 1, timeout=20_000)
    assert len(window.session.snapshot.character(names[1]).references) == 2
    wait_gallery(qtbot, window)
