"""What the workspace hands out: immutable copies of its state and of its results, safe to pass to any thread
(the app sends them to its UI thread by signals; a CLI or a transcription prints or collects them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..gallery.history import HistoryState
from ..glyph import Glyph

# What a ranking found, in `RankOutcome.state`.
EMPTY_CANVAS, NO_MODEL, NO_GALLERY, EMPTY_GALLERY, RANKED = (
    "empty-canvas", "no-model", "no-gallery", "empty-gallery", "ranked")


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Return glyph pixels (float, 1 = ink) as a compact uint8 copy (255 = ink)."""
    return np.ascontiguousarray(np.clip(np.asarray(pixels, np.float32), 0, 1) * 255).astype(np.uint8)


@dataclass(frozen=True)
class CharacterView:
    """One character as the UI shows it: its name and its references' pixels (uint8, 255 = ink)."""

    name: str
    references: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class GallerySnapshot:
    """An immutable copy of the open gallery, with what its Undo / Redo would do."""

    path: Path
    name: str
    characters: tuple[CharacterView, ...]
    suggested_name: str
    history: HistoryState = HistoryState()

    @property
    def n_references(self) -> int:
        """Return the number of references over all characters."""
        return sum(len(c.references) for c in self.characters)

    def character(self, name: str) -> CharacterView | None:
        """Return the character called `name`, or None."""
        return next((c for c in self.characters if c.name == name), None)

    def names(self) -> list[str]:
        """Return the character names in gallery order."""
        return [c.name for c in self.characters]


@dataclass(frozen=True)
class MatchView:
    """One ranked character: name, score in [0, 1], index of its best reference and that reference's pixels;
    `char` is the Unicode character it is when the gallery knows it (e.g. enrolled from a font), else None."""

    name: str
    score: float
    reference: int
    thumbnail: np.ndarray | None
    char: str | None = None


@dataclass(frozen=True)
class RankOutcome:
    """What the recogniser made of one glyph.

    `state` is one of EMPTY_CANVAS, NO_MODEL, NO_GALLERY, EMPTY_GALLERY, RANKED. `glyph` is the 105x105 glyph that
    was ranked, as drawn or read (what enrolling it adds to a gallery; None when nothing was drawn).
    `model_input` is that glyph exactly as the encoder got it (float32 (105, 105), 1 = ink: after the ink
    centring the model's card asks for; the network resizes it to its input size), None when the model did not
    run. `query_views` is how many distorted copies of the query were ranked beside it (engine.recognition.views).
    `coverage` is (ready, total) while a symbol search builds: the glyph was ranked against that part of the font.
    """

    request_id: int
    state: str
    glyph: Glyph | None = None
    no_confident_match: bool = False
    matches: tuple[MatchView, ...] = ()
    model_input: np.ndarray | None = None
    query_views: int = 0
    coverage: tuple[int, int] | None = None


@dataclass(frozen=True)
class SearchState:
    """Where a symbol search stands: `ready` of `total` characters of the font `name` are ranked against;
    `finished` once it ended (`message` then says how: opened, stopped or failed)."""

    name: str
    ready: int
    total: int
    finished: bool = False
    message: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """The model in use: its name, weights path, device label and the devices one can switch to."""

    name: str
    path: Path | None
    device: str
    device_label: str
    devices: tuple[tuple[str, str], ...] = field(default=())


@dataclass(frozen=True)
class Edited:
    """The result of a gallery edit, undo or redo: the gallery as it is now and the message to show."""

    snapshot: GallerySnapshot
    message: str
