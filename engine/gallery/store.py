"""A gallery on disk: a folder a person can read and copy, holding the characters the app knows.

Layout::

    MyAlphabet/
      gallery.json          the index: format, version, name, characters and their reference files
      images/alpha-1.png    one 105x105 PNG per reference, ink black on white (Omniglot's look)
      .embeddings/          cached reference embeddings, one file per model (see engine.gallery.cache)

The index is the only truth: a PNG it does not name is an orphan (harmless; swept by the next edit when
it has a name the gallery writes, ``images/<slug>-<k>.png``, and is older than the index; nothing is
deleted through a link), and file names never change after a rename (``images/alpha-1.png`` may belong
to "beta"). Every reference carries the digest of its pixels, which keys the embedding cache, so renames,
merges and undo never cost a recomputation. A PNG modified after the index that names it was written
(replaced by hand) has its digest computed again from its pixels, so it is embedded anew.

Several writers (two app windows, the app and the command line) share a gallery as SQLite or git
would: every change holds the gallery's lock (``.gallery.lock``, engine.locking), reads the index under
it and, when another writer changed it since this object last read or wrote it, first loads that newer
state and applies the edit to it (an edit that no longer applies, such as renaming a character someone
deleted, is refused with a message and changes nothing). So no writer overwrites another's change.
`changed_on_disk` and `reload` let a reader (the app) notice and load another writer's changes.

Crash safety: an edit writes its new PNGs first (each atomically, under names no index uses), then the
index atomically (write aside, fsync, rename). A crash before the rename leaves the old index, which only
names old files, all still present; after it, the new one. Files the new index dropped are deleted only
after it is in place. A gallery without a file (``path is None``) lives in memory and writes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import stat
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from ..atomic import remove_stale_temporaries, write_bytes_atomic, write_with_atomic
from ..glyph import Glyph
from ..locking import FolderLock, LockTimeout, LockUnavailable
from .files import (IMAGES_DIR, INDEX_NAME, LOCK_NAME, MAX_INDEX_BYTES, FontSource, GalleryError, as_pixels,
                    check_name, decode_png, encode_png, index_json, parse_index, pixels_digest, printable,
                    read_bounded, remove_stale_temporaries_of, slug, staging_dir, written_file)

# How long an edit waits for another writer's change (a whole-font import writes thousands of PNGs).
LOCK_TIMEOUT_S = 60.0


@dataclass
class Reference:
    """One example of a character: `file` is its PNG relative to the gallery folder (posix separators).

    `pixels` (float32 (105, 105), 1 = ink) are read from the file on first use and kept; `digest` keys
    the embedding cache. A reference of an in-memory gallery holds its pixels from the start. `font` names
    the font it was rendered from (None: drawn or imported from an image). `_verify`: the file changed
    after the index was written, so the digest is computed again from the pixels on first use.
    """

    file: str
    digest: str = ""
    _pixels: np.ndarray | None = field(default=None, repr=False, compare=False)
    _root: Path | None = field(default=None, repr=False, compare=False)
    font: FontSource | None = None
    _verify: bool = field(default=False, repr=False, compare=False)

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
        """Return the embedding-cache key: the pixel digest, computed from the file if the index had none or
        the file changed after the index was written."""
        if not self.digest or self._verify:
            self.digest = pixels_digest(self.pixels)
            self._verify = False
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

    `path` is the folder (None: in memory only, nothing is ever written). Edits save at once, atomically,
    under the gallery's lock, applied to the newest index on disk (see the module docstring); if an edit
    fails (disk full, crash, refused) the folder keeps the previous gallery. `revision` grows with every
    change of what this object holds, its own edits and other writers' changes it loaded (a Recognizer
    uses it to notice changes).
    """

    lock_timeout: float = LOCK_TIMEOUT_S

    def __init__(self, path: Path | None, name: str, characters: list[Character] | None = None):
        self.path = Path(path) if path is not None else None
        self.name = name
        self.characters: list[Character] = characters or []
        self.revision = 0
        self._swept = False
        self.import_skipped: list[str] = []  # files an import left out (blank images...), for the user to see
        self.skip_reasons: dict[str, str] = {}  # why each of `import_skipped` was left out (default: no ink)
        self.warnings: list[str] = []  # what opening repaired (e.g. an invalid name in the index), naming it
        self.external_changes = 0  # how many times this object loaded another writer's change
        self._disk_digest: str | None = None  # sha256 of the index bytes this object last read or wrote
        self._disk_stat: tuple[int, int, int, int] | None = None  # (inode, size, mtime ns, ctime ns) of them
        self._lock = FolderLock(self.path / LOCK_NAME) if self.path is not None else None

    # -- opening and creating

    @classmethod
    def create(cls, path: str | Path, name: str | None = None) -> Gallery:
        """Return a new empty gallery saved in folder `path` (created; it must not exist or be empty).

        Raises GalleryError if a gallery (or anything else) is already there.
        """
        path = Path(path)
        if (path / INDEX_NAME).exists():
            raise GalleryError(f"A gallery already exists in {path}")
        if path.exists() and (not path.is_dir() or any(p.name != LOCK_NAME for p in path.iterdir())):
            raise GalleryError(f"{path} exists and is not an empty folder; choose a new folder for the gallery")
        gallery = cls(path, check_name(name or path.name, "gallery name"))
        path.mkdir(parents=True, exist_ok=True)
        with gallery._holding():
            if (path / INDEX_NAME).exists():  # another program created one while this call waited
                raise GalleryError(f"A gallery already exists in {path} (another program created it just now); "
                                   f"open it instead")
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
        gallery = cls(path, path.name)
        gallery.import_skipped = gallery._load(*_read_index(path), drop_missing=drop_missing)
        remove_stale_temporaries_of(path, {PurePosixPath(r.file).name for c in gallery.characters
                                           for r in c.references})
        return gallery

    def _load(self, raw: bytes, st: os.stat_result, drop_missing: bool = False) -> list[str]:
        """Make the index bytes `raw` (read with stat `st`) this object's state; return the files left out
        (missing, when `drop_missing`); raise GalleryError as `open`.

        References whose file and digest are unchanged keep their objects (and pixels already read).
        """
        index = self.path / INDEX_NAME
        extras: dict = {}
        name, entries = parse_index(raw, str(index), extras)
        chars_known, fonts = extras.get("chars", {}), extras.get("fonts", {})
        known = {(r.file, r.digest): r for c in self.characters for r in c.references if not r._verify}
        characters, dropped = [], []
        for cname, refs in entries:
            kept = []
            for file, digest in refs:
                state, mtime = _file_state(self.path / file)
                if state is None:
                    changed = mtime > st.st_mtime_ns  # replaced by hand after the index was written
                    old = None if changed else known.get((file, digest))
                    if old is not None and old.font == fonts.get(file):
                        kept.append(old)
                    else:
                        kept.append(Reference(file, digest, None, self.path, fonts.get(file), _verify=changed))
                elif drop_missing:
                    dropped.append(file)
                else:
                    raise GalleryError(f"{index} names {printable(file)} (character {printable(repr(cname))}), "
                                       f"which {state}. Nothing was changed; put the file back, or open the gallery "
                                       f"dropping missing files.")
            if kept:
                characters.append(Character(cname, kept, chars_known.get(cname)))
        self.name = name or self.path.name
        self.characters = characters
        self.warnings = list(extras.get("notes", []))
        self._disk_digest, self._disk_stat = _digest(raw), _stat_key(st)
        return dropped

    # -- other writers

    @property
    def disk_token(self) -> str | None:
        """Return a token of the index this object last read or wrote (None in memory): it differs from
        `current_disk_token()` once another writer has changed the gallery."""
        return self._disk_digest

    def current_disk_token(self) -> str | None:
        """Return the token of the index on disk now (None in memory, or when it cannot be read)."""
        if self.path is None:
            return None
        try:
            raw, _ = _read_index(self.path)
        except GalleryError:
            return None
        return _digest(raw)

    def changed_on_disk(self) -> bool:
        """Return True when the gallery on disk differs from what this object holds (another writer changed
        it, or it was removed). Cheap enough to poll: the index is read only when its file changed."""
        if self.path is None:
            return False
        try:
            st = os.stat(self.path / INDEX_NAME)
        except OSError:
            return True
        if _stat_key(st) == self._disk_stat:
            return False
        token = self.current_disk_token()
        if token == self._disk_digest:
            self._disk_stat = _stat_key(st)  # touched or rewritten the same: nothing to load
            return False
        return True

    def reload(self) -> bool:
        """Load what another writer saved since this object last read or wrote the gallery; return True if
        anything changed (`revision` then grows). Raises GalleryError (this object unchanged) when the
        index on disk is gone or damaged, or names a missing file."""
        if self.path is None:
            return False
        raw, st = _read_index(self.path)
        if _digest(raw) == self._disk_digest:
            self._disk_stat = _stat_key(st)
            return False
        self._load_changed(raw, st)
        return True

    def _load_changed(self, raw: bytes, st: os.stat_result) -> None:
        before = (self.name, self.characters, self.warnings, self._disk_digest, self._disk_stat)
        try:
            self._load(raw, st)
        except BaseException:
            self.name, self.characters, self.warnings, self._disk_digest, self._disk_stat = before
            raise
        self.revision += 1
        self.external_changes += 1

    @contextlib.contextmanager
    def _holding(self) -> Iterator[None]:
        """Hold the gallery's lock for the body, or raise GalleryError saying why it cannot be had."""
        if not self.path.is_dir():
            raise GalleryError(f"{self.path} is gone (another program moved or removed the gallery folder); "
                               f"nothing was changed")
        try:
            with self._lock.held(self.lock_timeout):
                yield
        except LockTimeout:
            raise GalleryError(f"{self.path}: another program has been changing this gallery for over "
                               f"{self.lock_timeout:.0f} s (it holds {LOCK_NAME}); nothing was changed. Try again "
                               f"when it has finished.") from None
        except LockUnavailable as exc:
            raise GalleryError(f"{self.path}: cannot change this gallery: {exc}. Nothing was changed; copy the "
                               f"gallery to a folder you can write to (File > Export) to edit it.") from None

    @contextlib.contextmanager
    def _editing(self) -> Iterator[None]:
        """Run an edit under the lock, on the newest state on disk (loaded first if another writer saved)."""
        if self.path is None:
            yield
            return
        outermost = not self._lock.is_held
        with self._holding():
            if outermost:
                self._sync()
            yield

    def _sync(self) -> None:
        try:
            raw, st = _read_index(self.path)
        except GalleryError as exc:
            raise GalleryError(f"{exc}. It was there when this gallery was opened: another program removed or "
                               f"damaged it; nothing was changed.") from None
        if _digest(raw) != self._disk_digest:
            self._load_changed(raw, st)
        else:
            self._disk_stat = _stat_key(st)

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
        label = repr(name) if name is not None else "new character"
        pixels = [as_pixels(g, f"reference of {label}") for g in glyphs]
        name = check_name(name) if name is not None else None
        with self._editing():
            name = name if name is not None else self.suggest_name()
            if name in self.names():
                raise GalleryError(f"There is already a character {name!r}")
            if not glyphs:
                raise GalleryError(f"Character {name!r} needs at least one reference glyph")
            new = self._new_references(name, pixels)
            character = Character(name, new)
            self._commit([*self._copy(), character], new)
        return character

    def add_reference(self, name: str, glyph: Glyph | np.ndarray, index: int | None = None) -> Reference:
        """Add one reference glyph to character `name` (at `index`, default last) and save; return it."""
        pixels = as_pixels(glyph, f"reference of {name!r}")
        with self._editing():
            pos = self._position(name)
            (ref,) = self._new_references(name, [pixels])
            chars = self._copy()
            refs = chars[pos].references
            refs.insert(len(refs) if index is None else index, ref)
            self._commit(chars, [ref])
        return ref

    def remove_reference(self, name: str, index: int) -> Reference:
        """Remove reference `index` of character `name` and save; return it with its pixels (for undo).

        A character keeps at least one reference: raises GalleryError for its last one (delete it instead).
        """
        with self._editing():
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
        new = check_name(new)
        with self._editing():
            pos = self._position(old)
            if new != old and new in self.names():
                raise GalleryError(f"There is already a character {new!r}")
            chars = self._copy()
            chars[pos].name = new
            self._commit(chars, [])
        return chars[pos]

    def delete(self, name: str) -> DeletedCharacter:
        """Delete character `name` and save; return what `restore` needs to undo it (pixels in memory)."""
        with self._editing():
            pos = self._position(name)
            removed = self.characters[pos].detached()
            chars = self._copy()
            del chars[pos]
            self._commit(chars, [])
        return DeletedCharacter(removed, pos)

    def restore(self, deleted: DeletedCharacter) -> Character:
        """Put a deleted character back where it was (undo of `delete`) and save; return it."""
        ch = deleted.character
        pixels = [as_pixels(r.pixels) for r in ch.references]
        with self._editing():
            if ch.name in self.names():
                raise GalleryError(f"Cannot restore {ch.name!r}: a character of that name exists now")
            new = self._new_references(ch.name, pixels)
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
        into = check_name(into)
        with self._editing():
            positions = [self._position(n) for n in names]
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
        sources = []
        for src in characters:
            name = check_name(src.name)
            pixels = []
            for ref in src.references:
                px = as_pixels(ref.pixels, f"reference of {name!r}")
                px.flags.writeable = False
                pixels.append((px, ref.font))
            sources.append((name, src.char, pixels))
        with self._editing():
            return self._extend(sources)

    def _extend(self, sources: list[tuple[str, str | None, list[tuple[np.ndarray, FontSource | None]]]]
                ) -> tuple[int, int]:
        chars = self._copy()
        by_name = {c.name: c for c in chars}
        in_use = {r.file.lower() for c in self.characters for r in c.references}
        new: list[Reference] = []
        added_chars = 0
        for name, char, pixels in sources:
            target = by_name.get(name)
            if target is None:
                target = by_name[name] = Character(name, [], char)
                chars.append(target)
                added_chars += 1
            elif target.char is None:
                target.char = char
            stem = f"u{ord(char):04x}" if char else name
            for px, font in pixels:
                file = self._unused_file(stem, in_use)
                in_use.add(file.lower())
                new.append(Reference(file, pixels_digest(px), px, self.path, font))
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
                    data = read_bounded(self.path / r.file, str(self.path / r.file))
                    refs.append(Reference(r.file, r.key, font=r.font))
                else:
                    data = encode_png(r.pixels)
                    file = self._fresh_name(c.name, {f.lower() for f, _ in files})
                    refs.append(Reference(file, r.key, font=r.font))
                files.append((refs[-1].file, data))
            chars.append(Character(c.name, refs, c.char))
        # The index last: its files are then older than it, so their stored digests are trusted on opening.
        return [*files, (INDEX_NAME, index_json(self.name, chars).encode("utf-8"))]

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
        """Save new PNGs, then the index; only then make `characters` current and delete dropped files.

        Called under the lock (`_editing`), with `self.characters` the state on disk."""
        if self.path is not None:
            if not self._swept:
                self._sweep()
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
        data = index_json(self.name, characters).encode("utf-8")
        write_bytes_atomic(self.path / INDEX_NAME, data)
        self._disk_digest = _digest(data)
        with contextlib.suppress(OSError):
            self._disk_stat = _stat_key(os.stat(self.path / INDEX_NAME))

    def _may_delete(self, file: str) -> bool:
        """Return True when `file` (index path) is one the gallery wrote: images/<slug>-<k>.png, a plain file,
        not reached through a link (an images/ that links elsewhere holds someone's files: never delete there)."""
        path = self.path / file
        return (written_file(file) and not (self.path / IMAGES_DIR).is_symlink() and not path.is_symlink()
                and path.is_file())

    def collect_garbage(self) -> list[str]:
        """Delete orphans in images/ (PNGs of the gallery's own naming that no index names, and stale
        temporary files); return their names.

        Runs (under the lock, on the newest index) before the first edit after opening. Files newer than
        the index are kept: another writer may have written them and not yet its index. Files of other
        names, links, and anything in an images/ that is itself a link are never deleted.
        """
        if self.path is None:
            self._swept = True
            return []
        with self._editing():
            return self._sweep()

    def _sweep(self) -> list[str]:
        self._swept = True
        folder = self.path / IMAGES_DIR
        if folder.is_symlink() or not folder.is_dir():
            return []
        named = {PurePosixPath(r.file).name for c in self.characters for r in c.references
                 if PurePosixPath(r.file).parent == PurePosixPath(IMAGES_DIR)}
        index_time = self._disk_stat[2] if self._disk_stat is not None else 0
        removed = []
        for p in folder.iterdir():
            if (p.name not in named and self._may_delete(f"{IMAGES_DIR}/{p.name}")
                    and _mtime_ns(p) < index_time):
                p.unlink(missing_ok=True)
                removed.append(p.name)
        return removed + remove_stale_temporaries(
            folder, lambda target: target in named or written_file(f"{IMAGES_DIR}/{target}"))

    def detached_copy(self) -> Gallery:
        """Return an in-memory copy (pixels loaded) that can be edited without touching the folder."""
        g = Gallery.in_memory(self.name, [c.detached() for c in self.characters])
        g.import_skipped = list(self.import_skipped)
        return g


def _read_index(path: Path) -> tuple[bytes, os.stat_result]:
    """Return (bytes, stat) of the index of gallery folder `path`, or raise GalleryError naming it."""
    index = path / INDEX_NAME
    if not index.is_file():
        what = "is not a folder" if not path.is_dir() else f"has no {INDEX_NAME}: it is not a Glyphs gallery"
        raise GalleryError(f"{path} {what}")
    try:
        with open(index, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_size > MAX_INDEX_BYTES:
                raise GalleryError(f"{index} holds {st.st_size:,} bytes, far more than any gallery index; it is "
                                   f"damaged. Nothing was changed; restore it from a copy or export.")
            return f.read(), st
    except OSError as exc:
        raise GalleryError(f"{index}: cannot read the gallery index ({exc})") from exc


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _mtime_ns(path: Path) -> int:
    """Return the modification time of `path` itself (not followed if a link), 0 when it cannot be read."""
    try:
        return path.lstat().st_mtime_ns
    except OSError:
        return 0


def _file_state(path: Path) -> tuple[str | None, int]:
    """Return (None, modification time ns) when `path` is a file (links followed), else (why not, 0)."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return "is missing", 0
    except OSError as exc:
        return f"cannot be read ({exc.strerror})", 0
    return (None, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else ("is not a file", 0)


__all__ = ["Reference", "Character", "DeletedCharacter", "Gallery"]
