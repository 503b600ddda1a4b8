"""The Transcribe tab: a page opened in the background, boxes and text shown, a correction enrols (undoably) and
re-ranks, exports read back, and the window lists the tab."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app_helpers import TIMEOUT_MS, draw, wait_gallery, wait_idle
from engine.gallery import Gallery
from engine.transcribe import read_page_json
from engine.transcribe.compose import compose_page
from synthetic import page_shapes, shapes_line

pytest.importorskip("pytestqt")

SHAPES = page_shapes()


@pytest.fixture
def window_with_gallery(make_window, tmp_path):
    gallery = Gallery.create(tmp_path / "two", "Two")
    for name in ("ring", "cross"):
        gallery.add_character(name, [SHAPES[name].astype(np.float32)])
    window = make_window()
    window.session.open_gallery(gallery.path)
    return window


def page_png(path, names):
    composed = compose_page([[(n, SHAPES[n]) for n in names]], np.random.default_rng(0))
    Image.fromarray(composed.luminance()).save(path)
    return path


def test_a_page_is_transcribed_corrected_re_ranked_and_exported(qtbot, window_with_gallery, tmp_path):
    from app.transcribe_tab import TranscribeTab

    window = window_with_gallery
    wait_gallery(qtbot, window, 2)
    tab = TranscribeTab(window.session)
    qtbot.addWidget(tab)
    tab.open_page(page_png(tmp_path / "page.png", ["ring", "zed", "cross", "zed"]))
    qtbot.waitUntil(lambda: tab.page is not None and not window.runner.busy, timeout=TIMEOUT_MS)
    assert [g.confident for g in tab.page.glyphs] == [True, False, True, False]
    assert len(tab.view.boxes) == 4 and tab.text.toPlainText().startswith("[ring][")
    # Click the first zed: its alternatives are listed; type its name and confirm.
    tab.resize(1000, 600)
    tab.show()
    qtbot.waitExposed(tab)
    tab.view.fit()
    x0, y0, x1, y1 = tab.page.glyphs[1].box
    point = tab.view.mapFromScene((x0 + x1) / 2, (y0 + y1) / 2)
    QTest.mouseClick(tab.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    assert tab.view.selected == 1
    assert tab.alternatives.count() == 1 + len(tab.page.glyphs[1].alternatives)
    tab.name_edit.setText("zed")
    assert tab.confirm_selected() is not None
    wait_gallery(qtbot, window, 3)
    qtbot.waitUntil(lambda: tab.page.glyphs[1].confirmed and not window.runner.busy, timeout=TIMEOUT_MS)
    assert [g.name for g in tab.page.glyphs] == ["ring", "zed", "cross", "zed"]
    assert tab.page.glyphs[3].confident and not tab.page.glyphs[3].confirmed  # re-ranked, not confirmed
    # Undone like every gallery edit.
    window.session.undo()
    wait_gallery(qtbot, window, 2)
    # Exports.
    (line,) = read_page_json(json.loads(tab.export(tmp_path / "p.json", "json").read_text(encoding="utf-8")))
    assert [g["name"] for g in line] == ["ring", "zed", "cross", "zed"]
    assert tab.export(tmp_path / "p.txt", "txt").read_text(encoding="utf-8") == tab.page.text + "\n"
    assert tab.export(tmp_path / "p.csv", "csv").read_text(encoding="utf-8").count("\n") == 5


def _tab(qtbot, window):
    """Return a Transcribe tab on the window's session, shown, once its gallery of two is open."""
    from app.transcribe_tab import TranscribeTab

    wait_gallery(qtbot, window, 2)
    tab = TranscribeTab(window.session)
    qtbot.addWidget(tab)
    tab.resize(1000, 600)
    tab.show()
    qtbot.waitExposed(tab)
    return tab


def _transcribed_tab(qtbot, window, tmp_path, names):
    tab = _tab(qtbot, window)
    tab.open_page(page_png(tmp_path / "page.png", names))
    qtbot.waitUntil(lambda: tab.page is not None and not window.runner.busy, timeout=TIMEOUT_MS)
    return tab


def _names(tab) -> list[str | None]:
    return [g.name for g in tab.page.glyphs]


def test_boxes_are_deleted_merged_and_split_in_the_tab_and_each_edit_undone(qtbot, window_with_gallery, tmp_path):
    window = window_with_gallery
    tab = _transcribed_tab(qtbot, window, tmp_path, ["ring", "cross", "ring"])
    assert _names(tab) == ["ring", "cross", "ring"]
    assert [a.text() for a in tab.view.actions()] == ["Merge with Next", "Split", "Delete"]  # its context menu
    busy = lambda: window.runner.busy or not tab.task.is_finished  # noqa: E731
    # Delete: click the cross, press the Delete key.
    tab.view.fit()
    x0, y0, x1, y1 = tab.page.glyphs[1].box
    point = tab.view.mapFromScene((x0 + x1) / 2, (y0 + y1) / 2)
    QTest.mouseClick(tab.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    assert tab.view.selected == 1
    QTest.keyClick(tab.view, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: not busy() and len(tab.page.glyphs) == 2, timeout=TIMEOUT_MS)
    assert _names(tab) == ["ring", "ring"] and tab.text.toPlainText() == "[ring][ring]"
    assert len(tab.view.boxes) == 2
    tab.undo_edit_button.click()
    assert _names(tab) == ["ring", "cross", "ring"] and not tab.undo_edit_button.isEnabled()
    # Merge the first ring with the cross: one box holding both, ranked again.
    tab.show_glyph(0)
    assert tab.merge_selected() is not None
    qtbot.waitUntil(lambda: not busy() and len(tab.page.glyphs) == 2, timeout=TIMEOUT_MS)
    a, b = tab.edits[-1][1].glyphs[0].box, tab.edits[-1][1].glyphs[1].box
    assert tab.page.glyphs[0].box == (a[0], min(a[1], b[1]), b[2], max(a[3], b[3]))
    assert tab.page.glyphs[1].name == "ring" and tab.view.selected == 0  # the last ring kept
    # Split it again: the two right names come back.
    assert tab.split_selected() is not None
    qtbot.waitUntil(lambda: not busy() and len(tab.page.glyphs) == 3, timeout=TIMEOUT_MS)
    assert _names(tab) == ["ring", "cross", "ring"]
    assert window.session.snapshot is not None and len(window.session.snapshot.characters) == 2  # no gallery edit
    tab.undo_edit_button.click()
    tab.undo_edit_button.click()
    assert _names(tab) == ["ring", "cross", "ring"] and tab.edits == []


def test_a_line_written_on_the_wide_canvas_is_transcribed_like_a_page(qtbot, window_with_gallery):
    window = window_with_gallery
    tab = _tab(qtbot, window)
    assert tab.transcribe_line() is None and "Write a line" in tab.status.text()
    tab.write_button.click()
    assert tab.line_panel.isVisible() and tab.line_canvas.area_width == 6 * 105
    # A cross in the first square and a ring in the fourth, far apart on the wide canvas.
    angles = np.linspace(0, 2 * np.pi, 40)
    ring = np.stack([367 + 30 * np.cos(angles), 52 + 30 * np.sin(angles)], axis=1)
    draw(qtbot, tab.line_canvas, [np.array([[22.0, 52.0], [82.0, 52.0]]), np.array([[52.0, 22.0], [52.0, 82.0]]),
                                  ring])
    assert tab.line_canvas.stroke_count() == 3
    assert tab.transcribe_line() is not None
    qtbot.waitUntil(lambda: tab.page is not None and not window.runner.busy, timeout=TIMEOUT_MS)
    assert len(tab.page.lines) == 1 and _names(tab) == ["cross", "ring"]
    assert tab.page.glyphs[0].box[2] < tab.page.glyphs[1].box[0]


def test_touching_glyphs_are_cut_when_asked(qtbot, window_with_gallery, tmp_path):
    window = window_with_gallery
    tab = _tab(qtbot, window)
    path = tmp_path / "touching.png"
    Image.fromarray(shapes_line(["ring", "cross", "ring", "cross"], touching={3})).save(path)
    for checked, count in ((False, 3), (True, 4)):
        tab.split_touching.setChecked(checked)
        tab.page = None
        tab.open_page(path)
        qtbot.waitUntil(lambda: tab.page is not None and not window.runner.busy, timeout=TIMEOUT_MS)
        assert len(tab.page.glyphs) == count
    assert _names(tab) == ["ring", "cross", "ring", "cross"] and [g.split for g in tab.page.glyphs][2:] == [True, True]
    assert "touching" in tab.status.text()


def test_an_unreadable_page_says_so_and_changes_nothing(qtbot, window_with_gallery, tmp_path):
    from app.transcribe_tab import TranscribeTab

    window = window_with_gallery
    wait_gallery(qtbot, window, 2)
    tab = TranscribeTab(window.session)
    qtbot.addWidget(tab)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    tab.open_page(bad)
    wait_idle(qtbot, window)
    assert tab.page is None and "Could not transcribe" in tab.status.text()
    assert not tab.copy_button.isEnabled()


def test_the_window_lists_the_transcribe_tab(qtbot, make_window):
    window = make_window(work_tabs=True)
    qtbot.waitUntil(lambda: window.transcribe_tab is not None, timeout=60_000)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles.index("Transcribe") == titles.index("Recognise") + 1
    assert window.transcribe_tab in window.work_tabs()
