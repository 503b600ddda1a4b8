"""Layouts shared by the tabs."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import (QAbstractScrollArea, QAbstractSpinBox, QComboBox, QHBoxLayout, QPushButton,
                               QScrollArea, QSplitter, QVBoxLayout, QWidget)


class _WheelScrollsForm(QObject):
    """Event filter: the wheel over a spin box or combo box that has no keyboard focus scrolls the form around
    it instead of changing the value under the pointer (a person scrolling down the form changed the learning
    rate instead, and never reached the buttons)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget) or watched.hasFocus():
            return False
        area = watched.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is None:
            return False
        # Straight to the scroll area: an event sent by hand is not passed on to parents as a real one is.
        QCoreApplication.sendEvent(area.viewport(), event)
        return True


def wheel_scrolls_form(form: QWidget) -> None:
    """Make every spin box and combo box in `form` leave the wheel to the form unless it has keyboard focus
    (clicked or tabbed into): then the wheel changes its value, as usual."""
    wheel_filter = _WheelScrollsForm(form)
    for field in [*form.findChildren(QAbstractSpinBox), *form.findChildren(QComboBox)]:
        field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        field.installEventFilter(wheel_filter)


def controls_beside(owner: QWidget, parts: list[QWidget], main: QWidget, min_width: int,
                    sizes: tuple[int, int], footer: QWidget | None = None) -> QSplitter:
    """Lay `owner` out as a scrollable column of `parts` to the left of `main`, with `footer` (the main buttons)
    pinned below the column, always in view whatever the window's height; return the splitter."""
    controls = QWidget()
    col = QVBoxLayout(controls)
    for part in parts:
        col.addWidget(part)
    col.addStretch(1)
    wheel_scrolls_form(controls)
    scroll = QScrollArea()
    scroll.setWidget(controls)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    # Never narrower than the controls need: with no horizontal scroll bar, they would be cut off on the right.
    bar = scroll.verticalScrollBar().sizeHint().width()
    needed = controls.minimumSizeHint().width() + bar + 2 * scroll.frameWidth()
    scroll.setMinimumWidth(max(min_width, needed))
    left: QWidget = scroll
    if footer is not None:
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(scroll, 1)
        column.addWidget(footer)
    splitter = QSplitter(Qt.Horizontal)
    splitter.addWidget(left)
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
