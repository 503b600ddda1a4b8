"""Building galleries from folders, zips and the Omniglot dataset.

Accepted layouts (a zip of any of them too, optionally wrapped in one top folder):

- a Glyphs gallery (``gallery.json`` + PNGs), e.g. an export: names and pixels are kept exactly;
- class folders, ``CLASS_NAME/*.png|jpg|...``: one character per folder, e.g. an Omniglot alphabet folder
  (``characterNN/IIII_DD.png``);
- a flat folder of images: one character per file, named by the file name (``alpha.png`` -> "alpha";
  files with the same name and different extensions become references of one character).

Images go through `glyph_from_bytes` (`engine.glyph.glyph_from_image`): images that are Omniglot drawings (two
levels, Omniglot's stroke width and framing) are kept pixel for pixel, anything else is framed and redrawn
with Omniglot's pen. Blank images, and files whose name cannot name a character (empty, or longer than 200
characters), are skipped (listed in `Gallery.import_skipped`, with the reason in `Gallery.skip_reasons`); a
name with undecodable bytes keeps them as U+FFFD. An image that cannot be read stops the import with an error
naming it. Files of a folder are read up to the size zip members may have (64 MiB). Import reports progress
and can be cancelled; it builds the gallery in a hidden folder beside `dest` and renames it into place at the
end, so a cancelled or failed import leaves nothing behind.
"""

from __future__ import annotations

import errno
import functools
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from ..atomic import write_bytes_atomic
from ..cancel import Cancelled
from ..glyph import GlyphError
from .files import IMAGES_DIR, INDEX_NAME, LOCK_NAME, GalleryError, as_pixels, check_name, decode_png, \
    encode_png, index_json, parse_index, pixels_digest, printable, read_bounded, repair_text, slug, staging_dir
from .sources import IMAGE_SUFFIXES, MAX_MEMBER_BYTES, SourceFile, glyph_from_bytes, list_source, natural_key
from .store import Character, Gallery, Reference

ProgressFn = Callable[[int, int], None]
Plan = list[tuple[str, list[SourceFile]]]
NO_INK = "no ink"


class FolderTaken(GalleryError):
    """The new folder an import was to create was filled by another import (or program) meanwhile."""


class _Sink:
    """Collects references into memory (dest None) or into a staging folder renamed to `dest` at the end."""

    def __init__(self, dest: Path | None):
        self.dest = Path(dest) if dest is not None else None
        self.staging: Path | None = None
        self.taken: set[str] = set()
        self.skipped: list[str] = []  # files left out (blank images, unusable names)
        self.reasons: dict[str, str] = {}  # why, for those not blank
        if self.dest is not None:
            if (self.dest / INDEX_NAME).exists():
                raise FolderTaken(f"{self.dest} exists and is not an empty folder (it holds a gallery); choose a "
                                  f"new folder")
            if self.dest.exists() and (not self.dest.is_dir() or any(p.name != LOCK_NAME
                                                                     for p in self.dest.iterdir())):
                raise GalleryError(f"{self.dest} exists and is not an empty folder; choose a new folder")
            self.dest.parent.mkdir(parents=True, exist_ok=True)
            self.staging = staging_dir(self.dest)

    def add(self, name: str, pixels: np.ndarray, label: str) -> Reference:
        """Return a reference for `pixels`, written to the staging folder when there is one."""
        px = as_pixels(pixels, label)
        px.flags.writeable = False
        if self.staging is None:
            return Reference(label, pixels_digest(px), px, None)
        k, base = 1, slug(name)
        while f"{base}-{k}".lower() in self.taken:
            k += 1
        self.taken.add(f"{base}-{k}".lower())
        file = f"{IMAGES_DIR}/{base}-{k}.png"
        (self.staging / IMAGES_DIR).mkdir(exist_ok=True)
        (self.staging / file).write_bytes(encode_png(px))
        return Reference(file, pixels_digest(px), None, self.dest)

    def finish(self, name: str, characters: list[Character], cancel: threading.Event | None) -> Gallery:
        """Return the finished gallery: in memory, or saved (index written, staging renamed to `dest`)."""
        if not characters:
            raise GalleryError(f"Nothing to import into {name!r}: no usable images were found")
        _check_cancel(cancel)
        if self.staging is None:
            return Gallery.in_memory(name, characters)
        write_bytes_atomic(self.staging / INDEX_NAME, index_json(name, characters).encode("utf-8"))
        try:
            if self.dest.exists():
                self.dest.rmdir()  # checked empty at the start
            self.staging.rename(self.dest)
        except FileNotFoundError:  # another program removed the empty folder meanwhile: take its place
            self.staging.rename(self.dest)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR, errno.ENOTDIR, errno.EACCES):
                raise
            raise FolderTaken(f"{self.dest}: another import (or program) wrote into this folder while this import "
                              f"ran, so nothing of this import was kept. Import again into a new folder, or into "
                              f"that gallery once it is complete (import-font adds to an existing gallery).") from None
        self.staging = None
        return Gallery.open(self.dest)

    def skip(self, label: str, reason: str) -> None:
        """Leave the file `label` out of the import, saying why."""
        self.skipped.append(label)
        if reason != NO_INK:
            self.reasons[label] = reason

    def abort(self) -> None:
        """Remove everything written so far."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("import cancelled")


# ---------------------------------------------------------------------------------------- folders and zips


def plan_import(files: list[SourceFile], label: str) -> Plan:
    """Return [(character name, its image files)] for a class-folder or flat layout, in natural name order.

    Raises GalleryError when there are no images, or images nested deeper than CLASS/image (a collection
    of alphabets: import one at a time).
    """
    images = [f for f in files if f.is_image]
    deep = [f for f in images if len(f.path.parts) > 2]
    if deep:
        raise GalleryError(f"{label} has images nested {len(deep[0].path.parts) - 1} folders deep (e.g. "
                           f"{deep[0].path}); import one alphabet at a time: a folder of CHARACTER/image files")
    if not images:
        kinds = ", ".join(sorted(s.lstrip(".") for s in IMAGE_SUFFIXES))
        raise GalleryError(f"{label} holds no images ({kinds})")
    groups: dict[str, list[SourceFile]] = {}
    for f in images:
        name = f.path.parts[0] if len(f.path.parts) == 2 else f.path.stem
        groups.setdefault(name.strip(), []).append(f)
    return [(n, sorted(groups[n], key=lambda f: natural_key(str(f.path)))) for n in sorted(groups, key=natural_key)]


def import_gallery(source: str | Path, dest: str | Path | None = None, name: str | None = None,
                   progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> Gallery:
    """Return a gallery built from a folder or zip (see the module docstring for the layouts).

    With `dest`, the gallery is saved in that new folder; with None it lives in memory and nothing is
    written anywhere. `progress(done, total)` is called per image; setting `cancel` raises `Cancelled`
    and leaves nothing behind. Raises GalleryError naming the file for unreadable or hostile input.
    """
    default_name, files = list_source(Path(source))
    if Path(source).is_dir():  # a zip bounds its members itself (sources.MAX_MEMBER_BYTES); a folder's files too
        files = [SourceFile(f.path, functools.partial(read_bounded, Path(f.label), f.label, MAX_MEMBER_BYTES),
                            f.label) for f in files]
    index = [f for f in files if f.path == PurePosixPath(INDEX_NAME)]
    sink = _Sink(Path(dest) if dest is not None else None)
    try:
        if index:
            gallery_name, characters = _copy_gallery(index[0], files, sink, progress, cancel)
        else:
            gallery_name, characters = default_name, _decode_plan(plan_import(files, str(source)), sink, progress,
                                                                  cancel)
        gallery = sink.finish(check_name(name or gallery_name or "Imported", "gallery name"), characters, cancel)
    except BaseException:
        sink.abort()
        raise
    gallery.import_skipped = sink.skipped
    gallery.skip_reasons = sink.reasons
    return gallery


def _decode_plan(plan: Plan, sink: _Sink, progress: ProgressFn | None,
                 cancel: threading.Event | None) -> list[Character]:
    total, done, by_name = sum(len(fs) for _, fs in plan), 0, {}
    for raw_name, sources in plan:
        name = repair_text(raw_name)  # undecodable bytes of a file name become U+FFFD
        try:
            name = check_name(name)
        except GalleryError as exc:  # one unusable name does not stop the others
            for f in sources:
                sink.skip(f.label, f"its name cannot name a character: {exc}; rename the file")
            done += len(sources)
            if progress:
                progress(done, total)
            continue
        refs = []
        for f in sources:
            _check_cancel(cancel)
            try:
                glyph = glyph_from_bytes(f.read(), f.label)
            except GlyphError as exc:
                raise GalleryError(printable(str(exc), 2000)) from exc
            if glyph.no_ink:
                sink.skip(f.label, NO_INK)
            else:
                refs.append(sink.add(name, glyph.pixels, f.label))
            done += 1
            if progress:
                progress(done, total)
        if refs:  # two names repaired alike ("caf\udce9", "caf\udcea" -> "caf\ufffd") make one character
            by_name.setdefault(name, Character(name, [])).references.extend(refs)
    return list(by_name.values())


def _copy_gallery(index: SourceFile, files: list[SourceFile], sink: _Sink, progress: ProgressFn | None,
                  cancel: threading.Event | None) -> tuple[str, list[Character]]:
    """Return (name, characters) of a Glyphs gallery inside an import source, pixels kept exactly."""
    extras: dict = {}
    name, entries = parse_index(index.read(), index.label, extras)
    by_path = {f.path: f for f in files}
    total, done, characters = sum(len(r) for _, r in entries), 0, []
    for cname, refs in entries:
        out = []
        for file, _digest in refs:
            _check_cancel(cancel)
            src = by_path.get(PurePosixPath(file))
            if src is None:
                raise GalleryError(f"{index.label} names {file} (character {cname!r}), which is not in the source")
            out.append(sink.add(cname, decode_png(src.read(), src.label), src.label))
            out[-1].font = extras.get("fonts", {}).get(file)
            done += 1
            if progress:
                progress(done, total)
        if out:
            characters.append(Character(cname, out, extras.get("chars", {}).get(cname)))
    return name, characters


# ------------------------------------------------------------------------------------------------ Omniglot


def import_omniglot_alphabet(omniglot_set, alphabet: str | int, dest: str | Path | None = None,
                             references_per_character: int = 1, drawers: Sequence[int] | int | None = None,
                             progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                             name: str | None = None) -> Gallery:
    """Return a gallery of one Omniglot alphabet (`omniglot_set`: an OmniglotSet, background or evaluation).

    Characters keep Omniglot's names (character01...). Each gets `references_per_character` drawings:
    by default those of the lowest-numbered drawers; `drawers` a list of drawer numbers (1-20) picks
    them; an int is a seed for a random choice per character. Saved in `dest`, or in memory when None.
    The gallery is named after the alphabet unless `name` is given.
    """
    a = _alphabet_index(omniglot_set, alphabet)
    chosen = [(omniglot_set.char_names[c], _pick_drawings(omniglot_set, c, references_per_character, drawers))
              for c in omniglot_set.alphabet_characters(a)]
    sink = _Sink(Path(dest) if dest is not None else None)
    try:
        total, done, characters = sum(len(ix) for _, ix in chosen), 0, []
        for cname, idx in chosen:
            _check_cancel(cancel)
            refs = [sink.add(cname, px.astype(np.float32), f"{omniglot_set.alphabets[a]}/{cname}/drawer "
                                                            f"{int(omniglot_set.drawer[i]):02d}")
                    for i, px in zip(idx, omniglot_set.pixels(idx))]
            characters.append(Character(cname, refs))
            done += len(idx)
            if progress:
                progress(done, total)
        return sink.finish(check_name(name or omniglot_set.alphabets[a], "gallery name"), characters, cancel)
    except BaseException:
        sink.abort()
        raise


def _alphabet_index(omniglot_set, alphabet: str | int) -> int:
    if isinstance(alphabet, (int, np.integer)) and 0 <= alphabet < len(omniglot_set.alphabets):
        return int(alphabet)
    if alphabet in omniglot_set.alphabets:
        return omniglot_set.alphabets.index(alphabet)
    lowered = {a.lower(): i for i, a in enumerate(omniglot_set.alphabets)}
    if isinstance(alphabet, str) and alphabet.lower() in lowered:
        return lowered[alphabet.lower()]
    raise GalleryError(f"No alphabet {alphabet!r} in Omniglot's {omniglot_set.name} set; it has: "
                       f"{', '.join(omniglot_set.alphabets)}")


def _pick_drawings(omniglot_set, c: int, k: int, drawers: Sequence[int] | int | None) -> np.ndarray:
    """Return the image indices of character `c`'s chosen drawings, ordered by drawer."""
    idx = np.flatnonzero(omniglot_set.char == c)
    idx = idx[np.argsort(omniglot_set.drawer[idx], kind="stable")]
    label = omniglot_set.char_names[c]
    if isinstance(drawers, (int, np.integer)) and not isinstance(drawers, bool):
        rng = np.random.default_rng([int(drawers), int(c)])
        if k > len(idx):
            raise GalleryError(f"{label} has {len(idx)} drawings; cannot pick {k}")
        return np.sort(rng.choice(idx, size=k, replace=False))
    if drawers is not None:
        by_drawer = {int(omniglot_set.drawer[i]): i for i in idx}
        missing = [d for d in drawers if int(d) not in by_drawer]
        if missing:
            raise GalleryError(f"{label} has no drawing by drawer(s) {missing}")
        return np.asarray([by_drawer[int(d)] for d in drawers])
    if not 1 <= k <= len(idx):
        raise GalleryError(f"references_per_character must be 1-{len(idx)} ({label} has {len(idx)} drawings)")
    return idx[:k]
