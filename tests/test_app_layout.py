"""The window at its default and its minimum size: it fits a 1024-wide screen, never resizes itself, and no
text in any tab is cut off (each one fits, or is elided with the whole text in its tooltip), the training
curves' titles and axis labels among them."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtGui import QFontMetricsF
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
    return cut + _plot_text_cut_off(root)


def _plot_text_cut_off(root: QWidget) -> list[str]:
    """Return the plot titles and axis labels under `root` that a person would see cut off: a plot reaching past
    the view, a title wider than its plot or elided without its whole text in the tooltip, a rotated y label
    longer than its axis, an axis with no room for its tick labels and its label."""
    from app.curves import TrainingCurves

    cut = []
    for curves in root.findChildren(TrainingCurves):
        if not curves.isVisible():
            continue
        view = curves.graphics
        visible = view.mapToScene(view.viewport().rect()).boundingRect()
        for name, plot in curves.plots.items():
            title, left, bottom = plot.titleLabel, plot.getAxis("left"), plot.getAxis("bottom")
            if not visible.adjusted(-1, -1, 1, 1).contains(plot.sceneBoundingRect()):
                cut.append(f"plot {name}: {plot.sceneBoundingRect()} reaches past the view {visible}")
            if title.item.boundingRect().width() > title.width() + 1:
                cut.append(f"plot title {title.shown_text()!r}: {title.item.boundingRect().width():.0f} px of "
                           f"text in {title.width():.0f} px")
            if title.shown_text() != title.full_text() and title.full_text() not in title.toolTip():
                cut.append(f"plot title {title.full_text()!r} elided without a tooltip")
            if left.label.boundingRect().width() > left.height() + 1:
                cut.append(f"y label {left.labelText!r} of {name}: {left.label.boundingRect().width():.0f} px "
                           f"long on a {left.height():.0f} px axis")
            tick_line = QFontMetricsF(bottom.style["tickFont"] or curves.font()).height()
            if bottom.height() + 1 < tick_line + bottom.label.boundingRect().height():
                cut.append(f"step axis of {name}: {bottom.height():.0f} px high for its ticks and label")
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


@pytest.mark.parametrize("at", ["default", "minimum", "1053 wide"])
def test_no_text_is_cut_off_in_any_tab(font_gallery_window, qtbot, at):
    window = font_gallery_window
    window.resize(1180, 720)
    if at == "minimum":
        window.resize(window.minimumSizeHint())
    elif at == "1053 wide":
        window.resize(1053, 650)
    qtbot.wait(100)
    _show_no_confident_match(window, qtbot)
    results = window.recognise.results
    assert results.rows[0].unicode.full_text().startswith("U+")
    _every_tab_shows_its_text_whole(window, qtbot)
