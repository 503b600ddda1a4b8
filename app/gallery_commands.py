"""Undoable gallery edits (QUndoCommand): deleting and renaming characters.

`push` runs `redo` at once; both directions queue engine work through the session, in order, so an undo
always follows the edit it reverts.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from .session import EngineSession


class DeleteCharacter(QUndoCommand):
    """Delete a character; undo restores it from the gallery's undo token."""

    def __init__(self, session: EngineSession, name: str) -> None:
        super().__init__(f"Delete “{name}”")
        self.session, self.name = session, name
        self.holder: dict = {}  # filled with the gallery's undo token by the delete task

    def redo(self) -> None:
        self.session.delete(self.name, self.holder)

    def undo(self) -> None:
        self.session.restore(self.holder)


class RenameCharacter(QUndoCommand):
    """Rename a character; undo renames it back."""

    def __init__(self, session: EngineSession, old: str, new: str) -> None:
        super().__init__(f"Rename “{old}” to “{new}”")
        self.session, self.old, self.new = session, old, new

    def redo(self) -> None:
        self.session.rename(self.old, self.new)

    def undo(self) -> None:
        self.session.rename(self.new, self.old)
