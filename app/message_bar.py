"""A bar at the top of the window for messages: what failed and what to do, or what just happened.

Errors stay until closed (or replaced); information fades after a while. An optional button offers the
obvious next step (e.g. "Open model…", "Undo").

The bar keeps its place and height when empty, so a message coming or going never moves what is below it (a
person drawing on the canvas); a message longer than its lines is elided, whole in the tooltip. The main window
puts a one-line bar in the tab bar's row, beside the tabs (`fill_width` says how wide it may be there), so an
empty bar takes no room of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QPalette, QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton, QWidget

from .icons import icon

INFO_TIMEOUT_MS = 8000
LINES = 2  # lines of text the bar has room for, unless told otherwise


def sentence(text: str) -> str:
    """Return `text` ending in a full stop (an engine message may not), so that a message going on after it
    reads as two sentences."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?", "…")) else text + "."


class MessageBar(QFrame):
    """One message at a time; `level` is "error", "warning" or "info". `shown(level, text)` for observers."""

    shown = Signal(str, str)

    def __init__(self, parent: QWidget | None = None, lines: int = LINES) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.lines = lines
        self.fill_width: Callable[[], int] | None = None  # the width to ask for (None: what the text needs)
        self.level = ""
        self._text = ""
        self._restyling = False
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action = QPushButton()
        self.action.hide()
        self.close_button = QToolButton()
        self.close_button.setIcon(icon("cancel"))
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 2, 4, 2)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action)
        layout.addWidget(self.close_button)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self._callback: Callable[[], None] | None = None
        self.action.clicked.connect(self._run_action)
        self.setFixedHeight(self._height())
        self._set_contents_visible(False)

    def _height(self) -> int:
        margins = self.layout().contentsMargins()
        text = self.lines * QFontMetrics(self.label.font()).lineSpacing()
        return max(text, self.action.sizeHint().height(), self.close_button.sizeHint().height()) + \
            margins.top() + margins.bottom() + 2 * self.frameWidth() + 2

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """Return the width `fill_width` gives (the room beside the tabs), else the usual hint."""
        hint = super().sizeHint()
        return QSize(max(0, self.fill_width()), hint.height()) if self.fill_width is not None else hint

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """Return the same minimum with or without a message: one coming or going never resizes the window."""
        return QSize(0, self.minimumHeight())  # the fixed height set at construction

    def _set_contents_visible(self, visible: bool) -> None:
        for widget in (self.label, self.close_button):
            widget.setVisible(visible)
        if not visible:
            self.action.hide()

    def text(self) -> str:
        """Return the message shown, whole ("" when there is none)."""
        return self._text

    def show_message(self, level: str, text: str, action: str | None = None,
                     callback: Callable[[], None] | None = None) -> None:
        """Show `text`; with `action` and `callback`, a button that runs it."""
        self.level = level
        self._text = text
        self._callback = callback
        self.action.setText(action or "")
        self._set_contents_visible(True)
        self.action.setVisible(bool(action and callback))
        self._restyle()
        self._fit_text()
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
        """Empty the bar (it keeps its place)."""
        self._timer.stop()
        self._text, self.level = "", ""
        self._set_contents_visible(False)
        self._restyle()

    def _fit_text(self) -> None:
        """Show the message whole if it fits in the bar's lines, else elided (whole in the tooltip)."""
        metrics, width = QFontMetrics(self.label.font()), max(40, self._label_width())
        room = QRect(0, 0, width, self.lines * metrics.lineSpacing())

        def fits(text: str) -> bool:
            return metrics.boundingRect(QRect(0, 0, width, 10**6), Qt.TextFlag.TextWordWrap, text).height() \
                <= room.height()

        shown = self._text
        if not fits(shown):
            lo, hi = 0, len(shown)
            while lo < hi:  # the longest prefix that fits with an ellipsis
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if fits(shown[:mid].rstrip() + "…") else (lo, mid - 1)
            shown = shown[:lo].rstrip() + "…"
        self.label.setText(shown)
        self.label.setToolTip(self._text if shown != self._text else "")

    def _label_width(self) -> int:
        """Return the label's width once laid out (computed: it may just have been shown)."""
        layout = self.layout()
        margins, spacing = layout.contentsMargins(), max(0, layout.spacing())
        used = margins.left() + margins.right() + self.close_button.sizeHint().width() + spacing
        if not self.action.isHidden():
            used += self.action.sizeHint().width() + spacing
        return self.contentsRect().width() - used

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self._text:
            self._fit_text()

    def _run_action(self) -> None:
        callback = self._callback
        self.dismiss()
        if callback is not None:
            callback()

    def _restyle(self) -> None:
        # Colours derived from the palette so the bar reads well in light and dark themes.
        if not self.level:
            self.setStyleSheet("QFrame#messageBar { background: transparent; border: 1px solid transparent; }")
            return
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
