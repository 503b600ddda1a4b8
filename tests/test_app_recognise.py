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


def test_preview_is_what_the_encoder_got_from_the_canvas_strokes(make_window, app_env, qtbot):
    import torch

    from engine.recognition.centering import center_ink
    from engine.glyph import render_strokes

    window, drawings = _window_with_gallery(make_window, app_env, qtbot)
    tab = window.recognise
    _reference, query = next(iter(drawings.values()))
    draw(qtbot, tab.canvas, query)
    outcome = wait_ranked(qtbot, window)
    assert tab.canvas.stroke_count() == len(query)
    rendered = render_strokes(tab.canvas.strokes(), area=105.0, frame=True).pixels
    np.testing.assert_array_equal(outcome.glyph.pixels, rendered)  # enrolling adds the drawing as drawn
    # The shipped card centres the ink: the preview shows the rendering centred, exactly as the encoder got it.
    centred = center_ink(torch.from_numpy(rendered.copy())[None, None])[0, 0].numpy()
    np.testing.assert_array_equal(tab.preview.pixels, centred)
    np.testing.assert_array_equal(tab.preview.pixels, outcome.model_input)
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
    from engine.workspace import MatchView, RankOutcome

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


def test_result_rows_show_each_score_bar_and_the_thumbnail_of_the_reference_shown(qtbot):
    from app.results_view import ResultsView
    from engine.workspace import MatchView, RankOutcome

    view = ResultsView()
    qtbot.addWidget(view)
    view.show()
    ink_a, ink_b = np.zeros((105, 105), np.uint8), np.zeros((105, 105), np.uint8)
    ink_a[10:40, 10:40] = 255
    ink_b[60:100, 50:60] = 255
    view.show_outcome(RankOutcome(1, "ranked", None, False, (MatchView("a", 0.9, 0, ink_a),
                                                               MatchView("b", 0.4, 0, ink_b))))
    first = [view.rows[i].thumb.pixmap().toImage() for i in range(2)]
    assert [view.rows[i].bar.value() for i in range(2)] == [900, 400]
    # The next pen-up ranks them the other way round: each row shows its new reference and its new score.
    view.show_outcome(RankOutcome(2, "ranked", None, False, (MatchView("b", 0.8, 0, ink_b),
                                                               MatchView("a", 0.3, 0, ink_a))))
    assert [view.rows[i].bar.value() for i in range(2)] == [800, 300]
    assert view.rows[0].thumb.pixmap().toImage() == first[1]
    assert view.rows[1].thumb.pixmap().toImage() == first[0]
    assert first[0] != first[1]
    qtbot.waitUntil(lambda: view.rows[0].bar.updatesEnabled())


def test_thumbnail_cache_remakes_a_pixmap_only_for_new_pixels_colours_or_size(qtbot):
    from PySide6.QtGui import QColor, QPalette

    from app.images import GlyphPixmapCache, glyph_pixmap

    cache, palette = GlyphPixmapCache(limit=2), QPalette()
    ink = np.zeros((105, 105), np.uint8)
    ink[20:80, 50:55] = 255
    made = cache.pixmap(ink, palette, 50)
    assert made.toImage() == glyph_pixmap(ink, palette, 50).toImage()
    assert cache.pixmap(ink.copy(), palette, 50).cacheKey() == made.cacheKey()  # same pixels: the same pixmap
    dark = QPalette(palette)
    dark.setColor(QPalette.ColorRole.Base, QColor("black"))
    dark.setColor(QPalette.ColorRole.Text, QColor("white"))
    assert cache.pixmap(ink, dark, 50).toImage() == glyph_pixmap(ink, dark, 50).toImage() != made.toImage()
    assert cache.pixmap(ink, palette, 40).width() == 40
    other = ink.copy()
    other[0, 0] = 255
    assert cache.pixmap(other, palette, 50).cacheKey() != made.cacheKey()


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


def _canvas_frame(window):
    """The drawing square in window coordinates (what a person aims at)."""
    canvas = window.recognise.canvas
    square = canvas.square()
    return canvas.mapTo(window, square.topLeft().toPoint()), square.size()


def test_nothing_moves_the_canvas_while_drawing(make_window, app_env, qtbot):
    from app.settings import AppSettings

    drawings = sample_drawings()
    long_name = "a character with a name far longer than the results column is wide"
    first = next(iter(drawings))
    named = {(long_name if name == first else name): pair for name, pair in drawings.items()}
    folder = make_gallery(app_env["data"] / "galleries" / "long", named)
    AppSettings(app_env["settings"]).last_gallery = folder
    window = make_window(size=(1160, 730))
    wait_gallery(qtbot, window, len(named))
    tab = window.recognise
    before = _canvas_frame(window)
    draw(qtbot, tab.canvas, drawings[first][1])
    outcome = wait_ranked(qtbot, window)
    assert outcome.matches[0].name == long_name and tab.add_example.isEnabled()
    assert _canvas_frame(window) == before, "the first ranking moved the canvas"
    assert long_name in tab.add_example.toolTip()  # the button's text is elided, never widened
    window.show_message("info", "Renamed “spiral” to “swirl”.")
    qtbot.wait(50)
    assert window.message_bar.text() and _canvas_frame(window) == before, "a message moved the canvas"
    window.show_message("error", "A long error. " * 40)  # longer than the bar: elided, whole in the tooltip
    qtbot.wait(50)
    assert _canvas_frame(window) == before
    assert window.message_bar.text() == "A long error. " * 40 and window.message_bar.label.toolTip()
    window.message_bar.dismiss()
    qtbot.wait(50)
    assert window.message_bar.text() == "" and _canvas_frame(window) == before


def test_ink_stays_inside_the_canvas_frame(qtbot):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QColor, QPalette

    from app.canvas import DrawingCanvas

    canvas = DrawingCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(300, 420)  # taller than wide: room below the square
    canvas.show()
    qtbot.waitExposed(canvas)
    square = canvas.square()
    start = QPoint(int(square.center().x()), int(square.center().y()))
    end = QPoint(int(square.center().x()) + 30, int(square.bottom()) + 60)  # the pen runs off the bottom edge
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(canvas, end)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    (stroke,) = canvas.strokes()
    assert stroke.points.min() >= 0 and stroke.points.max() <= 105
    image = canvas.grab().toImage()
    ink = canvas.palette().color(QPalette.ColorRole.Text)
    ratio = image.devicePixelRatio()
    below = [QColor(image.pixel(int(x * ratio), int(y * ratio)))
             for y in range(int(square.bottom()) + 2, canvas.height(), 2) for x in range(0, canvas.width(), 2)]
    assert below and all(abs(c.lightness() - ink.lightness()) > 60 for c in below), "ink painted below the frame"


def test_esc_clears_the_canvas_wherever_the_focus_is_in_the_tab(make_window, app_env, qtbot):
    window, drawings = _window_with_gallery(make_window, app_env, qtbot)
    tab = window.recognise
    query = next(iter(drawings.values()))[1]
    for widget in (tab.add_new, tab.gallery_view.grid, tab.results, tab.canvas):
        draw(qtbot, tab.canvas, query)
        wait_ranked(qtbot, window)
        widget.setFocus()
        QTest.keyClick(widget, Qt.Key.Key_Escape)
        assert tab.canvas.is_empty(), f"Esc with the focus on {type(widget).__name__} left the drawing"
    assert "Esc" in window.act_clear.toolTip()


def test_ranking_starts_at_pen_up(make_window, app_env, qtbot):
    """No debounce between lifting the pen and the ranking: its work is queued before the event loop runs again."""
    window, drawings = _window_with_gallery(make_window, app_env, qtbot)
    tab = window.recognise
    stroke = next(iter(drawings.values()))[1][0]
    draw(qtbot, tab.canvas, [stroke])  # draw() sends press, moves and release without running the event loop
    assert any(t.title == "Recognising" for t in window.runner.active_tasks())
    assert wait_ranked(qtbot, window).request_id == tab.drawing_id


def test_query_views_are_a_remembered_choice_that_still_ranks_right(make_window, app_env, qtbot):
    from app.settings import AppSettings

    window, drawings = _window_with_gallery(make_window, app_env, qtbot)
    window.act_query_views.trigger()  # on
    assert AppSettings(app_env["settings"]).query_views
    name, (_reference, query) = next(iter(drawings.items()))
    draw(qtbot, window.recognise.canvas, query)
    assert wait_ranked(qtbot, window).query_views > 0
    assert window.recognise.results.visible_matches()[0][0] == name
    window.act_query_views.trigger()  # off again
    assert not AppSettings(app_env["settings"]).query_views
    window.recognise.canvas.clear()
    draw(qtbot, window.recognise.canvas, query)
    assert wait_ranked(qtbot, window).query_views == 0
    assert window.recognise.results.visible_matches()[0][0] == name
