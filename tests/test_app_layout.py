"""The window at its default and its minimum size: it fits a 1024-wide screen, never resizes itself, and no
text in any tab is cut off (each one fits, or is elided with the whole text in its tooltip)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

from app_helpers import TIMEOUT_MS, draw, wait_gallery, wait_ranked


def _cut_off(root: QWidget) -> list[str]:
    """Return what a person would see cut off under `root`: labels and buttons on screen whose text does not fit
    and is not elided with its whole text in the tooltip."""
    from app.elided import ElidedButton, ElidedLabel

    cut = []
    for widget in root.findChildren(QWidget):
        if not widget.isVisible() or widget.width() <= 0 or not isinstance(widget, (QLabel, QAbstractButton)):
            continue
        if isinstance(widget, (ElidedLabel, ElidedButton)):
            if widget.is_elided() and widget.full_text() not in widget.toolTip():
                cut.append(f"{type(widget).__name__} {widget.full_text()!r} elided without a tooltip")
            continue
        text = widget.text()
        if not text or (isinstance(widget, QLabel) and widget.pixmap() is not None and not widget.pixmap().isNull()):
            continue
        if isinstance(widget, QLabel) and widget.wordWrap():
            needed = widget.heightForWidth(widget.contentsRect().width() + widget.contentsMargins().left()
                                           + widget.contentsMargins().right())
            if needed > widget.height() + 1:
                cut.append(f"label {text[:50]!r}: {needed} px of wrapped text in {widget.height()} px")
        elif widget.sizeHint().width() > widget.width() + 1 and widget.minimumSizeHint().width() > widget.width() + 1:
            cut.append(f"{type(widget).__name__} {text[:50]!r}: needs {widget.minimumSizeHint().width()} px, has "
                       f"{widget.width()}")
    return cut


@pytest.fixture
def font_gallery_window(make_window, qtbot, make_font, tmp_path):
    """A window with the Train and Evaluate tabs and a font's gallery open (results with Unicode names)."""
    from engine.fonts.faces import import_font

    import_font(make_font(), tmp_path / "g", text="ABCжщᚠ")
    window = make_window(work_tabs=True)
    qtbot.waitUntil(lambda: window.train_tab is not None and window.evaluate_tab is not None, timeout=TIMEOUT_MS)
    window.open_gallery(tmp_path / "g")
    wait_gallery(qtbot, window, 6)
    return window


def _every_tab_shows_its_text_whole(window, qtbot) -> None:
    problems = []
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        qtbot.wait(100)
        problems += [f"{window.tabs.tabText(i)}: {p}" for p in _cut_off(window.tabs.currentWidget())]
    window.tabs.setCurrentIndex(0)
    assert not problems, "\n".join(problems)


def _show_no_confident_match(window, qtbot) -> None:
    """Draw, then show the ranking as a doubtful one: the banner, the names and the enrol buttons together."""
    import numpy as np

    tab = window.recognise
    draw(qtbot, tab.canvas, [np.array([[30.0, 80.0], [52.0, 22.0], [78.0, 80.0], [30.0, 80.0]])])
    outcome = wait_ranked(qtbot, window)
    tab.results.show_outcome(replace(outcome, no_confident_match=True))
    qtbot.wait(50)
    assert tab.results.is_no_confident_match()


def test_the_minimum_size_fits_a_1024_wide_screen_and_drawing_never_resizes_the_window(font_gallery_window, qtbot):
    window = font_gallery_window
    minimum = window.minimumSizeHint()
    assert minimum.width() <= 1024 and minimum.height() <= 600, minimum
    window.resize(minimum)
    qtbot.wait(100)
    size = window.size()
    _show_no_confident_match(window, qtbot)
    assert window.size() == size, "the window resized itself as results appeared"
    window.show_message("error", "A long error message. " * 20, )
    qtbot.wait(100)
    assert window.size() == size, "the window resized itself for a message"


@pytest.mark.parametrize("at", ["default", "minimum"])
def test_no_text_is_cut_off_in_any_tab(font_gallery_window, qtbot, at):
    window = font_gallery_window
    window.resize(1180, 720)
    if at == "minimum":
        window.resize(window.minimumSizeHint())
    qtbot.wait(100)
    _show_no_confident_match(window, qtbot)
    results = window.recognise.results
    assert results.rows[0].unicode.full_text().startswith("U+")
    _every_tab_shows_its_text_whole(window, qtbot)
