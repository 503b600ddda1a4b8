"""Undo and redo of gallery edits, one history per gallery.

Every change of a gallery (add a character, add or remove an example, add images, merge, delete, rename) is a
`Step` that can be undone and redone. Steps run one at a time against a `Gallery` (the workspace's calls, which
the app runs on its serial task lane), so each one sees the gallery exactly as the previous step left it.
Before changing anything a step checks that it can apply whole; if not (the gallery was changed elsewhere, a name is taken now), it raises
`HistoryError` saying why, the gallery is unchanged and the step stays where it was in the history.

The workspace (engine.workspace) owns one `GalleryHistory` per gallery folder and publishes its `HistoryState`
with every gallery snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .store import Character, DeletedCharacter, Gallery

HISTORY_LIMIT = 100  # steps kept per gallery: deleted characters keep their pixels in memory for undo


class HistoryError(RuntimeError):
    """A step that cannot apply; its message says why and that nothing was changed."""


@dataclass(frozen=True)
class HistoryState:
    """What Undo and Redo would do now: the step texts (None when there is nothing to undo / redo)."""

    undo_text: str | None = None
    redo_text: str | None = None


def quoted(name: str) -> str:
    """Return `name` in the typographic quotes the app's messages use."""
    return f"“{name}”"


def characters_text(names: Sequence[str]) -> str:
    """Return “name” for one character, "N characters" for more."""
    return quoted(names[0]) if len(names) == 1 else f"{len(names)} characters"


def _digests(gallery: Gallery, name: str) -> list[str]:
    return [r.key for r in gallery.character(name).references]


class Step:
    """One undoable gallery edit. `text` names it ("Delete 5 characters"); subclasses implement the checks and
    the changes. `undo`/`redo` return the message to show."""

    text = ""

    def apply(self, gallery: Gallery) -> str:
        """Make this change on `gallery` for the first time; return the message to show (raises HistoryError,
        changing nothing, when it cannot apply)."""
        problem = self.redo_problem(gallery)
        if problem:
            raise HistoryError(f"Cannot {self.text[:1].lower()}{self.text[1:]}: {problem}. Nothing was changed.")
        return self._redo(gallery)

    def undo(self, gallery: Gallery) -> str:
        """Revert this step on `gallery`; return the message to show (raises HistoryError, changing nothing)."""
        problem = self.undo_problem(gallery)
        if problem:
            raise HistoryError(f"Cannot undo {self.text}: {problem}. Nothing was changed.")
        return self._undo(gallery)

    def redo(self, gallery: Gallery) -> str:
        """Apply this step again on `gallery`; return the message to show (raises HistoryError, changing nothing)."""
        problem = self.redo_problem(gallery)
        if problem:
            raise HistoryError(f"Cannot redo {self.text}: {problem}. Nothing was changed.")
        return self._redo(gallery)

    def undo_problem(self, gallery: Gallery) -> str:
        """Return why this step cannot be undone now ("" when it can)."""
        return ""

    def redo_problem(self, gallery: Gallery) -> str:
        """Return why this step cannot be redone now ("" when it can)."""
        return ""

    def _undo(self, gallery: Gallery) -> str:
        raise NotImplementedError

    def _redo(self, gallery: Gallery) -> str:
        raise NotImplementedError


def _missing(gallery: Gallery, names: Sequence[str]) -> str:
    gone = [n for n in names if n not in gallery.names()]
    return f"{characters_text(gone)} {'is' if len(gone) == 1 else 'are'} no longer in the gallery" if gone else ""


def _taken(gallery: Gallery, names: Sequence[str]) -> str:
    there = [n for n in names if n in gallery.names()]
    if not there:
        return ""
    return (f"a character called {quoted(there[0])} exists now" if len(there) == 1
            else f"characters called {', '.join(map(quoted, there))} exist now")


class DeleteCharacters(Step):
    """Delete characters (several at once are one step); undo puts them back where they stood."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(dict.fromkeys(names))
        self.text = f"Delete {characters_text(self.names)}"
        self.tokens: list[DeletedCharacter] = []

    def redo_problem(self, gallery: Gallery) -> str:
        return _missing(gallery, self.names)

    def undo_problem(self, gallery: Gallery) -> str:
        return _taken(gallery, self.names)

    def _redo(self, gallery: Gallery) -> str:
        self.tokens = [gallery.delete(name) for name in self.names]
        return f"Deleted {characters_text(self.names)}."

    def _undo(self, gallery: Gallery) -> str:
        for token in reversed(self.tokens):  # reversed: each goes back to the position it was deleted from
            gallery.restore(token)
        return f"Restored {characters_text(self.names)}."


class RenameCharacter(Step):
    """Rename a character; undo renames it back."""

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new
        self.text = f"Rename {quoted(old)} to {quoted(new)}"

    def redo_problem(self, gallery: Gallery) -> str:
        return _missing(gallery, [self.old]) or _taken(gallery, [self.new])

    def undo_problem(self, gallery: Gallery) -> str:
        return _missing(gallery, [self.new]) or _taken(gallery, [self.old])

    def _redo(self, gallery: Gallery) -> str:
        gallery.rename(self.old, self.new)
        return f"Renamed {quoted(self.old)} to {quoted(self.new)}."

    def _undo(self, gallery: Gallery) -> str:
        gallery.rename(self.new, self.old)
        return f"Renamed {quoted(self.new)} back to {quoted(self.old)}."


@dataclass
class _Added:
    """One example an edit added: to a new character (`new`) or to an existing one."""

    name: str
    pixels: np.ndarray
    digest: str
    new: bool


@dataclass
class AddExamples(Step):
    """Characters and examples added by drawing or from image files; undo takes exactly those out again."""

    text: str
    added: list[_Added] = field(default_factory=list)

    @staticmethod
    def record(gallery: Gallery, name: str, new: bool) -> _Added:
        """Return the record of the example just added as the last one of `name` (for `added`)."""
        ref = gallery.character(name).references[-1]
        return _Added(name, np.array(ref.pixels), ref.key, new)

    def undo_problem(self, gallery: Gallery) -> str:
        names = list(dict.fromkeys(a.name for a in self.added))
        problem = _missing(gallery, names)
        if problem:
            return problem
        for name in names:
            have = _digests(gallery, name)
            for a in (a for a in self.added if a.name == name):
                if a.digest not in have:
                    return f"{quoted(name)} no longer holds the added example"
                have.remove(a.digest)
            new = any(a.new for a in self.added if a.name == name)
            if new and have:
                return f"{quoted(name)} has examples added since"
        return ""

    def redo_problem(self, gallery: Gallery) -> str:
        new = [a.name for a in self.added if a.new]
        old = list(dict.fromkeys(a.name for a in self.added if not a.new))
        return _taken(gallery, new) or _missing(gallery, old)

    def _undo(self, gallery: Gallery) -> str:
        for a in reversed(self.added):
            if a.new:
                gallery.delete(a.name)
            else:
                digests = _digests(gallery, a.name)
                last = len(digests) - 1 - digests[::-1].index(a.digest)
                gallery.remove_reference(a.name, last)
        return f"Undone: {self.text}."

    def _redo(self, gallery: Gallery) -> str:
        for a in self.added:
            if a.new:
                gallery.add_character(a.name, [a.pixels])  # at the end, where it was: later steps are undone
            else:
                gallery.add_reference(a.name, a.pixels)
        return f"Redone: {self.text}."


class RemoveExample(Step):
    """Remove one example of a character; undo puts it back at its place."""

    def __init__(self, name: str, index: int, pixels: np.ndarray, digest: str) -> None:
        self.name, self.index, self.pixels, self.digest = name, index, np.array(pixels), digest
        self.text = f"Remove an example of {quoted(name)}"

    def redo_problem(self, gallery: Gallery) -> str:
        problem = _missing(gallery, [self.name])
        if problem:
            return problem
        digests = _digests(gallery, self.name)
        if self.index >= len(digests) or digests[self.index] != self.digest:
            return f"{quoted(self.name)} no longer holds that example"
        return "it is the character's only example" if len(digests) == 1 else ""

    def undo_problem(self, gallery: Gallery) -> str:
        return _missing(gallery, [self.name])

    def _redo(self, gallery: Gallery) -> str:
        gallery.remove_reference(self.name, self.index)
        return f"Removed an example of {quoted(self.name)}."

    def _undo(self, gallery: Gallery) -> str:
        index = min(self.index, len(gallery.character(self.name).references))
        gallery.add_reference(self.name, self.pixels, index)
        return f"Put the example of {quoted(self.name)} back."


class MergeCharacters(Step):
    """Merge characters into one; undo splits them again, each with its own examples at its own place."""

    def __init__(self, gallery: Gallery, names: Sequence[str], into: str) -> None:
        self.names, self.into = list(dict.fromkeys(names)), into
        self.text = f"Merge {len(self.names)} characters into {quoted(into)}"
        # The characters as they were (pixels in memory) with their positions, read before the merge.
        self.before: list[tuple[int, Character]] = sorted(((gallery.names().index(n), gallery.character(n).detached()) for n in self.names),
                             key=lambda item: item[0])
        self.merged: list[str] = []

    def redo_problem(self, gallery: Gallery) -> str:
        others = [] if self.into in self.names else [self.into]
        return _missing(gallery, self.names) or _taken(gallery, others)

    def undo_problem(self, gallery: Gallery) -> str:
        problem = _missing(gallery, [self.into])
        if problem:
            return problem
        if _digests(gallery, self.into) != self.merged:
            return f"{quoted(self.into)} was changed since"
        return _taken(gallery, [n for n in self.names if n != self.into])

    def _redo(self, gallery: Gallery) -> str:
        gallery.merge(self.names, self.into)
        self.merged = _digests(gallery, self.into)
        return f"Merged {len(self.names)} characters into {quoted(self.into)}."

    def _undo(self, gallery: Gallery) -> str:
        gallery.delete(self.into)
        for position, character in self.before:  # ascending positions rebuild the original order
            gallery.restore(DeletedCharacter(character, position))
        return f"Split {quoted(self.into)} back into {len(self.names)} characters."


class GalleryHistory:
    """The undo and redo lists of one gallery (changed by one caller at a time: the workspace's)."""

    def __init__(self, limit: int = HISTORY_LIMIT) -> None:
        self._undo: list[Step] = []
        self._redo: list[Step] = []
        self._limit = limit

    def push(self, step: Step) -> None:
        """Record `step`, just applied; it ends any redo (a new change starts a new branch)."""
        self._undo.append(step)
        del self._undo[:-self._limit]
        self._redo.clear()

    def undo(self, gallery: Gallery) -> str:
        """Undo the last step on `gallery`; return its message (HistoryError: nothing changed, history kept)."""
        if not self._undo:
            raise HistoryError("There is nothing to undo in this gallery.")
        message = self._undo[-1].undo(gallery)
        self._redo.append(self._undo.pop())
        return message

    def redo(self, gallery: Gallery) -> str:
        """Redo the last undone step on `gallery`; return its message (HistoryError: nothing changed)."""
        if not self._redo:
            raise HistoryError("There is nothing to redo in this gallery.")
        message = self._redo[-1].redo(gallery)
        self._undo.append(self._redo.pop())
        return message

    def state(self) -> HistoryState:
        """Return the texts of the next undo and redo."""
        return HistoryState(self._undo[-1].text if self._undo else None, self._redo[-1].text if self._redo else None)


class Histories:
    """One `GalleryHistory` per gallery folder, kept while the app runs (switching galleries keeps each one's)."""

    def __init__(self) -> None:
        self._by_path: dict[Path, GalleryHistory] = {}

    def of(self, gallery: Gallery) -> GalleryHistory:
        """Return the history of `gallery` (a new, empty one for a gallery not seen before)."""
        key = Path(gallery.path).resolve() if gallery.path is not None else Path(f"memory:{id(gallery)}")
        return self._by_path.setdefault(key, GalleryHistory())

    def forget(self, gallery: Gallery) -> None:
        """Drop the history of `gallery` (a fresh import into a reused folder starts with none)."""
        if gallery.path is not None:
            self._by_path.pop(Path(gallery.path).resolve(), None)
