"""Layouts shared by the tabs."""

from __future__ import annotations

from PySide6.QtCore import Qt
from collections.abc import Callable

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget


def controls_beside(owner: QWidget, parts: list[QWidget], main: QWidget, min_width: int,
                    sizes: tuple[int, int]) -> QSplitter:
    """Lay `owner` out as a scrollable column of `parts` to the left of `main`; return the splitter."""
    controls = QWidget()
    col = QVBoxLayout(controls)
    for part in parts:
        col.addWidget(part)
    col.addStretch(1)
    scroll = QScrollArea()
    scroll.setWidget(controls)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    # Never narrower than the controls need: with no horizontal scroll bar, they would be cut off on the right.
    bar = scroll.verticalScrollBar().sizeHint().width()
    needed = controls.minimumSizeHint().width() + bar + 2 * scroll.frameWidth()
    scroll.setMinimumWidth(max(min_width, needed))
    splitter = QSplitter(Qt.Horizontal)
    splitter.addWidget(scroll)
    splitter.addWidget(main)
    splitter.setStretchFactor(1, 1)
    splitter.setSizes(list(sizes))
    QVBoxLayout(owner).addWidget(splitter)
    return splitter


def narrow_combo(min_chars: int = 14) -> QComboBox:
    """Return a combo box as wide as `min_chars` characters, whatever its entries: long ones (GPU names, preset
    notes, model paths) are elided instead of widening the whole column; the open list shows them whole."""
    box = QComboBox()
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(min_chars)
    return box


def chooser_row(field: QWidget, on_choose: Callable[[], None], *more: QWidget) -> QHBoxLayout:
    """Return a row of `field` (taking the spare width), a "Choose…" button calling `on_choose`, then `more`."""
    choose = QPushButton("Choose…")
    choose.clicked.connect(lambda _checked=False: on_choose())
    row = QHBoxLayout()
    row.addWidget(field, 1)
    for widget in (choose, *more):
        row.addWidget(widget)
    return row
