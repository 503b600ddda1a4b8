"""Where the workspace keeps the galleries it makes, and the names they show: a folder name made file-system
safe and never reused, a shown name numbered "Name (2)" when another gallery already shows it (two galleries
shown under one name could not be told apart)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ..gallery import INDEX_NAME
from ..gallery.files import parse_index
from ..gallery.sources import list_source
from ..paths import user_data_dir


def galleries_dir() -> Path:
    """Return the folder where galleries made by the app are kept (in the user data folder)."""
    return user_data_dir() / "galleries"


def unique_folder(parent: Path, name: str) -> Path:
    """Return a not-yet-existing folder in `parent` named after `name` (made file-system safe)."""
    slug = re.sub(r"[^\w\-. ]+", "_", name).strip(" .") or "gallery"
    candidate = parent / slug
    n = 2
    while candidate.exists():
        candidate = parent / f"{slug} ({n})"
        n += 1
    return candidate


def unique_name(name: str, taken: set[str]) -> str:
    """Return `name`, or "name (2)", "name (3)"... : the first one not in `taken`."""
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name} ({n})"
        n += 1
    return candidate


def gallery_name(folder: Path) -> str:
    """Return the name a gallery folder shows (its index's name), or the folder's name if it has none.

    Reads only the small index file (a hostile index may still take a moment to refuse: call it off the UI
    thread)."""
    try:
        name, _entries = parse_index((folder / INDEX_NAME).read_bytes(), str(folder / INDEX_NAME))
    except Exception:  # a missing or damaged index: the folder's name is all there is to show
        return folder.name
    return name or folder.name


def gallery_names(folders: Sequence[Path]) -> dict[Path, str]:
    """Return {folder: shown name} for gallery folders (see `gallery_name`)."""
    return {Path(f): gallery_name(Path(f)) for f in folders}


def names_in_use(extra: Sequence[Path]) -> set[str]:
    """Return the shown names of the galleries in `galleries_dir()` and of the `extra` folders."""
    folders = list(extra)
    if galleries_dir().is_dir():
        folders += [f for f in galleries_dir().iterdir() if f.is_dir()]
    return set(gallery_names([f for f in folders if f.is_dir()]).values())


def source_name(source: Path) -> str:
    """Return the name an import of `source` gives its gallery (a gallery's own name, else the source's)."""
    default, files = list_source(source)
    index = next((f for f in files if str(f.path) == INDEX_NAME), None)
    if index is not None:
        try:
            return parse_index(index.read(), index.label)[0] or default
        except Exception:  # the import itself reports a damaged index, naming the file
            return default
    return default


def new_gallery_place(name: str, known: Sequence[Path] = ()) -> tuple[str, Path]:
    """Return (shown name, new folder in `galleries_dir()`) for a gallery called `name`, numbered if a gallery
    there or in `known` already shows it."""
    shown = unique_name(name, names_in_use(known))
    return shown, unique_folder(galleries_dir(), shown)
