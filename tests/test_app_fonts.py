"""The app and fonts: Import from font (blocks, preview, import, add to the open gallery, cancel, bad files),
and results that show the character large and copy it (Ctrl+C, the Copy button, a double-click)."""

from __future__ import annotations

import re

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
    assert snapshot.names() == ["ᚠ", "ᚢ", "ᚦ"] and snapshot.name == "Runes Test Regular"
    assert "3 characters" in dialog.status.text()


def test_a_second_font_adds_examples_to_the_open_gallery(make_window, qtbot, monkeypatch, make_font, tmp_path):
    from engine.gallery.fonts import import_font

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
    from app import session as session_module
    from engine.gallery.fonts import import_font

    chars = "ABCDEFGHжщᚠᚢᚦ"
    import_font(make_font("Old.ttf", chars="XY", family="Old"), tmp_path / "old")
    monkeypatch.setattr(session_module, "SEARCH_STEP", 3)  # several steps, each followed by a ranking
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
    from app import session as session_module
    from engine.gallery.fonts import import_font, open_font

    monkeypatch.setattr(session_module, "SEARCH_STEP", 2)
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
    assert snapshot.names() == ["X", "Y"] and window.session._search is None
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
    from engine.gallery.fonts import import_font

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
    qtbot.mouseClick(results.rows[1], Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    if window.recognise._references is not None:
        window.recognise._references.close()
    assert results.copy_button.text() == f"Copy {second.char}"
    results.copy_button.click()
    assert QGuiApplication.clipboard().text() == second.char
    qtbot.mouseDClick(results.rows[2], Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == outcome.matches[2].char
    assert results.copied_note.text() == f"Copied {outcome.matches[2].char}"


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
