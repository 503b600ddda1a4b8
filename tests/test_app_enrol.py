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
    # Enrolling clears the canvas for the next character; the same drawing again now matches itself.
    assert tab.canvas.is_empty() and tab.results.is_showing_hint()
    draw(qtbot, tab.canvas, drawings[second][0])
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
    from app.references_dialog import ReferencesDialog

    tab.results.character_clicked.emit(name)
    dialog = tab.findChild(ReferencesDialog)
    assert dialog is not None and dialog.isVisible() and dialog.grid.count() == 2
    dialog.close()


def test_duplicate_name_is_refused_with_a_message(empty_gallery_window, qtbot, monkeypatch):
    window, drawings = empty_gallery_window, sample_drawings()
    name = next(iter(drawings))
    _enrol_all(window, qtbot, monkeypatch, {name: drawings[name]})
    draw(qtbot, window.recognise.canvas, drawings[name][1])
    wait_ranked(qtbot, window)
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


def _open_shapes(window, qtbot, app_env, folder_name="shapes", name="Shapes"):
    from app_helpers import make_gallery

    drawings = sample_drawings()
    folder = make_gallery(app_env["data"] / "galleries" / folder_name, drawings, name=name)
    window.open_gallery(folder)
    wait_gallery(qtbot, window, len(drawings))
    return folder, list(drawings)


def test_undo_history_belongs_to_its_gallery(make_window, qtbot, app_env, tmp_path, monkeypatch):
    """The issue's walk: delete all, undo ("Restored N characters"), redo; another gallery has its own history."""
    from app import dialogs

    window = make_window()
    folder, names = _open_shapes(window, qtbot, app_env)
    view, n = window.recognise.gallery_view, len(names)
    view.select(names)
    window.act_delete.trigger()
    wait_gallery(qtbot, window, 0)
    assert view.grid.count() == 0
    assert window.message_bar.text().startswith(f"Deleted {n} characters.")
    assert window.act_undo.text() == f"&Undo Delete {n} characters"
    window.act_undo.trigger()
    wait_gallery(qtbot, window, n)
    assert window.message_bar.text() == f"Restored {n} characters."
    assert [view.grid.item(i).text() for i in range(view.grid.count())] == names
    assert window.act_redo.text() == f"&Redo Delete {n} characters"

    # Another gallery (exported, imported back): Redo has nothing to do there and is not offered.
    monkeypatch.setattr(dialogs, "save_file", lambda *_a: tmp_path / "shapes.zip")
    window.act_export_zip.trigger()
    qtbot.waitUntil(lambda: (tmp_path / "shapes.zip").is_file() and not window.runner.busy, timeout=20_000)
    window.import_gallery(tmp_path / "shapes.zip")
    qtbot.waitUntil(lambda: window.session.snapshot.path != folder and not window.runner.busy, timeout=20_000)
    assert not window.act_redo.isEnabled() and not window.act_undo.isEnabled()
    window.act_redo.trigger()
    wait_gallery(qtbot, window)
    assert len(window.session.snapshot.characters) == n  # nothing was deleted

    # Back in the first gallery, its history is still there.
    window.open_gallery(folder)
    qtbot.waitUntil(lambda: window.session.snapshot.path == folder and not window.runner.busy, timeout=20_000)
    window.undo_actions.set_target("gallery")
    assert window.act_redo.isEnabled() and window.act_redo.text() == f"&Redo Delete {n} characters"


def test_a_gallery_step_that_cannot_apply_says_so_and_changes_nothing(make_window, qtbot, app_env, tmp_path):
    from app_helpers import make_gallery
    from engine.gallery import Gallery

    window = make_window()
    folder, names = _open_shapes(window, qtbot, app_env)
    view = window.recognise.gallery_view
    view.select([names[0]])
    window.act_delete.trigger()
    wait_gallery(qtbot, window, len(names) - 1)
    other = make_gallery(tmp_path / "other", {names[1]: sample_drawings()[names[1]]}, name="Other")
    window.open_gallery(other)
    wait_gallery(qtbot, window, 1)
    # Meanwhile another program (the command line) adds a character of the deleted one's name.
    Gallery.open(folder).add_character(names[0], [Gallery.open(folder).characters[0].references[0].pixels])
    window.open_gallery(folder)
    qtbot.waitUntil(lambda: window.session.snapshot.path == folder and not window.runner.busy, timeout=20_000)
    before = window.session.snapshot.names()
    window.undo_actions.set_target("gallery")
    assert window.act_undo.text() == f"&Undo Delete “{names[0]}”"
    window.act_undo.trigger()
    qtbot.waitUntil(lambda: "Cannot undo" in window.message_bar.text(), timeout=20_000)
    assert window.message_bar.level == "error"
    assert window.message_bar.text() == (f"Cannot undo Delete “{names[0]}”: a character called “{names[0]}” "
                                         "exists now. Nothing was changed.")
    wait_gallery(qtbot, window)
    assert window.session.snapshot.names() == before
    assert [view.grid.item(i).text() for i in range(view.grid.count())] == before


def test_enrolment_and_rename_are_undoable_and_toolbar_labels_stay_short(empty_gallery_window, qtbot, monkeypatch):
    window, drawings = empty_gallery_window, sample_drawings()
    names = list(drawings)
    _enrol_all(window, qtbot, monkeypatch, drawings)
    tools = window.recognise.canvas_tools
    long_name = "a rather long name for a spiral character"
    window.recognise.gallery_view.select([names[0]])
    _answer(monkeypatch, long_name)
    window.act_rename.trigger()
    qtbot.waitUntil(lambda: long_name in window.session.snapshot.names() and not window.runner.busy,
                    timeout=20_000)
    full = f"Rename “{names[0]}” to “{long_name}”"
    assert window.act_undo.text() == f"&Undo {full}"  # the Edit menu says what Undo does
    button = tools.widgetForAction(window.act_undo)
    assert button.text() == "Undo" and full in button.toolTip()
    for action in (window.act_redo, window.act_clear, window.act_open_image):  # no overflow menu
        assert tools.widgetForAction(action).isVisible()
    window.act_undo.trigger()
    qtbot.waitUntil(lambda: names[0] in window.session.snapshot.names() and not window.runner.busy, timeout=20_000)
    assert window.act_undo.text() == f"&Undo Add “{names[-1]}”"  # adding a character is a step too
    window.act_undo.trigger()
    wait_gallery(qtbot, window, len(names) - 1)
    assert names[-1] not in window.session.snapshot.names()
    window.act_redo.trigger()
    wait_gallery(qtbot, window, len(names))
    assert window.session.snapshot.names() == names
