"""The app and fonts: Import from font (blocks, preview, import, add to the open gallery, cancel, bad files),
and results that show the character large and copy it (Ctrl+C, the Copy button, a double-click)."""

from __future__ import annotations

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
    dialog.start_symbol_search()
    dialog.cancel_button.click()  # before the task starts (tasks start from the event loop): always in time
    qtbot.waitUntil(lambda: dialog.import_task is None, timeout=TIMEOUT_MS)
    wait_idle(qtbot, window)
    assert dialog.status.text() == "Import cancelled. Nothing was changed."
    galleries = app_env["data"] / "galleries"
    assert not galleries.exists() or not any(galleries.iterdir())
    assert window.session.snapshot is None and dialog.import_button.isEnabled()


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
    from app.references_dialog import ReferencesDialog

    for dialog in window.recognise.findChildren(ReferencesDialog):  # the click may have opened it
        dialog.close()
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
