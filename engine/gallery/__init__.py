"""Galleries: the characters Glyphs knows, each with one or more reference glyphs, in a plain folder.

`Gallery` (store.py) holds and edits a gallery folder; `import_gallery` / `import_omniglot_alphabet`
(importing.py) build one from folders, zips or the Omniglot dataset; `Gallery.export` writes a folder or
zip copy; cache.py keeps reference embeddings per model beside the gallery. See store.py for the layout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from .files import CACHE_DIR, FORMAT, FORMAT_VERSION, IMAGES_DIR, INDEX_NAME, GalleryError
from .importing import import_gallery, import_omniglot_alphabet
from .sources import IMAGE_SUFFIXES, glyph_from_bytes, read_glyph
from .store import Character, DeletedCharacter, Gallery, Reference


def is_gallery(path: str | Path) -> bool:
    """Return True when `path` is a folder holding a gallery index."""
    return (Path(path) / INDEX_NAME).is_file()


def load_gallery(source: str | Path, progress: Callable[[int, int], None] | None = None,
                 cancel: threading.Event | None = None) -> Gallery:
    """Return the gallery at `source`: opened if it is a gallery folder, else imported in memory (no writes).

    Raises GalleryError when it is neither a gallery nor anything `import_gallery` takes.
    """
    if is_gallery(source):
        return Gallery.open(source)
    return import_gallery(source, None, progress=progress, cancel=cancel)


__all__ = [
    "CACHE_DIR", "FORMAT", "FORMAT_VERSION", "IMAGES_DIR", "IMAGE_SUFFIXES", "INDEX_NAME", "Character",
    "DeletedCharacter", "Gallery", "GalleryError", "Reference", "glyph_from_bytes", "import_gallery",
    "import_omniglot_alphabet", "is_gallery", "load_gallery", "read_glyph",
]
