"""A bar at the top of the window for messages: what failed and what to do, or what just happened.

Errors stay until closed (or replaced); information fades after a while. An optional button offers the
obvious next step (e.g. "Open model…", "Undo").
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from .icons import icon

INFO_TIMEOUT_MS = 8000


class MessageBar(QFrame):
    """One message at a time; `level` is "error", "warning" or "info". `shown(level, text)` for observers."""

    shown = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.level = ""
        self._restyling = False
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action = QPushButton()
        self.action.hide()
        self.close_button = QToolButton()
        self.close_button.setIcon(icon("cancel"))
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action)
        layout.addWidget(self.close_button)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self._callback: Callable[[], None] | None = None
        self.action.clicked.connect(self._run_action)
        self.hide()

    def text(self) -> str:
        """Return the message shown ("" when hidden)."""
        return self.label.text() if self.isVisibleTo(self.parentWidget()) else ""

    def show_message(self, level: str, text: str, action: str | None = None,
                     callback: Callable[[], None] | None = None) -> None:
        """Show `text`; with `action` and `callback`, a button that runs it."""
        self.level = level
        self.label.setText(text)
        self._callback = callback
        self.action.setText(action or "")
        self.action.setVisible(bool(action and callback))
        self._restyle()
        self.show()
        self._timer.stop()
        if level == "info":
            self._timer.start(INFO_TIMEOUT_MS)
        self.shown.emit(level, text)

    def error(self, text: str, action: str | None = None, callback: Callable[[], None] | None = None) -> None:
        """Show an error (stays until dismissed)."""
        self.show_message("error", text, action, callback)

    def info(self, text: str, action: str | None = None, callback: Callable[[], None] | None = None) -> None:
        """Show information (fades after a few seconds)."""
        self.show_message("info", text, action, callback)

    def dismiss(self) -> None:
        """Hide the bar."""
        self._timer.stop()
        self.hide()

    def _run_action(self) -> None:
        callback = self._callback
        self.dismiss()
        if callback is not None:
            callback()

    def _restyle(self) -> None:
        # Colours derived from the palette so the bar reads well in light and dark themes.
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.Window)
        dark = base.lightness() < 128
        tint = {"error": (220, 50, 47), "warning": (230, 160, 20)}.get(self.level,
                                                                       pal.color(QPalette.ColorRole.Highlight).getRgb()[:3])
        r, g, b = tint
        alpha = 70 if dark else 40
        self.setStyleSheet(f"QFrame#messageBar {{ background: rgba({r}, {g}, {b}, {alpha});"
                           f" border: 1px solid rgb({r}, {g}, {b}); border-radius: 4px; }}")

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.level and not self._restyling:
            self._restyling = True  # a style sheet change must not loop back through here
            try:
                self._restyle()
            finally:
                self._restyling = False
