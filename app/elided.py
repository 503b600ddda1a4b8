"""Text widgets that never widen their column: the text is elided to the width they are given, whole in the
tooltip. A `minimum_text` says what must always fit (a button's own label), so the column's minimum width is set by
fixed texts only, never by a character's name."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QResizeEvent
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QWidget

BUTTON_FRAME = 28  # a push button's frame and the gap between its icon and its text


class _Elided:
    """What elided widgets share: the whole text kept beside the shown one, elided again at each resize
    (`_elide`, the widget's own rule)."""

    _full: str

    def full_text(self) -> str:
        """Return the whole text (what `text()` shows may be elided)."""
        return self._full

    def is_elided(self) -> bool:
        """Return True when the text shown is shorter than the whole text."""
        return self.text() != self._full

    def set_full_text(self, text: str) -> None:
        """Show `text`, elided if the widget is too narrow for it."""
        self._full = text
        self._elide()

    def _elide(self) -> None:
        raise NotImplementedError

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._elide()


class ElidedButton(_Elided, QPushButton):
    """A push button whose text is elided to the width it is given instead of widening its column; it is
    always wide enough for `minimum_text` (default: its first text)."""

    def __init__(self, icon_: QIcon, text: str, parent: QWidget | None = None, minimum_text: str | None = None) -> None:
        super().__init__(icon_, text, parent)
        self._full = text
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(self._room_for(minimum_text or text))

    def _room_for(self, text: str) -> int:
        return self.fontMetrics().horizontalAdvance(text) + self.iconSize().width() + BUTTON_FRAME + 2

    def _elide(self) -> None:
        room = self.width() - self.iconSize().width() - BUTTON_FRAME  # icon, its gap and the button's frame
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle, max(room, 40))
        super().setText(shown)



class ElidedLabel(_Elided, QLabel):
    """A one-line label elided at the end (…) to its width; the whole text is its tooltip when it is cut."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.set_full_text(text)

    def _elide(self) -> None:
        room = self.contentsRect().width()
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(room, 1))
        super().setText(shown)
        self.setToolTip(self._full if shown != self._full else "")



class WrappedLabel(QLabel):
    """A word-wrapped label that asks its layout for the height its text needs at its width: a wrapped QLabel's
    minimum height ignores its text, so a squeezed form (a tab scrolled in a small window) cut it off."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        needed = self.heightForWidth(self.width())
        if needed > 0 and needed != self.minimumHeight():
            self.setMinimumHeight(needed)
