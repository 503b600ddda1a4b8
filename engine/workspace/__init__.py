"""The workspace: what a person works with (a model, a gallery, its recogniser and undo history) and what they do
with it, as a typed, Qt-free engine object. The app's `EngineSession` runs its calls on a task lane and turns the
results into signals; tests and other front ends call it directly.

Importing this package loads no torch (the app imports it while its window opens); the calls that need torch
import it.
"""

from __future__ import annotations

from ..gallery.history import HistoryError, HistoryState
from .messages import describe_error
from .naming import galleries_dir, gallery_name, gallery_names, unique_folder, unique_name
from .snapshots import (EMPTY_CANVAS, EMPTY_GALLERY, NO_GALLERY, NO_MODEL, RANKED, CharacterView, Edited,
                        GallerySnapshot, MatchView, ModelInfo, RankOutcome, to_uint8)
from .workspace import RANK_BATCH, RANK_THREADS, TOP_K, NoGallery, Progress, Source, Workspace

__all__ = [
    "EMPTY_CANVAS", "EMPTY_GALLERY", "NO_GALLERY", "NO_MODEL", "RANKED", "RANK_BATCH", "RANK_THREADS", "TOP_K",
    "CharacterView", "Edited", "GallerySnapshot", "HistoryError", "HistoryState", "MatchView", "ModelInfo",
    "NoGallery", "Progress", "RankOutcome", "Source", "Workspace", "describe_error", "galleries_dir",
    "gallery_name", "gallery_names", "to_uint8", "unique_folder", "unique_name",
]
