"""The app and fonts: Import from font (blocks, preview, import, add to the open gallery, cancel, bad files),
and results that show the character large and copy it (Ctrl+C, the Copy button, a double-click)."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest

from app_helpers import TIMEOUT_MS, wait_gallery, wait_idle, wait_ranked


def _open_font_dialog(window, qtbot, monkeypatch, font):
    from app import dialogs

    monkeypatch.setattr(dialogs, "open_file", lambda *_a: font)
    window.act_import_font.trigger()
    dialog = window.font_dialog
    qtbot.waitUntil(lambda: dialog.fonts.isEnabled() or dialog.fonts.count() > 0, timeout=TIMEOUT_MS)
    dialog.file_button.click()
    return dialog


def _choose_block(dialog, qtbot, block: str) -> None:
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=TIMEOUT_MS)
    rows = [dialog.blocks.item(i) for i in range(dialog.blocks.count())]
    dialog.blocks.setCurrentItem(next(r for r in rows if r.data(Qt.ItemDataRole.UserRole) == block))


def test_import_from_font_shows_blocks_and_preview_then_imports(make_window, qtbot, monkeypatch, make_font):
    window = make_window()
    dialog = _open_font_dialog(window, qtbot, monkeypatch, make_font(family="Runes Test"))
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=TIMEOUT_MS)
    labels = [dialog.blocks.item(i).text() for i in range(dialog.blocks.count())]
    assert "Runic (3)" in labels and "Cyrillic (2)" in labels and labels[0].startswith("All characters")
    assert "Runes Test Regular" in dialog.font_info.text()
    _choose_block(dialog, qtbot, "Runic")
    qtbot.waitUntil(lambda: dialog.preview_count() == 3, timeout=TIMEOUT_MS)
    assert [dialog.grid.item(i).text() for i in range(3)] == ["ᚠ", "ᚢ", "ᚦ"]
    assert "RUNIC LETTER FEHU" in dialog.grid.item(0).toolTip()
    dialog.import_button.click()
    snapshot = wait_gallery(qtbot, window, 3)
    assert snapshot.names() == ["ᚠ", "ᚢ", "ᚦ"] and snapshot.name == "Runes Test Regular — Runic"  # proposed
    assert "3 characters" in dialog.status.text()


def test_a_second_font_adds_examples_to_the_open_gallery(make_window, qtbot, monkeypatch, make_font, tmp_path):
    from engine.fonts.faces import import_font

    import_font(make_font("One.ttf", family="One"), tmp_path / "g", text="AB")
    window = make_window()
    window.open_gallery(tmp_path / "g")
    wait_gallery(qtbot, window, 2)
    dialog = _open_font_dialog(window, qtbot, monkeypatch, make_font("Two.ttf", family="Two", shift=1))
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=TIMEOUT_MS)
    dialog.blocks.clearSelection()
    dialog.chars.setText("ABC")
    dialog.add_to_open.setChecked(True)
    dialog.import_button.click()
    qtbot.waitUntil(lambda: "Added 3 examples" in dialog.status.text(), timeout=TIMEOUT_MS)
    snapshot = wait_gallery(qtbot, window, 3)
    assert [len(snapshot.character(c).references) for c in "ABC"] == [2, 2, 1]


def test_cancelled_font_import_changes_nothing(make_window, qtbot, monkeypatch, make_font, app_env):
    window = make_window()
    dialog = _open_font_dialog(window, qtbot, monkeypatch, make_font())
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=TIMEOUT_MS)
    dialog.start_import()
    dialog.cancel_button.click()  # before the task starts (tasks start from the event loop): always in time
    qtbot.waitUntil(lambda: dialog.import_task is None, timeout=TIMEOUT_MS)
    wait_idle(qtbot, window)
    assert dialog.status.text() == "Import cancelled. Nothing was changed."
    galleries = app_env["data"] / "galleries"
    assert not galleries.exists() or not any(galleries.iterdir())
    assert window.session.snapshot is None and dialog.import_button.isEnabled()


def test_symbol_search_ranks_against_what_is_ready_then_opens_as_a_gallery(make_window, qtbot, monkeypatch,
                                                                           make_font, tmp_path):
    from engine.workspace import workspace as workspace_module
    from engine.fonts.faces import import_font

    chars = "ABCDEFGHжщᚠᚢᚦ"
    import_font(make_font("Old.ttf", chars="XY", family="Old"), tmp_path / "old")
    monkeypatch.setattr(workspace_module, "SEARCH_STEP", 3)  # several steps, each followed by a ranking
    window = make_window()
    window.open_gallery(tmp_path / "old")
    wait_gallery(qtbot, window, 2)
    font = make_font(family="Search Test")
    import_font(font, tmp_path / "q", text="ж")
    query = next((tmp_path / "q").rglob("*.png"))
    window.recognise.open_image(query)
    wait_ranked(qtbot, window)
    outcomes, galleries, labels = [], [], []
    window.session.ranked.connect(outcomes.append)
    window.session.gallery_changed.connect(galleries.append)
    window.session.search_progress.connect(lambda _s: labels.append(window.recognise.search_label.text()))
    dialog = _open_font_dialog(window, qtbot, monkeypatch, font)
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=TIMEOUT_MS)
    dialog.symbol_button.click()
    assert not dialog.isVisible()  # the person draws while it builds
    snapshot = wait_gallery(qtbot, window, len(chars))
    assert snapshot.name == "Search Test Regular symbols" and sorted(snapshot.names()) == sorted(chars)
    assert galleries[0] is None  # the old gallery left the screen at once
    partial = [o for o in outcomes if o.coverage is not None and o.coverage[0] < o.coverage[1]]
    assert partial, [o.coverage for o in outcomes]
    for o in partial:
        assert {m.name for m in o.matches} <= set(chars) and len(o.matches) <= o.coverage[0]
    assert [o.coverage[0] for o in partial] == sorted(o.coverage[0] for o in partial)
    said = [re.search(r"ranked against (\d+) of (\d+) characters", t) for t in labels]
    assert any(m and 0 < int(m[1]) < int(m[2]) for m in said), labels
    final = wait_ranked(qtbot, window)
    assert final.coverage is None and final.matches[0].name == "ж"
    assert "Symbol search ready: 13 characters" in window.recognise.search_label.text()
    # The same font again: ready at once from the cache (no step needed before the first ranking).
    states = []
    window.session.search_progress.connect(states.append)
    window.session.search_font(dialog.summary.face, "again", tmp_path / "again")
    wait_gallery(qtbot, window)
    assert states[0].ready == states[0].total == len(chars)


def test_stopping_a_symbol_search_or_opening_a_gallery_ends_it(make_window, qtbot, monkeypatch, make_font,
                                                                 tmp_path, app_env):
    from engine.workspace import workspace as workspace_module
    from engine.fonts.faces import import_font, open_font

    monkeypatch.setattr(workspace_module, "SEARCH_STEP", 2)
    import_font(make_font("Old.ttf", chars="XY", family="Old"), tmp_path / "old")
    window = make_window()
    wait_idle(qtbot, window)
    face = open_font(make_font(family="Stop Test"))
    states = []
    window.session.search_progress.connect(states.append)
    window.session.search_font(face, "stopped", tmp_path / "stopped")
    qtbot.waitUntil(lambda: any(0 < s.ready for s in states), timeout=TIMEOUT_MS)
    window.recognise.search_stop.click()
    wait_idle(qtbot, window)
    assert states[-1].finished and "stopped" in states[-1].message and not (tmp_path / "stopped").exists()
    assert window.session.snapshot is None
    # The next search of the font starts from what was embedded; opening a gallery meanwhile ends it.
    states.clear()
    window.session.search_font(face, "again", tmp_path / "again")
    qtbot.waitUntil(lambda: bool(states), timeout=TIMEOUT_MS)
    assert states[0].ready > 0
    window.open_gallery(tmp_path / "old")
    snapshot = wait_gallery(qtbot, window, 2)
    assert snapshot.names() == ["X", "Y"] and window.session.workspace.search is None
    window.recognise.open_image(next((tmp_path / "old").rglob("*.png")))
    assert wait_ranked(qtbot, window).coverage is None  # ranked against the gallery, not the search


def test_a_bad_font_file_is_explained_and_cannot_be_imported(make_window, qtbot, monkeypatch, tmp_path):
    bad = tmp_path / "half.ttf"
    bad.write_bytes(b"\x00\x01\x00\x00" + b"\x00" * 60)
    window = make_window()
    dialog = _open_font_dialog(window, qtbot, monkeypatch, bad)
    qtbot.waitUntil(lambda: "cannot be used" in dialog.font_info.text(), timeout=TIMEOUT_MS)
    assert "half.ttf" in dialog.font_info.text()
    assert not dialog.import_button.isEnabled() and not dialog.symbol_button.isEnabled()


def test_results_show_the_character_and_copy_it(make_window, qtbot, make_font, tmp_path):
    from engine.fonts.faces import import_font

    gallery = import_font(make_font(), tmp_path / "g", text="ABCжщᚠ").gallery
    query = tmp_path / "g" / gallery.character("ж").references[0].file
    window = make_window()
    window.open_gallery(tmp_path / "g")
    wait_gallery(qtbot, window, 6)
    window.recognise.open_image(query)
    outcome = wait_ranked(qtbot, window)
    results = window.recognise.results
    top = outcome.matches[0]
    assert top.char == top.name and results.rows[0].char.text() == top.char
    assert results.rows[0].unicode.text().startswith(f"U+{ord(top.char):04X} ")
    assert results.copy_button.isVisible() and results.copy_button.text() == f"Copy {top.char}"
    QGuiApplication.clipboard().clear()
    window.recognise.canvas.setFocus()
    QTest.keyClick(window.recognise.canvas, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == top.char
    second = outcome.matches[1]
    qtbot.mouseClick(results.rows[1], Qt.MouseButton.LeftButton)  # chooses it, opens nothing
    wait_idle(qtbot, window)
    from app.references_dialog import ReferencesDialog

    assert not [d for d in window.recognise.findChildren(ReferencesDialog) if d.isVisible()]  # a click chooses
    assert results.copy_button.text() == f"Copy {second.char}"
    results.copy_button.click()
    assert QGuiApplication.clipboard().text() == second.char
    QTest.keyClick(window.recognise.canvas, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == second.char  # Ctrl+C copies the row clicked
    qtbot.mouseDClick(results.rows[2], Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == outcome.matches[2].char
    assert results.copied_note.text() == f"Copied {outcome.matches[2].char}"
    assert not [d for d in window.recognise.findChildren(ReferencesDialog) if d.isVisible()]  # a double-click copies
    # Every row has its own Copy button, and a context menu with Copy and the character's examples.
    fourth = results.rows[3]
    assert fourth.copy_button.isVisible()
    qtbot.mouseClick(fourth.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == outcome.matches[3].char
    menu = results.rows[4].context_menu()
    texts = [a.text() for a in menu.actions()]
    assert texts == [f"Copy {outcome.matches[4].char}", "Show All Examples…"]
    menu.actions()[0].trigger()
    assert QGuiApplication.clipboard().text() == outcome.matches[4].char
    menu.actions()[1].trigger()
    shown = [d for d in window.recognise.findChildren(ReferencesDialog) if d.isVisible()]
    assert [d.character.name for d in shown] == [outcome.matches[4].name]
    shown[0].close()
    # "Copied …" covers nothing: not the heading, not a row.
    note = results.copied_note.geometry()
    assert not note.intersects(results.title.geometry()) and not note.intersects(results.scroll.geometry())


def test_results_of_a_drawn_gallery_offer_no_copy(make_window, qtbot, tmp_path):
    from app_helpers import draw, make_gallery, sample_drawings

    drawings = sample_drawings()
    window = make_window()
    window.open_gallery(make_gallery(tmp_path / "drawn", drawings))
    wait_gallery(qtbot, window, len(drawings))
    draw(qtbot, window.recognise.canvas, next(iter(drawings.values()))[1])
    wait_ranked(qtbot, window)
    results = window.recognise.results
    assert not results.copy_button.isVisible() and not results.rows[0].char.isVisible()
    assert results.copy_character() is None


def test_the_welcome_offers_import_from_font(make_window, qtbot):
    window = make_window()
    window.show_welcome()
    welcome = window.welcome
    action = next(a for a in welcome.import_button.menu().actions() if "font" in a.text())
    action.trigger()
    qtbot.waitUntil(lambda: getattr(window, "font_dialog", None) is not None and window.font_dialog.isVisible(),
                    timeout=TIMEOUT_MS)
    dialog = window.font_dialog
    qtbot.waitUntil(lambda: dialog.fonts.count() > 0 and "Looking" not in dialog.fonts.itemText(0),
                    timeout=TIMEOUT_MS)
    dialog.reject()
    wait_idle(qtbot, window)


def test_the_counts_shown_before_and_after_an_import_agree(make_window, qtbot, monkeypatch, make_font):
    import re

    window = make_window()
    dialog = _open_font_dialog(window, qtbot, monkeypatch, make_font())  # one of its characters renders blank
    qtbot.waitUntil(lambda: "Will enrol" in dialog.preview_label.text(), timeout=TIMEOUT_MS)
    promised = int(re.search(r"Will enrol ([\d,]+)", dialog.preview_label.text()).group(1).replace(",", ""))
    assert f"{promised:,} drawable characters" in dialog.font_info.text()
    dialog.import_button.click()
    qtbot.waitUntil(lambda: "Made the gallery" in dialog.status.text(), timeout=TIMEOUT_MS)
    made = len(wait_gallery(qtbot, window).characters)
    status = dialog.status.text()
    assert made < promised  # the font has a blank and a missing-glyph box among its drawable characters
    assert f"with {made:,} characters (of the {promised:,} chosen, {promised - made:,} render blank" in status


def test_the_gallery_header_counts_with_thousands_separators(qtbot):
    import numpy as np

    from app.gallery_view import GalleryView
    from engine.workspace import CharacterView, GallerySnapshot

    view = GalleryView()
    qtbot.addWidget(view)
    pixels = np.zeros((105, 105), np.uint8)
    characters = tuple(CharacterView(f"c{i}", (pixels,) * (2 if i == 0 else 1)) for i in range(5681))
    view.set_snapshot(GallerySnapshot(Path("/nowhere"), "DejaVu Sans", characters, "c5681"))
    assert view.title.text() == "DejaVu Sans — 5,681 characters, 5,682 examples"


def test_a_block_import_proposes_its_name_and_takes_the_one_typed(make_window, qtbot, monkeypatch, make_font):
    window = make_window()
    dialog = _open_font_dialog(window, qtbot, monkeypatch, make_font(family="Runes Test"))
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=TIMEOUT_MS)
    assert dialog.gallery_name.text() == "Runes Test Regular"  # all characters: the font's name
    _choose_block(dialog, qtbot, "Cyrillic")
    assert dialog.gallery_name.text() == "Runes Test Regular — Cyrillic"
    dialog.gallery_name.setText("My runes")
    _choose_block(dialog, qtbot, "Runic")
    assert dialog.gallery_name.text() == "My runes"  # what the person typed is kept
    qtbot.waitUntil(lambda: dialog.preview_count() == 3, timeout=TIMEOUT_MS)
    dialog.import_button.click()
    assert wait_gallery(qtbot, window, 3).name == "My runes"


def test_the_font_dialog_reopens_on_the_last_font(make_window, qtbot, monkeypatch, make_font):
    window = make_window()
    font = make_font(family="Runes Test")
    dialog = _open_font_dialog(window, qtbot, monkeypatch, font)
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=TIMEOUT_MS)
    dialog.close()
    wait_idle(qtbot, window)
    again = make_window()  # after a restart too: it is in the settings
    again.act_import_font.trigger()
    reopened = again.font_dialog
    qtbot.waitUntil(lambda: reopened.summary is not None, timeout=TIMEOUT_MS)
    assert reopened.summary.face.path == font and "Runes Test Regular" in reopened.font_info.text()
    assert reopened.fonts.currentData() == (str(font), 0)
