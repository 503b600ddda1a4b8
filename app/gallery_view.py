"""The gallery: a grid of the enrolled characters (first example as thumbnail), a switcher between recent
galleries, and a drop target for folders, zips (imported as new galleries) and images (added to this one).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QFont, QIcon, QPainter, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QListView, QListWidget,
                               QListWidgetItem, QToolBar, QVBoxLayout, QWidget)

from engine.workspace import GallerySnapshot

from .images import glyph_pixmap
from .layouts import narrow_combo

THUMB = 56
CELL_MIN, CELL_MAX = THUMB + 34, 124  # a grid cell's width: as wide as the longest name needs, within these


class _DropList(QListWidget):
    """The grid; local files dropped on it are handed to the view (the list itself never moves items)."""

    files_dropped = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.placeholder = ""

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)

    def paintEvent(self, event) -> None:  # noqa: N802
        super().paintEvent(event)
        if self.count() == 0 and self.placeholder:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            rect = self.viewport().rect().adjusted(12, 12, -12, -12)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)


class GalleryView(QWidget):
    """Shows a `GallerySnapshot`. Signals: files_dropped(paths), switch_requested(path), character_activated(name),
    selection_changed(). Actions (new, open, import, rename, delete, merge...) are added by the main window to
    `toolbar` and to the grid's context menu.
    """

    files_dropped = Signal(list)
    switch_requested = Signal(str)
    character_activated = Signal(str)
    selection_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.snapshot: GallerySnapshot | None = None
        self.switcher = narrow_combo(12)
        self.switcher.setToolTip("Switch to a recently used gallery")
        self.switcher.activated.connect(self._switch)
        self.title = QLabel("No gallery")
        self.title.setWordWrap(True)
        font = QFont(self.title.font())
        font.setBold(True)
        self.title.setFont(font)
        self.toolbar = QToolBar()
        self.toolbar.setIconSize(QSize(18, 18))
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.grid = _DropList()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(THUMB, THUMB))
        self.grid.setGridSize(QSize(THUMB + 34, THUMB + 34))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        # Drags arrive at the viewport; a Static list view turns its drops off, so turn them back on.
        self.grid.viewport().setAcceptDrops(True)
        self.grid.setUniformItemSizes(True)
        self.grid.setWordWrap(True)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.grid.files_dropped.connect(self.files_dropped)
        self.grid.itemActivated.connect(lambda item: self.character_activated.emit(item.text()))
        self.grid.itemSelectionChanged.connect(self.selection_changed)
        top = QHBoxLayout()
        top.addWidget(self.switcher, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.title)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.grid, 1)
        self.set_snapshot(None)

    def set_snapshot(self, snapshot: GallerySnapshot | None) -> None:
        """Show `snapshot` (None = no gallery), keeping the selection by name."""
        selected = set(self.selected_names())
        self.snapshot = snapshot
        self.grid.clear()
        if snapshot is None:
            self.title.setText("No gallery open")
            self.grid.placeholder = "Create or open a gallery (Gallery menu), or drop a folder or zip of images here."
            return
        n, refs = len(snapshot.characters), snapshot.n_references
        self.title.setText(f"{snapshot.name} — {n} character{'s' if n != 1 else ''}, {refs} example{'s' if refs != 1 else ''}")
        self.grid.placeholder = ("This gallery is empty.\nDraw a character and press “Add as new character”, "
                                 "or drop images, a folder or a zip here.")
        ratio = self.devicePixelRatioF()
        cell = self._cell_size([ch.name for ch in snapshot.characters])
        self.grid.setGridSize(cell)
        for ch in snapshot.characters:
            item = QListWidgetItem(ch.name)
            item.setSizeHint(cell)  # the text gets the cell's width (by default it wraps to the icon's)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            if ch.references:
                item.setIcon(QIcon(glyph_pixmap(ch.references[0], self.palette(), THUMB, ratio)))
            item.setToolTip(f"{ch.name} — {len(ch.references)} example(s). Double-click to see them.")
            self.grid.addItem(item)
            item.setSelected(ch.name in selected)
        self.grid.viewport().update()

    def _cell_size(self, names: list[str]) -> QSize:
        """Return a grid cell wide enough for the longest name (up to CELL_MAX; longer ones are elided)."""
        metrics = self.grid.fontMetrics()
        widest = max((metrics.horizontalAdvance(n) for n in names), default=0) + 14
        width = min(max(widest, CELL_MIN), CELL_MAX)
        return QSize(width, THUMB + 2 * metrics.lineSpacing() + 12)

    def set_recent(self, galleries: list[tuple[Path, str]], current: Path | None) -> None:
        """Fill the switcher with recent galleries (folder, shown name), `current` selected."""
        self.switcher.blockSignals(True)
        self.switcher.clear()
        for path, name in galleries:
            self.switcher.addItem(name, str(path))
            self.switcher.setItemData(self.switcher.count() - 1, str(path), Qt.ItemDataRole.ToolTipRole)
        index = self.switcher.findData(str(current)) if current else -1
        self.switcher.setCurrentIndex(index)
        self.switcher.blockSignals(False)

    def selected_names(self) -> list[str]:
        """Return the names of the selected characters, in grid order."""
        return [self.grid.item(i).text() for i in range(self.grid.count()) if self.grid.item(i).isSelected()]

    def select(self, names: list[str]) -> None:
        """Select exactly the characters called `names`."""
        wanted = set(names)
        for i in range(self.grid.count()):
            self.grid.item(i).setSelected(self.grid.item(i).text() in wanted)

    def _switch(self, index: int) -> None:
        path = self.switcher.itemData(index)
        if path and (self.snapshot is None or Path(path) != self.snapshot.path):
            self.switch_requested.emit(str(path))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.snapshot is not None:
            self.set_snapshot(self.snapshot)
