"""Drawing on the canvas and seeing the ranking: real mouse events, the engine's renderer, undo/redo/clear."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app_helpers import draw, make_gallery, sample_drawings, wait_gallery, wait_ranked


def _window_with_gallery(make_window, app_env, qtbot):
    from app.settings import AppSettings

    drawings = sample_drawings()
    folder = make_gallery(app_env["data"] / "galleries" / "test", drawings)
    AppSettings(app_env["settings"]).last_gallery = folder
    window = make_window()
    wait_gallery(qtbot, window, len(drawings))
    return window, drawings


def test_drawing_ranks_the_matching_character_first(make_window, app_env, qtbot):
    window, drawings = _window_with_gallery(make_window, app_env, qtbot)
    tab = window.recognise
    for name, (_reference, query) in drawings.items():
        tab.canvas.clear()
        draw(qtbot, tab.canvas, query)
        outcome = wait_ranked(qtbot, window)
        shown = tab.results.visible_matches()
        assert shown, "no results shown"
        assert shown[0][0] == name, f"drew {name}, got {shown}"
        assert len(shown) == len(drawings)
        assert all(0.0 <= score <= 1.0 for _, score in shown)
        assert [m.name for m in outcome.matches] == [n for n, _ in shown]
        assert tab.results.rows[0].percent.text().endswith("%")
        assert tab.results.rows[0].thumb.pixmap() is not None and not tab.results.rows[0].thumb.pixmap().isNull()


def test_preview_is_the_engines_rendering_of_the_canvas_strokes(make_window, app_env, qtbot):
    from engine.glyph import render_strokes

    window, drawings = _window_with_gallery(make_window, app_env, qtbot)
    tab = window.recognise
    _reference, query = next(iter(drawings.values()))
    draw(qtbot, tab.canvas, query)
    wait_ranked(qtbot, window)
    assert tab.canvas.stroke_count() == len(query)
    expected = render_strokes(tab.canvas.strokes(), area=105.0, frame=True).pixels
    np.testing.assert_array_equal(tab.preview.pixels, expected)
    # The canvas keeps the replayed points (to the widget's pixel grid) in the 105-unit square.
    first = tab.canvas.strokes()[0].points
    assert np.abs(first[0] - np.asarray(query[0][0])).max() < 1.0


def test_undo_redo_and_clear(make_window, app_env, qtbot):
    window, drawings = _window_with_gallery(make_window, app_env, qtbot)
    tab = window.recognise
    cross = drawings.get("cross", next(iter(drawings.values())))[1]
    draw(qtbot, tab.canvas, cross)
    wait_ranked(qtbot, window)
    n = tab.canvas.stroke_count()
    tab.canvas.setFocus()
    window.act_undo.trigger()
    assert tab.canvas.stroke_count() == n - 1
    window.act_redo.trigger()
    assert tab.canvas.stroke_count() == n
    wait_ranked(qtbot, window)
    QTest.keyClick(tab.canvas, Qt.Key.Key_Escape)
    assert tab.canvas.is_empty()
    outcome = wait_ranked(qtbot, window, state="empty-canvas")
    assert tab.results.is_showing_hint() and tab.results.visible_matches() == []
    assert outcome.glyph is None and tab.preview.pixels is None
    window.act_undo.trigger()  # clearing is undoable too
    assert tab.canvas.stroke_count() == n


def test_empty_gallery_shows_how_to_enrol(make_window, app_env, qtbot):
    window = make_window()
    window.session.create_gallery("Empty")
    wait_gallery(qtbot, window, 0)
    draw(qtbot, window.recognise.canvas, next(iter(sample_drawings().values()))[1])
    wait_ranked(qtbot, window, state="empty-gallery")
    assert "Add as new character" in window.recognise.results.hint.text()
    assert window.recognise.add_new.isEnabled() and not window.recognise.add_example.isEnabled()


def test_no_confident_match_state(qtbot):
    from app.results_view import ResultsView
    from app.session import MatchView, RankOutcome

    view = ResultsView()
    qtbot.addWidget(view)
    view.show()
    pixels = np.zeros((105, 105), np.uint8)
    outcome = RankOutcome(1, "ranked", None, True, (MatchView("a", 0.12, 0, pixels), MatchView("b", 0.05, 0, None)))
    view.show_outcome(outcome)
    assert view.is_no_confident_match()
    assert "No confident match" in view.banner.text()
    assert view.visible_matches() == [("a", 0.12), ("b", 0.05)]
    assert view.rows[0].percent.text() == "12.0%"
    view.show_outcome(RankOutcome(2, "ranked", None, False, outcome.matches))
    assert not view.is_no_confident_match()
    with qtbot.waitSignal(view.character_clicked) as clicked:
        QTest.mouseClick(view.rows[1], Qt.MouseButton.LeftButton)
    assert clicked.args == ["b"]


def test_pen_pressure_is_recorded(qtbot):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QPointingDevice, QTabletEvent

    from app.canvas import DrawingCanvas

    canvas = DrawingCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(300, 300)
    canvas.show()
    device = QPointingDevice.primaryPointingDevice()
    for kind, x, pressure in ((QTabletEvent.Type.TabletPress, 60, 0.2), (QTabletEvent.Type.TabletMove, 150, 0.6),
                              (QTabletEvent.Type.TabletRelease, 240, 0.9)):
        pos = QPointF(x, 150)
        event = QTabletEvent(kind, device, pos, canvas.mapToGlobal(pos), pressure, 0.0, 0.0, 0.0, 0.0, 0.0,
                             Qt.KeyboardModifier.NoModifier, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
        canvas.tabletEvent(event)
    (stroke,) = canvas.strokes()
    assert stroke.pressure is not None and list(stroke.pressure[:2]) == [0.2, 0.6]
    canvas.grab()  # paints the pressure-varying stroke
