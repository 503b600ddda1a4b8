"""A page with a box and a label over each glyph: zoom with the wheel, pan by dragging, click a glyph to pick it,
right-click it for the edits the view was given (merge, split, delete), the Delete key to delete it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsRectItem, QGraphicsScene, QGraphicsSimpleTextItem, QGraphicsView, QMenu

CONFIDENT = QColor(30, 140, 60)
UNCONFIDENT = QColor(210, 60, 30)  # the glyphs a person should look at
CONFIRMED = QColor(40, 90, 200)
ZOOM_STEP = 1.25


def gray_pixmap(gray: np.ndarray) -> QPixmap:
    """Return a pixmap of 8-bit grey levels (H, W)."""
    gray = np.ascontiguousarray(gray, dtype=np.uint8)
    image = QImage(gray.data, gray.shape[1], gray.shape[0], gray.strides[0], QImage.Format.Format_Grayscale8)
    return QPixmap.fromImage(image.copy())


class PageView(QGraphicsView):
    """Shows a page and its glyph boxes; `glyph_clicked(index)` gives the glyph's index in reading order.

    The view's actions (`addAction`) are its context menu over a glyph, which is selected first;
    `delete_pressed` fires for the Delete (or Backspace) key.
    """

    glyph_clicked = Signal(int)
    delete_pressed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.boxes: list[QGraphicsRectItem] = []
        self.selected: int | None = None

    def show_page(self, pixmap: QPixmap | None, glyphs) -> None:
        """Show `pixmap` with a box and label per glyph (TranscribedGlyph: box, text, confident, confirmed)."""
        scene = self.scene()
        scene.clear()
        self.boxes = []
        if pixmap is not None:
            scene.addPixmap(pixmap)
            scene.setSceneRect(QRectF(pixmap.rect()))
        for i, g in enumerate(glyphs):
            self._add_box(i, g)
        self._mark_selected()

    def _add_box(self, index: int, g) -> None:
        x0, y0, x1, y1 = g.box
        color = CONFIRMED if g.confirmed else CONFIDENT if g.confident else UNCONFIDENT
        rect = QGraphicsRectItem(x0, y0, x1 - x0, y1 - y0)
        pen = QPen(color, 2 if g.confident or g.confirmed else 3)
        pen.setCosmetic(True)
        rect.setPen(pen)
        rect.setData(0, index)
        rect.setToolTip(f"{g.text}  (score {g.score:.3f})" if g.score is not None else g.text)
        self.scene().addItem(rect)
        label = QGraphicsSimpleTextItem(g.text, rect)
        label.setBrush(QBrush(color))
        label.setPos(x0, max(0, y0 - 16))
        self.boxes.append(rect)

    def select(self, index: int | None) -> None:
        self.selected = index
        self._mark_selected()

    def _mark_selected(self) -> None:
        for i, rect in enumerate(self.boxes):
            rect.setBrush(QBrush(QColor(255, 220, 0, 70)) if i == self.selected else QBrush(Qt.BrushStyle.NoBrush))

    def glyph_at(self, scene_x: float, scene_y: float) -> int | None:
        """Return the index of the glyph whose box holds a scene point, or None."""
        for i, rect in enumerate(self.boxes):
            if rect.rect().contains(scene_x, scene_y):
                return i
        return None

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        point = self.mapToScene(event.position().toPoint())
        index = self.glyph_at(point.x(), point.y())
        if index is not None and event.button() == Qt.MouseButton.LeftButton:
            self.select(index)
            self.glyph_clicked.emit(index)
        super().mousePressEvent(event)

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - Qt's name
        point = self.mapToScene(event.pos())
        index = self.glyph_at(point.x(), point.y())
        if index is None or not self.actions():
            return
        self.select(index)
        self.glyph_clicked.emit(index)
        QMenu.exec(self.actions(), event.globalPos(), None, self)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selected is not None:
            self.delete_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt's name
        factor = ZOOM_STEP if event.angleDelta().y() > 0 else 1 / ZOOM_STEP
        self.scale(factor, factor)

    def fit(self) -> None:
        self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
