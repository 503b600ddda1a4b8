"""A window listing every reference (example) of one character, with a way to remove one."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QListView, QListWidget, QListWidgetItem,
                               QPushButton, QVBoxLayout, QWidget)

from PySide6.QtGui import QIcon

from engine.workspace import CharacterView

from .icons import icon
from .images import glyph_pixmap

THUMB = 84


class ReferencesDialog(QDialog):
    """Shows `character`'s references; `remove_requested(name, index)` asks the owner to remove one."""

    remove_requested = Signal(str, int)

    def __init__(self, character: CharacterView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.character = character
        self.setWindowTitle(f"Examples of “{character.name}”")
        self.title = QLabel()
        self.grid = QListWidget()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(THUMB, THUMB))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setSpacing(6)
        self.remove = QPushButton(icon("delete"), "Remove example")
        self.remove.setEnabled(False)
        self.remove.clicked.connect(self._remove)
        self.grid.itemSelectionChanged.connect(self._update_buttons)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.remove, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.grid, 1)
        layout.addWidget(buttons)
        self.resize(460, 360)
        self.set_character(character)

    def set_character(self, character: CharacterView) -> None:
        """Show (or refresh) the references of `character`."""
        self.character = character
        n = len(character.references)
        self.title.setText(f"<b>{character.name}</b>: {n} example{'s' if n != 1 else ''}")
        self.grid.clear()
        for i, pixels in enumerate(character.references):
            item = QListWidgetItem(f"#{i + 1}")
            item.setIcon(QIcon(glyph_pixmap(pixels, self.palette(), THUMB, self.devicePixelRatioF())))
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.grid.addItem(item)
        self._update_buttons()

    def _update_buttons(self) -> None:
        # A character keeps at least one example: delete the character instead.
        self.remove.setEnabled(bool(self.grid.selectedItems()) and len(self.character.references) > 1)

    def _remove(self) -> None:
        items = self.grid.selectedItems()
        if items:
            self.remove_requested.emit(self.character.name, int(items[0].data(Qt.ItemDataRole.UserRole)))
