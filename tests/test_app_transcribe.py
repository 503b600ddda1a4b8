"""The Transcribe tab: a page opened in the background, boxes and text shown, a correction enrols (undoably) and
re-ranks, exports read back, and the window lists the tab."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app_helpers import TIMEOUT_MS, wait_gallery, wait_idle
from engine.gallery import Gallery
from engine.transcribe import read_page_json
from engine.transcribe.compose import compose_page
from synthetic import page_shapes

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
