"""Edit > Undo and Redo: the canvas's strokes or the open gallery's history, whichever was worked on last.

The menu shows what a step does ("Undo Delete 5 characters"); a toolbar shows the action's short icon text
("Undo") with the whole text in its tooltip, so a long step name never widens the toolbar.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence, QUndoStack

from engine.workspace import GallerySnapshot, HistoryState

from .icons import icon
from .session import EngineSession

CANVAS, GALLERY = "canvas", "gallery"


def shortcut_text(key: QKeySequence.StandardKey) -> str:
    """Return the platform's text for a standard shortcut (e.g. "Ctrl+Z")."""
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)


class UndoActions(QObject):
    """Owns the Undo and Redo actions and routes them to the canvas or the gallery (`target`)."""

    def __init__(self, canvas_stack: QUndoStack, session: EngineSession, parent: QObject) -> None:
        super().__init__(parent)
        self.canvas_stack, self.session = canvas_stack, session
        self.target = CANVAS
        self.history = HistoryState()
        self.undo = self._make("Undo", "undo", QKeySequence.StandardKey.Undo, self._undo)
        self.redo = self._make("Redo", "redo", QKeySequence.StandardKey.Redo, self._redo)
        for signal in (canvas_stack.canUndoChanged, canvas_stack.canRedoChanged):
            signal.connect(lambda _v: self.refresh())
        canvas_stack.indexChanged.connect(lambda _i: self.refresh())
        session.gallery_changed.connect(self._on_gallery)
        session.edited.connect(lambda: self.set_target(GALLERY))
        self.refresh()

    def _make(self, verb: str, icon_name: str, key: QKeySequence.StandardKey, slot) -> QAction:
        action = QAction(icon(icon_name), f"&{verb}", self.parent())
        action.setIconText(verb)  # what toolbars show: short, whatever the step
        action.setShortcuts(QKeySequence.keyBindings(key))
        action.triggered.connect(lambda _checked=False: slot())
        action.setProperty("verb", verb)
        action.setProperty("keys", shortcut_text(key))
        return action

    def set_target(self, target: str) -> None:
        """Make Undo/Redo act on the canvas (CANVAS) or the open gallery (GALLERY)."""
        self.target = target
        self.refresh()

    def _on_gallery(self, snapshot: GallerySnapshot | None) -> None:
        self.history = snapshot.history if snapshot is not None else HistoryState()
        self.refresh()

    def texts(self) -> tuple[str | None, str | None]:
        """Return what Undo and Redo would do now (None: nothing), in the current target."""
        if self.target == CANVAS:
            stack = self.canvas_stack
            return (stack.undoText() or "Stroke" if stack.canUndo() else None,
                    stack.redoText() or "Stroke" if stack.canRedo() else None)
        return self.history.undo_text, self.history.redo_text

    def refresh(self) -> None:
        """Update the actions' enabled state, menu text and tooltip."""
        if not (shiboken6.isValid(self.canvas_stack) and shiboken6.isValid(self.undo)):
            return  # the stack signals while the window is being destroyed
        for action, text in zip((self.undo, self.redo), self.texts()):
            verb, where = action.property("verb"), "drawing" if self.target == CANVAS else "gallery"
            action.setEnabled(text is not None)
            action.setText(f"&{verb} {text}" if text else f"&{verb}")
            action.setIconText(verb)
            tip = f"{verb} {text} ({where})" if text else f"Nothing to {verb.lower()} in the {where}"
            action.setToolTip(f"{tip} — {action.property('keys')}")
            action.setStatusTip(tip)

    def _undo(self) -> None:
        if self.target == CANVAS:
            self.canvas_stack.undo()
        elif self.history.undo_text is not None:
            self.session.undo()

    def _redo(self) -> None:
        if self.target == CANVAS:
            self.canvas_stack.redo()
        elif self.history.redo_text is not None:
            self.session.redo()
