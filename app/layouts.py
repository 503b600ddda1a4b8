"""Layouts shared by the tabs."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea, QSplitter, QVBoxLayout, QWidget


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
