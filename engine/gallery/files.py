"""The files of a gallery: its JSON index, its reference PNGs, names and paths (no state here)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import shutil
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

import numpy as np
from PIL import Image

from ..atomic import STALE_AFTER_S, remove_stale_temporaries, temporary_target
from ..glyph import GLYPH_SIZE, MIN_INK_PIXELS, Glyph, GlyphError, ImageSizeError, read_gray

INDEX_NAME = "gallery.json"
IMAGES_DIR = "images"
CACHE_DIR = ".embeddings"
LOCK_NAME = ".gallery.lock"  # held by every writer while it changes the gallery (engine.locking)
FORMAT = "glyphs-gallery"
# 2: a character may say which Unicode character it is ("char", "codepoint", "unicode_name") and a reference
# which font it was rendered from ("font"); version 1 indexes (neither) open unchanged.
FORMAT_VERSION = 2
MAX_NAME_LENGTH = 200
# No reference path is anywhere near these (the gallery writes images/<40-char slug>-<k>.png); longer ones
# come from a damaged or hostile index and are refused before the file system sees them.
MAX_PATH_LENGTH = 1024
MAX_PART_LENGTH = 255
MAX_FILE_BYTES = 64 << 20  # a reference or imported image, as for zip members (sources.MAX_MEMBER_BYTES)
MAX_INDEX_BYTES = 512 << 20  # a whole-font gallery's index is a few MB
PRINT_LIMIT = 120  # characters of a name or path shown in a message


@dataclass(frozen=True)
class FontSource:
    """The font a reference was rendered from: its full name, version string and file name (no folder)."""

    name: str
    version: str
    file: str

    def as_json(self) -> dict[str, str]:
        """Return the index entry of this font: {"name", "version", "file"}."""
        return {"name": self.name, "version": self.version, "file": self.file}


class GalleryError(ValueError):
    """A gallery or import source that cannot be used (corrupt index, missing file, hostile archive...).

    The message names the file concerned and says what is wrong.
    """


def pixels_digest(pixels: np.ndarray) -> str:
    """Return the hex digest (32 chars) of glyph pixels as they are stored, the key of their embedding."""
    return hashlib.sha256(np.ascontiguousarray(pixels, dtype=np.float32).tobytes()).hexdigest()[:32]


def as_pixels(glyph: Glyph | np.ndarray, what: str = "glyph") -> np.ndarray:
    """Return a glyph (Glyph or (105, 105) array in [0, 1], 1 = ink) as stored pixels: float32, 8-bit levels.

    Binary glyphs stay exact; soft ones are rounded to the 256 grey levels a PNG holds, so that pixels
    read back from disk equal those in memory. Raises GalleryError for a wrong shape, values outside
    [0, 1] or a glyph with (almost) no ink.
    """
    px = glyph.pixels if isinstance(glyph, Glyph) else np.asarray(glyph)
    if px.shape != (GLYPH_SIZE, GLYPH_SIZE):
        raise GalleryError(f"{what}: expected a {GLYPH_SIZE}x{GLYPH_SIZE} glyph, got shape {px.shape}")
    px = px.astype(np.float32)
    if not np.all(np.isfinite(px)) or px.min() < 0.0 or px.max() > 1.0:
        raise GalleryError(f"{what}: glyph pixels must be within [0, 1] (1 = ink)")
    px = _from_gray(_to_gray(px))
    if np.count_nonzero(px >= 0.5) < MIN_INK_PIXELS:
        raise GalleryError(f"{what}: the glyph has no ink; draw something first")
    return px


def _to_gray(pixels: np.ndarray) -> np.ndarray:
    """Return glyph pixels as an 8-bit image, ink black (0) on white (255)."""
    return np.round((1.0 - pixels.astype(np.float32)) * 255.0).astype(np.uint8)


def _from_gray(gray: np.ndarray) -> np.ndarray:
    # The one conversion from 8-bit to pixels, used in memory and when reading a PNG, so both give the
    # same floats bit for bit (and so the same digest).
    return (np.float32(1.0) - gray.astype(np.float32) / np.float32(255.0)).astype(np.float32)


def encode_png(pixels: np.ndarray) -> bytes:
    """Return PNG bytes of stored pixels, ink black on white: 1-bit like Omniglot when binary, else 8-bit."""
    gray = _to_gray(pixels)
    binary = np.isin(gray, (0, 255)).all()
    img = Image.fromarray(gray, mode="L")
    buf = io.BytesIO()
    (img.convert("1") if binary else img).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def decode_png(data: bytes | Path, label: str) -> np.ndarray:
    """Return the stored pixels of a reference PNG (exactly as written: ``1 - gray``), or raise GalleryError."""
    try:
        gray = read_gray(data, label, size=(GLYPH_SIZE, GLYPH_SIZE))
    except ImageSizeError as exc:
        raise GalleryError(f"{label}: a reference image must be {GLYPH_SIZE}x{GLYPH_SIZE}, got "
                           f"{exc.size[0]}x{exc.size[1]}") from None
    except GlyphError as exc:
        raise GalleryError(str(exc)) from exc  # it names the file and says what is wrong
    return _from_gray(gray)


def read_bounded(path: Path, label: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """Return the bytes of file `path`, or raise GalleryError naming `label` when it holds more than `limit`
    bytes (checked before reading, and again while reading in case it grows) or cannot be read."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > limit:
                raise GalleryError(f"{printable(label)} holds {size:,} bytes, more than the {limit >> 20} MiB an "
                                   f"image may have; it is not a glyph image. Remove it or choose another file.")
            data = f.read(limit + 1)
    except OSError as exc:
        raise GalleryError(f"{printable(label)}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise GalleryError(f"{printable(label)} grew beyond {limit >> 20} MiB while being read; refusing it")
    return data


# ------------------------------------------------------------------------------------------------ names


def printable(text: object, limit: int = PRINT_LIMIT) -> str:
    """Return `text` safe to print in a message or on a terminal: control characters (escape sequences
    included), invisible formatting and lone surrogates (undecodable file-name bytes) escaped as ``\\x1b``,
    ``\\u200e``, ``\\udce9``, and anything longer than `limit` characters cut with a count of the rest."""
    text = str(text)
    cut = len(text) - limit if len(text) > limit else 0
    out = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text[:limit])
    return out + (f"… ({cut:,} more characters)" if cut else "")


def has_surrogates(text: str) -> bool:
    """Return True when `text` holds lone surrogates (what undecodable bytes of a file name become)."""
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def repair_text(text: str) -> str:
    """Return `text` with each lone surrogate replaced by U+FFFD (invalid UTF-8 bytes of a file name become
    one U+FFFD each), so that it can be written to the UTF-8 index."""
    if not has_surrogates(text):
        return text
    try:  # a file name's undecodable bytes (surrogateescape): decode them, marking each bad byte
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # other lone surrogates (e.g. "\\ud800" in a JSON index)
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def check_name(name: str, what: str = "character name") -> str:
    """Return `name` stripped of surrounding spaces, or raise GalleryError if it is empty or unusable."""
    if not isinstance(name, str):
        raise GalleryError(f"A {what} must be text, got {type(name).__name__}")
    cleaned = name.strip()
    if not cleaned:
        raise GalleryError(f"A {what} cannot be empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise GalleryError(f"A {what} is limited to {MAX_NAME_LENGTH} characters (this one has {len(cleaned):,}: "
                           f"{printable(cleaned, 40)})")
    if any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        raise GalleryError(f"A {what} cannot contain control characters: {printable(repr(cleaned))}")
    if has_surrogates(cleaned):
        raise GalleryError(f"A {what} must be valid Unicode; {printable(cleaned)} holds a lone surrogate "
                           f"(undecodable bytes)")
    return cleaned


def slug(name: str) -> str:
    """Return a file-name-safe version of a character name (letters and digits kept, others '_')."""
    slug = "".join(c if (c.isalnum() or c in "-_") else "_" for c in name)[:40].strip("._")
    return slug or "character"


def written_file(file: str) -> bool:
    """Return True for an index path a gallery writes itself: ``images/<slug>-<k>.png``, the only kind it deletes."""
    p = PurePosixPath(file)
    return p.parent == PurePosixPath(IMAGES_DIR) and _WRITTEN_NAME.fullmatch(p.name) is not None


_WRITTEN_NAME = re.compile(r"[\w-]+-\d+\.png")  # slug(name) + "-k.png", see Gallery._fresh_name


def staging_dir(dest: Path) -> Path:
    """Return a new hidden folder beside `dest` to build it in (renamed to `dest` when complete).

    Unlike mkdtemp's owner-only folders, it gets the usual permissions (umask applies), which the
    finished gallery keeps. Stale staging folders of `dest` left by a crash are removed first.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(dest)
    while True:
        tmp = dest.parent / f".{dest.name}.{secrets.token_hex(4)}.tmp"
        try:
            tmp.mkdir()
            return tmp
        except FileExistsError:
            continue


def remove_stale_staging(dest: Path, older_than: float = STALE_AFTER_S) -> list[str]:
    """Delete the hidden staging folders of `dest` (``.NAME.XXXXXXXX.tmp`` beside it) that a crashed import
    or export left, once nothing has been written in them for `older_than` seconds; return their names.

    Only folders named for `dest` are touched, never through a link; best effort (errors are ignored).
    """
    dest = Path(dest)
    try:
        entries = [p for p in dest.parent.iterdir() if temporary_target(p.name) == dest.name]
    except OSError:
        return []
    removed = []
    now = time.time()
    for folder in entries:
        try:
            if folder.is_symlink() or not folder.is_dir():
                continue
            # An import adds files to images/, which changes that folder's time, not its parent's.
            times = [q.lstat().st_mtime for q in (folder, folder / IMAGES_DIR) if q.is_dir() and not q.is_symlink()]
        except OSError:
            continue
        if now - max(times) > older_than:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def remove_stale_temporaries_of(gallery: Path, names: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Delete what crashes left in and beside a gallery folder: stale temporaries of its index, of its
    PNGs (names a gallery writes, see `written_file`) and of its embedding cache, and stale staging
    folders; return their paths relative to the gallery folder.

    `names` are further PNG names (in images/) to count as the gallery's. Best effort; never follows links.
    """
    gallery = Path(gallery)
    removed = remove_stale_temporaries(gallery, {INDEX_NAME})
    removed += [f"{IMAGES_DIR}/{n}" for n in remove_stale_temporaries(
        gallery / IMAGES_DIR, lambda t: t in names or written_file(f"{IMAGES_DIR}/{t}"))]
    removed += [f"{CACHE_DIR}/{n}" for n in remove_stale_temporaries(
        gallery / CACHE_DIR, lambda t: t.endswith(".npz"))]  # the embedding cache (cache.py)
    return removed + [f"../{n}" for n in remove_stale_staging(gallery)]


def safe_relative(file: str, label: str) -> PurePosixPath:
    """Return a relative posix path that stays inside its folder, or raise GalleryError naming `label`.

    Paths too long for any file system (over `MAX_PATH_LENGTH`, or a part over `MAX_PART_LENGTH`) and
    paths that are not valid Unicode are refused too, with the path shortened in the message.
    """
    if not isinstance(file, str) or not file or "\\" in file or "\x00" in file:
        raise GalleryError(f"{label}: invalid file name {printable(repr(file))}")
    if len(file) > MAX_PATH_LENGTH or any(len(part) > MAX_PART_LENGTH for part in file.split("/")):
        raise GalleryError(f"{label}: the file name {printable(file, 60)} is too long for a reference "
                           f"({len(file):,} characters); the gallery index is damaged. Nothing was changed; "
                           f"restore the index from a copy or export.")
    if has_surrogates(file):
        raise GalleryError(f"{label}: the file name {printable(file)} is not valid Unicode; rename the file and "
                           f"its entry in the index")
    p = PurePosixPath(file)
    if p.is_absolute() or ".." in p.parts or re.match(r"^[A-Za-z]:", file) or p.parts[0] in ("", "."):
        raise GalleryError(f"{label}: the path {printable(file)} leaves the gallery folder; refusing it")
    return p


# --------------------------------------------------------------------------------------------- the index


class _IndexedReference(Protocol):
    file: str

    @property
    def key(self) -> str: ...


class _IndexedCharacter(Protocol):
    """What the index records of a character (store.Character; a Protocol so files.py never imports store.py)."""

    name: str
    references: Sequence[_IndexedReference]


def index_json(name: str, characters: Sequence[_IndexedCharacter]) -> str:
    """Return the index text of a gallery (format, version, name, characters with their files and digests)."""
    data = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "characters": [{"name": c.name, **_char_json(c.char),
                        "references": [_reference_json(r) for r in c.references]} for c in characters],
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _char_json(char: str | None) -> dict[str, str]:
    """Return the index fields of a known Unicode character (none when unknown)."""
    if char is None:
        return {}
    return {"char": char, "codepoint": f"U+{ord(char):04X}", "unicode_name": unicodedata.name(char, "")}


def _reference_json(ref) -> dict:
    entry = {"file": ref.file, "digest": ref.key}
    if ref.font is not None:
        entry["font"] = ref.font.as_json()
    return entry


def check_char(char, label: str) -> str:
    """Return `char` if it is one Unicode code point that can name a character, else raise GalleryError."""
    if not isinstance(char, str) or len(char) != 1 or unicodedata.category(char) in ("Cc", "Cs"):
        raise GalleryError(f"{label}: \"char\" must be one printable Unicode character, got {char!r}")
    return char


def _repaired(text, where: str, notes: list[str]):
    """Return `text` with lone surrogates replaced (noting it in `notes`); anything else unchanged."""
    if not isinstance(text, str) or not has_surrogates(text):
        return text
    fixed = repair_text(text)
    notes.append(f"{where}: the name {printable(text)} is not valid text (a lone surrogate); it is shown as "
                 f"{printable(fixed)} and saved so by the next edit. Rename it if that is not what it was.")
    return fixed


def _font_source(entry, label: str) -> FontSource:
    if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and len(entry[k]) <= MAX_NAME_LENGTH
                                              for k in ("name", "version", "file")):
        raise GalleryError(f"{label}: \"font\" must be {{\"name\", \"version\", \"file\"}} (text)")
    return FontSource(*(repair_text(entry[k]) for k in ("name", "version", "file")))


def parse_index(text: str | bytes, label: str, extras: dict | None = None
                ) -> tuple[str, list[tuple[str, list[tuple[str, str]]]]]:
    """Return (gallery name, [(character name, [(file, digest)])]) of an index, or raise GalleryError.

    Checks the format and version, the types, that names are unique and usable, and that every file
    stays inside the gallery folder. It does not look at the files themselves. When `extras` (a dict)
    is given, it receives the format-2 fields: ``extras["chars"]`` {character name: char} and
    ``extras["fonts"]`` {file: FontSource}, and ``extras["notes"]`` what was repaired: a name holding lone
    surrogates (no valid text; a hand-edited index) gets U+FFFD in their place, so that the gallery opens
    and the next edit writes a valid index.
    """
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GalleryError(f"{label} is not valid JSON ({exc}); the gallery index is damaged. "
                           f"Nothing was changed; restore it from a copy or export.") from exc
    except RecursionError:  # e.g. [[[[...]]]] 100,000 deep: no index nests more than a few levels
        raise GalleryError(f"{label} nests too deeply to be a gallery index; the gallery index is damaged. "
                           f"Nothing was changed; restore it from a copy or export.") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GalleryError(f"{label} is not a Glyphs gallery index (no \"format\": \"{FORMAT}\")")
    version = data.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise GalleryError(f"{label}: missing or invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise GalleryError(f"{label} was written by a newer Glyphs (gallery format {version}; this one reads "
                           f"up to {FORMAT_VERSION}); update Glyphs to open it")
    name, chars = data.get("name", ""), data.get("characters")
    if not isinstance(name, str) or not isinstance(chars, list):
        raise GalleryError(f"{label}: \"name\" must be text and \"characters\" a list")
    notes = extras.setdefault("notes", []) if extras is not None else []
    name = _repaired(name, f"{label}: the gallery name", notes)
    out, seen = [], set()
    for i, ch in enumerate(chars):
        where = f"{label}, character {i + 1}"
        if not isinstance(ch, dict) or not isinstance(ch.get("references"), list):
            raise GalleryError(f"{where}: expected {{\"name\": ..., \"references\": [...]}}")
        try:
            cname = check_name(_repaired(ch.get("name"), where, notes))
        except GalleryError as exc:
            raise GalleryError(f"{where}: {exc}") from None
        if cname in seen:
            raise GalleryError(f"{where}: the name {cname!r} appears twice")
        seen.add(cname)
        if extras is not None and "char" in ch:
            extras.setdefault("chars", {})[cname] = check_char(ch["char"], where)
        refs = []
        for ref in ch["references"]:
            if isinstance(ref, str):
                ref = {"file": ref}
            if not isinstance(ref, dict):
                raise GalleryError(f"{where}: a reference must be {{\"file\": ..., \"digest\": ...}}")
            file = str(safe_relative(ref.get("file"), where))
            digest = ref.get("digest", "")
            if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{0,64}", digest):
                raise GalleryError(f"{where}: invalid digest for {file}")
            if extras is not None and "font" in ref:
                extras.setdefault("fonts", {})[file] = _font_source(ref["font"], where)
            refs.append((file, digest))
        out.append((cname, refs))
    return name, out
