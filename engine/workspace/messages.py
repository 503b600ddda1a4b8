"""The workspace's messages: whole sentences a person reads, saying what happened (and what was left out)."""

from __future__ import annotations

from collections.abc import Sequence

from ..gallery.history import quoted
from .snapshots import GallerySnapshot


def describe_error(exc: BaseException) -> str:
    """Return an exception as one readable sentence (its message, or its type when it has none)."""
    text = str(exc).strip()
    return text if text else type(exc).__name__


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def imported_message(snapshot: GallerySnapshot, skipped: Sequence[str]) -> str:
    """Return the message that confirms an import: its name, characters and examples, and blank images skipped."""
    message = (f"Imported {quoted(snapshot.name)}: {_count(len(snapshot.characters), 'character')}, "
               f"{_count(snapshot.n_references, 'example')}.")
    if skipped:
        message += f" Skipped {len(skipped)} blank image(s), e.g. {skipped[0]}."
    return message


def added_images_message(added: int, skipped: Sequence[str]) -> str:
    """Return the message after adding image files: how many went in, and the first files skipped with why."""
    message = f"Added {_count(added, 'image')} to the gallery."
    if skipped:
        message += f" Skipped {len(skipped)}: " + "; ".join(skipped[:3])
    return message
