"""The ranking: the top-k characters with their best reference, name and similarity (bar + percentage).

States: a hint (nothing drawn, empty gallery, no model...), the ranking, and the ranking under a clear
"No confident match" banner. Rows are reused, so results update in place as the person draws.

When the gallery knows which Unicode character a result is (enrolled from a font), the row shows it large
with its code point and Unicode name, and it can be copied: each such row has its own Copy button, a
double-click or its context menu's Copy copies it, and Ctrl+C or the header's Copy button copy the chosen row's
(the top one until another is clicked; the chosen row is outlined). "Copied Σ" is said on a line of its own
below the rows, so it covers nothing.

The hint, the banner and the rows sit in a scroll area: whatever is shown, the pane's minimum height stays
the same, so it never asks the window for more height (the window grew by itself as results appeared).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QContextMenuEvent, QFont, QGuiApplication, QKeySequence, QMouseEvent, QPalette
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QMenu, QProgressBar, QPushButton, QScrollArea,
                               QSizePolicy, QToolButton, QVBoxLayout, QWidget)

from engine.chars import describe_char
from engine.workspace import TOP_K, MatchView, RankOutcome

from .elided import ElidedLabel
from .images import GlyphPixmapCache

THUMB = 52
CHAR_SCALE = 2.4  # the known character is shown this many times the normal text size
COPIED_NOTE_MS = 2500

HINTS = {
    "empty-canvas": "Draw a character on the canvas (or drop an image on it) to see which characters it "
                    "looks like.",
    "no-model": "No model is loaded, so nothing can be ranked. Choose a weights file with File > Open model….",
    "no-gallery": "No gallery is open. Create one or open one from the Gallery menu, then enrol characters.",
    "empty-gallery": "This gallery is empty. To enrol a character: draw it, then press “Add as new "
                     "character”. Or import a whole alphabet with Gallery > Import (a folder or zip of images, "
                     "one per character).",
}


class _ScoreBar(QProgressBar):
    """A similarity bar whose new value is painted with the rest of the row: QProgressBar.setValue repaints at
    once, and five such paints were a third of the UI's work per ranking."""

    def set_value_later(self, value: int) -> None:
        """Set the value; the bar is repainted at the next paint, not now."""
        self.setUpdatesEnabled(False)  # setValue's immediate repaint() does nothing while updates are off
        self.setValue(value)
        self.setUpdatesEnabled(True)  # schedules the usual, coalesced update


class _ResultRow(QFrame):
    """One ranked character. A row with a Unicode character (a font's) is for copying: a click chooses it (what
    Ctrl+C and the Copy button copy), a double-click or its own Copy button copies it. A row without one (a drawn
    character) opens all of that character's examples when clicked. The context menu offers both."""

    clicked = Signal(str)  # show this character's examples
    chosen = Signal()
    copy_requested = Signal()

    def __init__(self, pixmaps: GlyphPixmapCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.match: MatchView | None = None
        self._pixmaps = pixmaps
        self._chosen: bool | None = None
        self.setObjectName("resultRow")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.thumb = QLabel()
        self.thumb.setFixedSize(THUMB, THUMB)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.name = ElidedLabel()
        font = QFont(self.name.font())
        font.setBold(True)
        self.name.setFont(font)
        self.char = QLabel()
        big = QFont(self.char.font())
        big.setPointSizeF(big.pointSizeF() * CHAR_SCALE)
        self.char.setFont(big)
        self.char.setMinimumWidth(self.char.fontMetrics().height())
        self.char.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.char.hide()
        self.unicode = ElidedLabel()  # in the text colour: the palette's disabled grey was too pale to read
        small = QFont(self.unicode.font())
        small.setPointSizeF(small.pointSizeF() * 0.9)
        self.unicode.setFont(small)
        self.unicode.hide()
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy")
        self.copy_button.setAutoRaise(True)
        self.copy_button.setCursor(Qt.CursorShape.ArrowCursor)
        self.copy_button.clicked.connect(self.copy_requested)
        self.copy_button.hide()
        self.bar = _ScoreBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(10)
        self.percent = QLabel()
        self.percent.setMinimumWidth(self.percent.fontMetrics().horizontalAdvance("100.0%") + 4)
        self.percent.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        text = QVBoxLayout()
        text.addWidget(self.name)
        text.addWidget(self.unicode)
        bar_row = QHBoxLayout()
        bar_row.addWidget(self.bar, 1)
        bar_row.addWidget(self.percent)
        text.addLayout(bar_row)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.thumb)
        layout.addWidget(self.char)
        layout.addLayout(text, 1)
        layout.addWidget(self.copy_button)
        self.set_chosen(False)

    def widest_minimum(self) -> int:
        """Return the row's minimum width when it shows everything it can (a character and its Copy button)."""
        parts = (self.char, self.unicode, self.copy_button)
        hidden = [w.isHidden() for w in parts]
        for w in parts:
            w.setHidden(False)  # counted by the layout, not shown: the row itself is not on screen here
        width = self.layout().minimumSize().width()
        for w, was in zip(parts, hidden):
            w.setHidden(was)
        return width

    def set_match(self, rank: int, match: MatchView) -> None:
        """Show `match` as the `rank`-th result (1-based)."""
        self.match = match
        self.name.set_full_text(f"{rank}. {match.name}")
        self.bar.set_value_later(round(match.score * 1000))
        self.percent.setText(f"{match.score * 100:.1f}%")
        self.setAccessibleName(f"{match.name}, {match.score * 100:.0f} percent")
        self.char.setText(match.char or "")
        self.unicode.set_full_text(describe_char(match.char) if match.char else "")
        for widget in (self.char, self.unicode, self.copy_button):
            widget.setVisible(match.char is not None)
        if match.char:
            self.copy_button.setToolTip(f"Copy {match.char} to the clipboard")
            self.setToolTip(f"Double-click (or Copy) to copy {match.char}; right-click for its examples")
        else:
            self.setToolTip("Click to see all examples of this character")
        if match.thumbnail is not None:
            self.thumb.setPixmap(self._pixmaps.pixmap(match.thumbnail, self.palette(), THUMB - 2,
                                                      self.devicePixelRatioF()))
        else:
            self.thumb.clear()

    def set_chosen(self, chosen: bool) -> None:
        """Mark this row as the one Ctrl+C copies (a highlighted frame)."""
        if self._chosen == chosen:
            return  # a style sheet change re-polishes the row: only when it changes (rankings come per stroke)
        self._chosen = chosen
        colour = "palette(highlight)" if chosen else "transparent"
        self.setStyleSheet(f"QFrame#resultRow {{ border: 2px solid {colour}; border-radius: 4px; }}")

    def context_menu(self) -> QMenu:
        """Return the row's menu: Copy (when it has a character) and Show All Examples."""
        menu = QMenu(self)
        if self.match is not None and self.match.char:
            menu.addAction(f"Copy {self.match.char}", self.copy_requested.emit)
        if self.match is not None:
            name = self.match.name
            menu.addAction("Show All Examples…", lambda: self.clicked.emit(name))
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 - Qt override
        if self.match is not None:
            self.chosen.emit()
            self.context_menu().exec(event.globalPos())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton and self.match is not None:
            self.chosen.emit()
            if not self.match.char:
                self.clicked.emit(self.match.name)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton and self.match is not None and self.match.char:
            self.copy_requested.emit()


class ResultsView(QWidget):
    """Shows a `RankOutcome`. Emits `updated` after each display, `character_clicked(name)` and `copied(char)`."""

    updated = Signal(object)
    character_clicked = Signal(str)
    copied = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.outcome: RankOutcome | None = None
        self.chosen = 0  # the row Ctrl+C and Copy act on: the top one until another is clicked
        self.title = QLabel("Closest characters")
        font = QFont(self.title.font())
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.title.setFont(font)
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)  # wraps, never widens
        self.banner.setObjectName("noConfidentMatch")
        self.banner.setContentsMargins(8, 6, 8, 6)
        self.banner.hide()
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        thumbnails = GlyphPixmapCache()  # shared: a reference moves from row to row as the ranking changes
        self.rows = [_ResultRow(thumbnails) for _ in range(TOP_K)]
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the chosen result's character to the clipboard (Ctrl+C)")
        self.copy_button.clicked.connect(lambda: self.copy_character())
        kept = self.copy_button.sizePolicy()
        kept.setRetainSizeWhenHidden(True)  # the header's height stays when it comes and goes
        self.copy_button.setSizePolicy(kept)
        self.copy_button.hide()
        self.copied_note = QLabel()
        self.copied_note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        policy = self.copied_note.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # its line stays, so the note coming or going moves nothing
        self.copied_note.setSizePolicy(policy)
        self.copied_note.hide()
        self._note_timer = QTimer(self, singleShot=True, interval=COPIED_NOTE_MS, timeout=self.copied_note.hide)
        # Window-wide: the person is drawing on the canvas when they want the character.
        self.copy_action = QAction("Copy Character", self, shortcut=QKeySequence(QKeySequence.StandardKey.Copy),
                                   shortcutContext=Qt.ShortcutContext.WindowShortcut)
        self.copy_action.triggered.connect(lambda: self.copy_character())
        self.addAction(self.copy_action)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        # Everything whose height depends on what is shown scrolls: the pane's minimum height is constant.
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        rows = QWidget()
        rows_layout = QVBoxLayout(rows)
        rows_layout.setContentsMargins(0, 0, 0, 0)
        rows_layout.addWidget(self.banner)
        rows_layout.addWidget(self.hint)
        for i, row in enumerate(self.rows):
            row.chosen.connect(lambda i=i: self._choose(i))
            row.clicked.connect(self.character_clicked)
            row.copy_requested.connect(lambda i=i: self.copy_character(i))
            row.hide()
            rows_layout.addWidget(row)
        rows_layout.addStretch(1)
        self.scroll.setWidget(rows)
        # The rows never scroll sideways, so the pane is at least as wide as a row showing everything.
        self.scroll.setMinimumWidth(self.rows[0].widest_minimum() + self.scroll.verticalScrollBar().sizeHint().width())
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.copied_note)
        self._style_banner()
        self.show_hint(HINTS["empty-canvas"])

    # ------------------------------------------------------------------ states

    def show_hint(self, text: str) -> None:
        """Show `text` instead of any ranking (e.g. "Loading model…")."""
        self.banner.hide()
        self.hint.setText(text)
        self.hint.show()
        for row in self.rows:
            row.hide()
        self._choose(0)

    def show_outcome(self, outcome: RankOutcome) -> None:
        """Show a ranking, or the hint that goes with its state; emits `updated`."""
        self.outcome = outcome
        if outcome.state != "ranked" or not outcome.matches:
            self.show_hint(HINTS.get(outcome.state, HINTS["empty-gallery"]))
        else:
            self._show_matches(outcome)
        self.updated.emit(outcome)

    def _show_matches(self, outcome: RankOutcome) -> None:
        self.hint.hide()
        if outcome.no_confident_match:
            self.banner.setText("<b>No confident match.</b> None of the characters below is similar enough "
                                "to be sure. If this is a new character, add it to the gallery.")
            self.banner.show()
        else:
            self.banner.hide()
        for i, row in enumerate(self.rows):
            if i < len(outcome.matches):
                row.set_match(i + 1, outcome.matches[i])
                row.show()
            else:
                row.hide()
        self._choose(0)

    # ------------------------------------------------------------------ copying the character

    def _visible_match(self, row: int):
        r = self.rows[row] if 0 <= row < len(self.rows) else None
        return r.match if r is not None and not r.isHidden() and self.hint.isHidden() else None

    def _choose(self, row: int) -> None:
        """Make `row` the one Copy acts on; the button names its character (hidden when it has none)."""
        self.chosen = row
        for i, r in enumerate(self.rows):
            r.set_chosen(i == row and r.match is not None and bool(r.match.char))
        match = self._visible_match(row) if not self.hint.isVisibleTo(self) else None
        char = match.char if match is not None else None
        self.copy_button.setText(f"Copy {char}" if char else "Copy")
        self.copy_button.setVisible(char is not None)
        self.copy_action.setEnabled(char is not None)

    def character_to_copy(self, row: int | None = None) -> str | None:
        """Return the Unicode character of result `row` (default: the chosen one), or None when it has none."""
        match = None if self.hint.isVisibleTo(self) else self._visible_match(self.chosen if row is None else row)
        return match.char if match is not None else None

    def copy_character(self, row: int | None = None) -> str | None:
        """Copy result `row`'s character (default: the chosen row's) to the clipboard; return it, or None."""
        char = self.character_to_copy(row)
        if char is None:
            return None
        QGuiApplication.clipboard().setText(char)
        self.copied_note.setText(f"Copied {char}")
        self.copied_note.show()
        self._note_timer.start()
        self.copied.emit(char)
        return char

    def visible_matches(self) -> list[tuple[str, float]]:
        """Return (name, score) of the rows on screen, best first (empty when a hint is shown)."""
        if not self.hint.isHidden():
            return []
        return [(r.match.name, r.match.score) for r in self.rows if not r.isHidden() and r.match]

    def is_showing_hint(self) -> bool:
        """Return True when a hint (no ranking) is shown."""
        return self.hint.isVisibleTo(self)

    def is_no_confident_match(self) -> bool:
        """Return True when the "No confident match" banner is shown."""
        return self.banner.isVisibleTo(self)

    # ------------------------------------------------------------------ palette

    def _style_banner(self) -> None:
        # A tinted box in the palette's highlight hue reads well on light and dark palettes alike.
        pal = self.palette()
        accent = pal.color(QPalette.ColorRole.Highlight)
        self.banner.setStyleSheet(
            f"QLabel#noConfidentMatch {{ border: 1px solid {accent.name()}; border-radius: 4px;"
            f" background: rgba({accent.red()}, {accent.green()}, {accent.blue()}, 40); }}")

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._style_banner()
            if self.outcome is not None and self.outcome.state == "ranked":
                self._show_matches(self.outcome)
