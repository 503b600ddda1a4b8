"""A gallery on disk: a folder a person can read and copy, holding the characters the app knows.

Layout::

    MyAlphabet/
      gallery.json          the index: format, version, name, characters and their reference files
      images/alpha-1.png    one 105x105 PNG per reference, ink black on white (Omniglot's look)
      .embeddings/          cached reference embeddings, one file per model (see engine.gallery.cache)

The index is the only truth: a PNG it does not name is an orphan (harmless; swept by the next edit when
it has a name the gallery writes, ``images/<slug>-<k>.png``; nothing is deleted through a link), and
file names never change after a rename (``images/alpha-1.png`` may belong to "beta"). Every reference
carries the digest of its pixels, which keys the embedding cache, so renames, merges and undo never cost
a recomputation.

Crash safety: an edit writes its new PNGs first (each atomically, under names no index uses), then the
index atomically (write aside, fsync, rename). A crash before the rename leaves the old index, which only
names old files, all still present; after it, the new one. Files the new index dropped are deleted only
after it is in place. A gallery without a file (``path is None``) lives in memory and writes nothing.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from ..atomic import remove_stale_temporaries, write_bytes_atomic, write_text_atomic, write_with_atomic
from ..glyph import Glyph
from .files import (IMAGES_DIR, INDEX_NAME, FontSource, GalleryError, as_pixels, check_name, decode_png, encode_png,
                    index_json, parse_index, pixels_digest, remove_stale_temporaries_of, slug, staging_dir,
                    written_file)


@dataclass
class Reference:
    """One example of a character: `file` is its PNG relative to the gallery folder (posix separators).

    `pixels` (float32 (105, 105), 1 = ink) are read from the file on first use and kept; `digest` keys
    the embedding cache. A reference of an in-memory gallery holds its pixels from the start. `font` names
    the font it was rendered from (None: drawn or imported from an image).
    """

    file: str
    digest: str = ""
    _pixels: np.ndarray | None = field(default=None, repr=False, compare=False)
    _root: Path | None = field(default=None, repr=False, compare=False)
    font: FontSource | None = None

    @property
    def pixels(self) -> np.ndarray:
        """Return the glyph pixels (read-only float32 (105, 105), 1 = ink), loading the PNG if needed."""
        if self._pixels is None:
            if self._root is None:
                raise GalleryError(f"{self.file}: this reference has neither pixels nor a gallery folder")
            px = decode_png(self._root / self.file, str(self._root / self.file))
            px.flags.writeable = False
            self._pixels = px
        return self._pixels

    @property
    def key(self) -> str:
        """Return the embedding-cache key (the pixel digest, computed from the file if the index had none)."""
        if not self.digest:
            self.digest = pixels_digest(self.pixels)
        return self.digest

    def detached(self) -> Reference:
        """Return a copy holding its pixels in memory, independent of any folder (for undo)."""
        return Reference(self.file, self.key, self.pixels, None, self.font)


@dataclass
class Character:
    """A named character and its references (at least one in a saved gallery).

    `char` is the Unicode character it is, when known (a font import sets it; renames keep it), else None.
    """

    name: str
    references: list[Reference] = field(default_factory=list)
    char: str | None = None

    def detached(self) -> Character:
        """Return a copy whose references hold their pixels in memory."""
        return Character(self.name, [r.detached() for r in self.references], self.char)


@dataclass
class DeletedCharacter:
    """What `Gallery.delete` removed: the character (pixels in memory) and where it stood, for `restore`."""

    character: Character
    position: int


# ----------------------------------------------------------------------------------------------- gallery


class Gallery:
    """A named set of characters, each with one or more reference glyphs, stored in a folder.

    `path` is the folder (None: in memory only, nothing is ever written). Edits save at once, atomically;
    if an edit fails (disk full, crash) the folder keeps the previous gallery and this object is unchanged.
    `revision` grows with every edit (a Recognizer uses it to notice changes).
    """

    def __init__(self, path: Path | None, name: str, characters: list[Character] | None = None):
        self.path = Path(path) if path is not None else None
        self.name = name
        self.characters: list[Character] = characters or []
        self.revision = 0
        self._swept = False
        self.import_skipped: list[str] = []  # files an import left out (blank images), for the user to see

    # -- opening and creating

    @classmethod
    def create(cls, path: str | Path, name: str | None = None) -> Gallery:
        """Return a new empty gallery saved in folder `path` (created; it must not exist or be empty).

        Raises GalleryError if a gallery (or anything else) is already there.
        """
        path = Path(path)
        if (path / INDEX_NAME).exists():
            raise GalleryError(f"A gallery already exists in {path}")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise GalleryError(f"{path} exists and is not an empty folder; choose a new folder for the gallery")
        gallery = cls(path, check_name(name or path.name, "gallery name"))
        path.mkdir(parents=True, exist_ok=True)
        gallery._write_index(gallery.characters)
        return gallery

    @classmethod
    def in_memory(cls, name: str, characters: list[Character] | None = None) -> Gallery:
        """Return a gallery that lives only in memory (its references hold their pixels); nothing is written."""
        return cls(None, name, characters)

    @classmethod
    def open(cls, path: str | Path, drop_missing: bool = False) -> Gallery:
        """Return the gallery saved in folder `path`, reading only its index (images load on use).

        Raises GalleryError naming the file when the index is missing, damaged or hostile, or names a
        reference file that is missing (or is not a file), unless `drop_missing`: then such references
        (and characters left without any) are left out in memory and listed in `import_skipped`.
        Nothing the gallery holds is changed; stale temporaries that a crash left in or beside the folder
        (`files.remove_stale_temporaries_of`) are removed once it has opened.
        """
        path = Path(path)
        index = path / INDEX_NAME
        if not index.is_file():
            what = "is not a folder" if not path.is_dir() else f"has no {INDEX_NAME}: it is not a Glyphs gallery"
            raise GalleryError(f"{path} {what}")
        try:
            raw = index.read_bytes()
        except OSError as exc:
            raise GalleryError(f"{index}: cannot read the gallery index ({exc})") from exc
        extras: dict = {}
        name, entries = parse_index(raw, str(index), extras)
        chars_known, fonts = extras.get("chars", {}), extras.get("fonts", {})
        characters, dropped = [], []
        for cname, refs in entries:
            kept = []
            for file, digest in refs:
                if (path / file).is_file():
                    kept.append(Reference(file, digest, None, path, fonts.get(file)))
                elif drop_missing:
                    dropped.append(file)
                else:
                    state = "is not a file" if (path / file).exists() else "is missing"
                    raise GalleryError(f"{index} names {file} (character {cname!r}), which {state}. Nothing was "
                                       f"changed; put the file back, or open the gallery dropping missing files.")
            if kept:
                characters.append(Character(cname, kept, chars_known.get(cname)))
        gallery = cls(path, name or path.name, characters)
        gallery.import_skipped = dropped
        remove_stale_temporaries_of(path, {PurePosixPath(r.file).name for c in characters for r in c.references})
        return gallery

    # -- reading

    def __len__(self) -> int:
        return len(self.characters)

    def __repr__(self) -> str:
        return f"Gallery({self.name!r}, {len(self)} characters, {self.n_references} references, path={self.path})"

    @property
    def n_references(self) -> int:
        """Return the total number of references over all characters."""
        return sum(len(c.references) for c in self.characters)

    def names(self) -> list[str]:
        """Return the character names in gallery order."""
        return [c.name for c in self.characters]

    def character(self, name: str) -> Character:
        """Return the character called `name`, or raise KeyError."""
        for c in self.characters:
            if c.name == name:
                return c
        raise KeyError(f"No character {name!r} in gallery {self.name!r}")

    def _position(self, name: str) -> int:
        for i, c in enumerate(self.characters):
            if c.name == name:
                return i
        raise KeyError(f"No character {name!r} in gallery {self.name!r}")

    def suggest_name(self, prefix: str = "character") -> str:
        """Return the next free name like Omniglot's: 'character07' after the highest 'characterNN' in use."""
        used = set(self.names())
        numbers = [int(m.group(1)) for n in used if (m := re.fullmatch(re.escape(prefix) + r"(\d+)", n))]
        k = max(numbers, default=0) + 1
        while f"{prefix}{k:02d}" in used:
            k += 1
        return f"{prefix}{k:02d}"

    # -- editing (each edit saves at once, atomically)

    def add_character(self, name: str | None, glyphs: Sequence[Glyph | np.ndarray]) -> Character:
        """Add a character with one reference per glyph and save; return it. Name None: `suggest_name()`."""
        name = check_name(name) if name is not None else self.suggest_name()
        if name in self.names():
            raise GalleryError(f"There is already a character {name!r}")
        if not glyphs:
            raise GalleryError(f"Character {name!r} needs at least one reference glyph")
        new = self._new_references(name, [as_pixels(g, f"reference of {name!r}") for g in glyphs])
        character = Character(name, new)
        self._commit([*self._copy(), character], new)
        return character

    def add_reference(self, name: str, glyph: Glyph | np.ndarray, index: int | None = None) -> Reference:
        """Add one reference glyph to character `name` (at `index`, default last) and save; return it."""
        pos = self._position(name)
        (ref,) = self._new_references(name, [as_pixels(glyph, f"reference of {name!r}")])
        chars = self._copy()
        refs = chars[pos].references
        refs.insert(len(refs) if index is None else index, ref)
        self._commit(chars, [ref])
        return ref

    def remove_reference(self, name: str, index: int) -> Reference:
        """Remove reference `index` of character `name` and save; return it with its pixels (for undo).

        A character keeps at least one reference: raises GalleryError for its last one (delete it instead).
        """
        pos = self._position(name)
        chars = self._copy()
        refs = chars[pos].references
        if not -len(refs) <= index < len(refs):
            raise IndexError(f"Character {name!r} has {len(refs)} reference(s); no index {index}")
        if len(refs) == 1:
            raise GalleryError(f"{name!r} has only this reference; delete the character instead")
        removed = refs.pop(index).detached()
        self._commit(chars, [])
        return removed

    def rename(self, old: str, new: str) -> Character:
        """Rename character `old` to `new` and save; return it. Files keep their names (the index maps them)."""
        pos = self._position(old)
        new = check_name(new)
        if new != old and new in self.names():
            raise GalleryError(f"There is already a character {new!r}")
        chars = self._copy()
        chars[pos].name = new
        self._commit(chars, [])
        return chars[pos]

    def delete(self, name: str) -> DeletedCharacter:
        """Delete character `name` and save; return what `restore` needs to undo it (pixels in memory)."""
        pos = self._position(name)
        removed = self.characters[pos].detached()
        chars = self._copy()
        del chars[pos]
        self._commit(chars, [])
        return DeletedCharacter(removed, pos)

    def restore(self, deleted: DeletedCharacter) -> Character:
        """Put a deleted character back where it was (undo of `delete`) and save; return it."""
        ch = deleted.character
        if ch.name in self.names():
            raise GalleryError(f"Cannot restore {ch.name!r}: a character of that name exists now")
        new = self._new_references(ch.name, [as_pixels(r.pixels) for r in ch.references])
        for ref, old in zip(new, ch.references):
            ref.font = old.font
        character = Character(ch.name, new, ch.char)
        chars = self._copy()
        chars.insert(min(max(deleted.position, 0), len(chars)), character)
        self._commit(chars, new)
        return character

    def merge(self, names: Sequence[str], into: str) -> Character:
        """Merge characters `names` into one called `into` and save; return it.

        Its references are those of `names`, in that order. `into` may be one of `names` (the merged
        character then stands where it stood) or a new name (it stands where the first of them, in gallery
        order, stood); not another existing character.
        """
        names = list(dict.fromkeys(names))
        if not names:
            raise GalleryError("Nothing to merge: no characters given")
        positions = [self._position(n) for n in names]
        into = check_name(into)
        if into not in names and into in self.names():
            raise GalleryError(f"Cannot merge into {into!r}: another character already has that name")
        known = {self.characters[p].char for p in positions} - {None}
        merged = Character(into, [r for p in positions for r in self.characters[p].references],
                           known.pop() if len(known) == 1 else None)
        at = self._position(into) if into in names else min(positions)
        chars = [merged if i == at else c for i, c in enumerate(self._copy()) if i == at or i not in positions]
        self._commit(chars, [])
        return merged

    def extend(self, characters: Sequence[Character]) -> tuple[int, int]:
        """Add other characters' references in one save: return (characters added, references added).

        A character whose name is already here gets them as more references (and its `char` if it had
        none); the others are appended in order. Used for font imports into an existing gallery, where
        thousands of references would make one save per reference far too slow.
        """
        chars = self._copy()
        by_name = {c.name: c for c in chars}
        in_use = {r.file.lower() for c in self.characters for r in c.references}
        new: list[Reference] = []
        added_chars = 0
        for src in characters:
            name = check_name(src.name)
            target = by_name.get(name)
            if target is None:
                target = by_name[name] = Character(name, [], src.char)
                chars.append(target)
                added_chars += 1
            elif target.char is None:
                target.char = src.char
            stem = f"u{ord(src.char):04x}" if src.char else name
            for ref in src.references:
                px = as_pixels(ref.pixels, f"reference of {name!r}")
                px.flags.writeable = False
                file = self._unused_file(stem, in_use)
                in_use.add(file.lower())
                new.append(Reference(file, pixels_digest(px), px, self.path, ref.font))
                target.references.append(new[-1])
        self._commit(chars, new)
        return added_chars, len(new)

    def _unused_file(self, stem: str, in_use: set[str]) -> str:
        base, k = slug(stem), 1
        while f"{IMAGES_DIR}/{base}-{k}.png".lower() in in_use or (
                self.path is not None and (self.path / f"{IMAGES_DIR}/{base}-{k}.png").exists()):
            k += 1
        return f"{IMAGES_DIR}/{base}-{k}.png"

    # -- export

    def export(self, dest: str | Path, as_zip: bool = False) -> Path:
        """Write a copy of the gallery (index and PNGs, no embedding cache) to `dest`; return `dest`.

        As a folder, `dest` must not exist or be empty; as a zip, the archive holds one folder named
        after the gallery and replaces `dest` atomically. A failed export leaves nothing half-written.
        """
        dest = Path(dest)
        files = self._export_files()
        if as_zip:
            top = slug(self.name)

            def write(tmp: Path) -> None:
                with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                    for rel, data in files:
                        zf.writestr(f"{top}/{rel}", data)
            return write_with_atomic(dest, write)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise GalleryError(f"{dest} exists and is not an empty folder; choose a new folder for the export")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = staging_dir(dest)
        try:
            for rel, data in files:
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_bytes(data)
            if dest.exists():
                dest.rmdir()  # empty, checked above
            tmp.rename(dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return dest

    def _export_files(self) -> list[tuple[str, bytes]]:
        """Return (relative path, bytes) of the index and every PNG, renaming files for in-memory galleries."""
        chars, files = [], []
        for c in self.characters:
            refs = []
            for r in c.references:
                if self.path is not None:
                    data = (self.path / r.file).read_bytes()
                    refs.append(Reference(r.file, r.key, font=r.font))
                else:
                    data = encode_png(r.pixels)
                    file = self._fresh_name(c.name, {f.lower() for f, _ in files})
                    refs.append(Reference(file, r.key, font=r.font))
                files.append((refs[-1].file, data))
            chars.append(Character(c.name, refs, c.char))
        return [(INDEX_NAME, index_json(self.name, chars).encode("utf-8")), *files]

    # -- saving

    def _copy(self) -> list[Character]:
        """Return a copy of the character list that an edit may change without touching the current one."""
        return [Character(c.name, list(c.references), c.char) for c in self.characters]

    def _new_references(self, name: str, pixels: list[np.ndarray]) -> list[Reference]:
        """Return references for new pixels, with file names used by no index or file (not yet written)."""
        taken: set[str] = set()
        refs = []
        for px in pixels:
            file = self._fresh_name(name, taken)
            taken.add(file.lower())
            px = px.copy()
            px.flags.writeable = False
            refs.append(Reference(file, pixels_digest(px), px, self.path))
        return refs

    def _fresh_name(self, name: str, taken: set[str]) -> str:
        in_use = {r.file.lower() for c in self.characters for r in c.references} | taken
        base, k = slug(name), 1
        while True:
            file = f"{IMAGES_DIR}/{base}-{k}.png"
            # lower(): on case-insensitive disks Alpha-1.png and alpha-1.png are the same file.
            if file.lower() not in in_use and (self.path is None or not (self.path / file).exists()):
                return file
            k += 1

    def _commit(self, characters: list[Character], new: list[Reference]) -> None:
        """Save new PNGs, then the index; only then make `characters` current and delete dropped files."""
        if self.path is not None:
            if not self._swept:
                self.collect_garbage()
            try:
                for ref in new:
                    write_bytes_atomic(self.path / ref.file, encode_png(ref.pixels))
                self._write_index(characters)
            except BaseException:
                # The old index is still in place and names none of the new files: tidy them (best effort;
                # after a real crash they stay as harmless orphans until the next sweep).
                for ref in new:
                    (self.path / ref.file).unlink(missing_ok=True)
                raise
            kept = {r.file for c in characters for r in c.references}
            dropped = {r.file for c in self.characters for r in c.references} - kept
            for file in dropped:
                if self._may_delete(file):
                    (self.path / file).unlink(missing_ok=True)
        self.characters = characters
        self.revision += 1

    def _write_index(self, characters: Sequence[Character]) -> None:
        write_text_atomic(self.path / INDEX_NAME, index_json(self.name, characters))

    def _may_delete(self, file: str) -> bool:
        """Return True when `file` (index path) is one the gallery wrote: images/<slug>-<k>.png, a plain file,
        not reached through a link (an images/ that links elsewhere holds someone's files: never delete there)."""
        path = self.path / file
        return (written_file(file) and not (self.path / IMAGES_DIR).is_symlink() and not path.is_symlink()
                and path.is_file())

    def collect_garbage(self) -> list[str]:
        """Delete orphans in images/ (PNGs of the gallery's own naming that no index names, and stale
        temporary files); return their names.

        Runs before the first edit after opening; safe at any time since the index names only kept files.
        Files of other names, links, and anything in an images/ that is itself a link are never deleted.
        """
        self._swept = True
        folder = self.path / IMAGES_DIR if self.path is not None else None
        if folder is None or folder.is_symlink() or not folder.is_dir():
            return []
        files = {r.file for c in self.characters for r in c.references}
        # Also keep what the index on disk names, in case another program (the app and the command line
        # at once) saved a newer index than the one this object read.
        try:
            _, entries = parse_index((self.path / INDEX_NAME).read_bytes(), INDEX_NAME)
            files |= {f for _, refs in entries for f, _ in refs}
        except (OSError, GalleryError):
            pass
        named = {PurePosixPath(f).name for f in files if PurePosixPath(f).parent == PurePosixPath(IMAGES_DIR)}
        removed = []
        for p in folder.iterdir():
            if p.name not in named and self._may_delete(f"{IMAGES_DIR}/{p.name}"):
                p.unlink(missing_ok=True)
                removed.append(p.name)
        return removed + remove_stale_temporaries(
            folder, lambda target: target in named or written_file(f"{IMAGES_DIR}/{target}"))

    def detached_copy(self) -> Gallery:
        """Return an in-memory copy (pixels loaded) that can be edited without touching the folder."""
        g = Gallery.in_memory(self.name, [c.detached() for c in self.characters])
        g.import_skipped = list(self.import_skipped)
        return g


__all__ = ["Reference", "Character", "DeletedCharacter", "Gallery"]
