"""The drawing canvas: a square with Omniglot's proportions where a person draws with mouse, touch or pen.

Strokes are stored in glyph units (a square of side `AREA` = 105, y down), exactly what
`engine.glyph.render_strokes(strokes, area=AREA)` expects, so the canvas and the engine agree on what was
drawn. The canvas shows what that renderer draws: straight lines between the samples (no smoothing, which
turned a triangle drawn with few mouse reports into a teardrop while the model saw a triangle), a round pen of
the model's width (Omniglot's pen is ~4.7% of the square), constant whatever the tablet pressure (recorded,
but not seen by the model), anti-aliased (the renderer's sub-pixel calibration offset is left out: it would
load engine.glyph, and PIL with it, at startup). Touch screens draw through the
mouse events Qt synthesises from touches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (QColor, QDragEnterEvent, QDropEvent, QImage, QMouseEvent, QPainter, QPalette, QPen,
                           QTabletEvent, QUndoCommand, QUndoStack)
from PySide6.QtWidgets import QSizePolicy, QWidget

from engine.units import OMNIGLOT_STROKE_AREA, PEN_RADIUS

AREA = OMNIGLOT_STROKE_AREA  # strokes are kept in glyph units, like Omniglot's stroke files

PEN_DIAMETER = 2 * PEN_RADIUS  # glyph px: the pen the engine draws strokes with
MARGIN = 8  # logical px around the square


@dataclass(eq=False)  # identity: undo removes this very stroke, not an equal-looking one
class StrokeData:
    """One stroke as drawn: points in AREA units, optional pressures (0..1) and times (ms)."""

    points: list[QPointF] = field(default_factory=list)
    pressures: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def to_engine(self):
        """Return this stroke as an `engine.strokes.Stroke` (x, y in AREA units; t and pressure kept)."""
        from engine.strokes import Stroke

        pts = [(p.x(), p.y()) for p in self.points]
        pressure = self.pressures if len(self.pressures) == len(pts) else None
        t = self.times if len(self.times) == len(pts) else None
        return Stroke(pts, t=t, pressure=pressure)


class _AddStroke(QUndoCommand):
    def __init__(self, canvas: DrawingCanvas, stroke: StrokeData) -> None:
        super().__init__("Stroke")
        self.canvas, self.stroke = canvas, stroke

    def redo(self) -> None:
        self.canvas._strokes.append(self.stroke)
        self.canvas._changed()

    def undo(self) -> None:
        self.canvas._strokes.remove(self.stroke)
        self.canvas._changed()


class _Clear(QUndoCommand):
    def __init__(self, canvas: DrawingCanvas) -> None:
        super().__init__("Clear")
        self.canvas, self.saved = canvas, list(canvas._strokes)

    def redo(self) -> None:
        self.canvas._strokes.clear()
        self.canvas._changed()

    def undo(self) -> None:
        self.canvas._strokes[:] = self.saved
        self.canvas._changed()


class DrawingCanvas(QWidget):
    """The drawing square. `drawing_changed` fires after every finished stroke, undo, redo and clear."""

    drawing_changed = Signal()
    file_dropped = Signal(str)
    SQUARES = 1  # the drawing area's width in squares of side AREA (a wide canvas for a line: `LineCanvas`)
    HINT = "Draw a character here\nor drop an image"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._strokes: list[StrokeData] = []
        self._current: StrokeData | None = None
        self._image: QImage | None = None
        self._clock = QElapsedTimer()
        self._clock.start()
        self.undo_stack = QUndoStack(self)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(220, 220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setAccessibleName("Drawing canvas")
        self.setToolTip("Draw a character here, or drop an image file")

    # ------------------------------------------------------------------ public API

    def strokes(self) -> list:
        """Return the finished strokes as engine `Stroke`s in AREA units (empty list when nothing is drawn)."""
        return [s.to_engine() for s in self._strokes]

    def stroke_count(self) -> int:
        """Return the number of finished strokes."""
        return len(self._strokes)

    def has_image(self) -> bool:
        """Return True while a dropped/opened image is shown instead of strokes."""
        return self._image is not None

    def is_empty(self) -> bool:
        """Return True when there is neither a stroke nor an image."""
        return not self._strokes and self._image is None

    def clear(self) -> None:
        """Clear the drawing (undoable) or the shown image."""
        if self._image is not None:
            self._image = None
            self._changed()
        elif self._strokes:
            self.undo_stack.push(_Clear(self))

    def show_image(self, image: QImage) -> None:
        """Show `image` (fitted into the square) in place of the strokes; drawing again clears it."""
        self._strokes.clear()
        self.undo_stack.clear()
        self._image = image
        self.update()

    @property
    def area_width(self) -> float:
        """Return the drawing area's width in AREA units (its height is AREA)."""
        return AREA * self.SQUARES

    def square(self) -> QRectF:
        """Return the drawing area in widget coordinates (centred across, at the top): a square, or `SQUARES`
        squares side by side."""
        side = max(1.0, min(self.width() / self.SQUARES, self.height()) - 2 * MARGIN)
        return QRectF((self.width() - side * self.SQUARES) / 2, MARGIN, side * self.SQUARES, side)

    def area_to_widget(self, p: QPointF) -> QPointF:
        """Return the widget position of a point in AREA units."""
        sq = self.square()
        s = sq.height() / AREA
        return QPointF(sq.left() + p.x() * s, sq.top() + p.y() * s)

    def widget_to_area(self, p: QPointF) -> QPointF:
        """Return the AREA-unit position of a widget point."""
        sq = self.square()
        s = AREA / sq.height()
        return QPointF((p.x() - sq.left()) * s, (p.y() - sq.top()) * s)

    # ------------------------------------------------------------------ input

    def _begin(self, pos: QPointF, pressure: float | None) -> None:
        if self._image is not None:
            self._image = None  # a new drawing replaces the shown image
        self._current = StrokeData()
        self._extend(pos, pressure)

    def _extend(self, pos: QPointF, pressure: float | None) -> None:
        if self._current is None:
            return
        # Kept inside the square: what is shown as drawn is what the model sees, and no ink leaves the frame.
        p = self.widget_to_area(pos)
        p = QPointF(min(max(p.x(), 0.0), self.area_width), min(max(p.y(), 0.0), AREA))
        if self._current.points and (self._current.points[-1] - p).manhattanLength() < 0.05:
            return  # repeated samples add nothing but cost
        self._current.points.append(p)
        self._current.times.append(float(self._clock.elapsed()))
        if pressure is not None:
            self._current.pressures.append(max(0.0, min(1.0, pressure)))
        self.update()

    def _end(self) -> None:
        stroke, self._current = self._current, None
        if stroke is not None and stroke.points:
            self.undo_stack.push(_AddStroke(self, stroke))
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self._begin(event.position(), None)
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        # Tests' QTest.mouseMove may not carry the button state, so a stroke in progress is enough.
        if self._current is not None:
            self._extend(event.position(), None)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self._current is not None:
            self._extend(event.position(), None)
            self._end()

    def tabletEvent(self, event: QTabletEvent) -> None:  # noqa: N802
        kind = event.type()
        if kind == QTabletEvent.Type.TabletPress:
            self._begin(event.position(), event.pressure())
        elif kind == QTabletEvent.Type.TabletMove and self._current is not None:
            self._extend(event.position(), event.pressure())
        elif kind == QTabletEvent.Type.TabletRelease:
            self._end()
        event.accept()  # no synthesised mouse events on top of the pen's

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if _local_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        files = _local_files(event)
        if files:
            event.acceptProposedAction()
            self.file_dropped.emit(files[0])

    def _changed(self) -> None:
        self.update()
        self.drawing_changed.emit()

    # ------------------------------------------------------------------ painting

    def paintEvent(self, _event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        sq = self.square()
        painter.fillRect(self.rect(), pal.color(QPalette.ColorRole.Window))
        painter.fillRect(sq, pal.color(QPalette.ColorRole.Base))
        self._paint_guides(painter, sq, pal)
        if self._image is not None:
            self._paint_image(painter, sq)
        ink = pal.color(QPalette.ColorRole.Text)
        painter.save()
        painter.setClipRect(sq)  # the round pen's half width at the edge stays inside the frame too
        for stroke in self._strokes:
            self._paint_stroke(painter, stroke, ink)
        if self._current is not None:
            self._paint_stroke(painter, self._current, pal.color(QPalette.ColorRole.Highlight))
        painter.restore()
        if self.is_empty() and self._current is None:
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(sq, Qt.AlignmentFlag.AlignCenter, self.HINT)
        frame = QPen(pal.color(QPalette.ColorRole.Highlight if self.hasFocus() else QPalette.ColorRole.Mid), 1)
        painter.setPen(frame)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(sq.adjusted(0.5, 0.5, -0.5, -0.5))

    def _paint_guides(self, painter: QPainter, sq: QRectF, pal: QPalette) -> None:
        # Faint centre lines help people centre the character as Omniglot's drawers did.
        color = QColor(pal.color(QPalette.ColorRole.Mid))
        color.setAlpha(60)
        painter.setPen(QPen(color, 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(sq.center().x(), sq.top()), QPointF(sq.center().x(), sq.bottom()))
        painter.drawLine(QPointF(sq.left(), sq.center().y()), QPointF(sq.right(), sq.center().y()))

    def _paint_image(self, painter: QPainter, sq: QRectF) -> None:
        img = self._image
        scale = min(sq.width() / max(1, img.width()), sq.height() / max(1, img.height()))
        w, h = img.width() * scale, img.height() * scale
        target = QRectF(sq.center().x() - w / 2, sq.center().y() - h / 2, w, h)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(target, img)

    def _paint_stroke(self, painter: QPainter, stroke: StrokeData, color: QColor) -> None:
        scale = self.square().height() / AREA
        pts = [self.area_to_widget(p) for p in stroke.points]
        pen = QPen(color, PEN_DIAMETER * scale, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                   Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if len(pts) == 1:
            painter.drawPoint(pts[0])
        else:
            painter.drawPolyline(pts)  # the renderer's segments: what is shown is what is ranked


class LineCanvas(DrawingCanvas):
    """A wide canvas for writing a whole line: `SQUARES` squares side by side, the same units, pen and renderer's
    segments as the square canvas (`engine.transcribe.written.render_line` draws what it shows)."""

    SQUARES = 6
    HINT = "Write a line of glyphs here"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(6 * 60, 90)
        self.setAccessibleName("Line canvas")
        self.setToolTip("Write a line of glyphs here, left to right")

    def _paint_guides(self, painter: QPainter, sq: QRectF, pal: QPalette) -> None:
        # A faint middle line: glyphs written along it stay one text line.
        color = QColor(pal.color(QPalette.ColorRole.Mid))
        color.setAlpha(60)
        painter.setPen(QPen(color, 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(sq.left(), sq.center().y()), QPointF(sq.right(), sq.center().y()))


def _local_files(event: QDragEnterEvent | QDropEvent) -> list[str]:
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [str(Path(u.toLocalFile())) for u in mime.urls() if u.isLocalFile()]
