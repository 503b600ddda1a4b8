"""Reading Omniglot's official layout (archive or folder) into a compact, cached in-memory array.

Layout: `images_<set>/ALPHABET/characterNN/IIII_DD.png`, IIII the global character id, DD the drawer (01-20),
each a 105x105 1-bit PNG with black ink on white.

What is skipped and what is an error:
- skipped with a warning: files that are not `.png` (e.g. `.DS_Store`, `Thumbs.db`), PNGs whose name does not
  follow `IIII_DD.png`, and files outside the `ALPHABET/characterNN/` depth. Skipping them is safe: they are not
  part of the dataset.
- errors (DataError naming the file): a PNG that cannot be decoded, an image that is not 105x105, an archive
  that is truncated or not a zip, a set with no images at all. These mean the copy is damaged, and silently
  training on part of it would mislead.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, remove_stale_temporaries
from ..glyph import GlyphError, ImageSizeError, read_gray
from ..paths import user_cache_dir
from ..units import GLYPH_SIZE
from .locate import SET_NAMES, find_sources

IMAGE_SIZE = GLYPH_SIZE  # every Omniglot image is one glyph
CACHE_VERSION = 1
_NAME_RE = re.compile(r"^(\d+)_(\d+)\.png$", re.IGNORECASE)


class DataError(ValueError):
    """The Omniglot copy is damaged or not in the official layout; the message names the file."""


@dataclass
class OmniglotSet:
    """One Omniglot set (background or evaluation) held as bit-packed arrays.

    images: (N, 105, 14) uint8, bit-packed rows, 1 = ink. char: (N,) index into the characters.
    drawer: (N,) drawer number. char_alphabet: (C,) index into `alphabets`. char_names: (C,) e.g. "character07".
    """

    name: str
    images: np.ndarray
    char: np.ndarray
    drawer: np.ndarray
    char_alphabet: np.ndarray
    char_names: list[str]
    alphabets: list[str]

    def __len__(self) -> int:
        return len(self.char)

    @property
    def n_characters(self) -> int:
        return len(self.char_names)

    def pixels(self, index: np.ndarray | slice | None = None) -> np.ndarray:
        """Return unpacked images (n, 105, 105) uint8 with 1 = ink, for `index` (all when None)."""
        packed = self.images if index is None else self.images[index]
        return np.unpackbits(packed, axis=-1, count=IMAGE_SIZE)

    def character_label(self, c: int) -> str:
        """Return 'Alphabet/characterNN' for character index `c`."""
        return f"{self.alphabets[self.char_alphabet[c]]}/{self.char_names[c]}"

    def alphabet_characters(self, alphabet: int) -> np.ndarray:
        """Return the character indices of one alphabet."""
        return np.flatnonzero(self.char_alphabet == alphabet)

    def summary(self) -> str:
        """Return e.g. 'background: 30 alphabets, 964 characters, 19280 images'."""
        return f"{self.name}: {len(self.alphabets)} alphabets, {self.n_characters} characters, {len(self)} images"


@dataclass
class Omniglot:
    """Both sets. `evaluation` is only for one-shot testing, never for training or model selection."""

    background: OmniglotSet
    evaluation: OmniglotSet | None


def load_omniglot(data_dir=None, cache: bool = True, with_evaluation: bool = True) -> Omniglot:
    """Return the background set and, when asked, the evaluation set, from archives or folders (cached)."""
    sets = SET_NAMES if with_evaluation else ("background",)
    sources = find_sources(data_dir, sets)
    bg = load_set(sources["background"], "background", cache=cache)
    ev = load_set(sources["evaluation"], "evaluation", cache=cache) if with_evaluation else None
    return Omniglot(bg, ev)


def load_set(source: Path, name: str, cache: bool = True) -> OmniglotSet:
    """Return one set read from a zip or a folder, through the decoded-array cache when `cache` is set."""
    source = Path(source)
    if not cache:
        return _decode(source, name)
    key = _source_key(source)
    cache_file = user_cache_dir() / "omniglot" / f"{name}-{key}.npz"
    # What a write cut short by a crash left behind (tens of MB each); a write in progress is too recent to go.
    remove_stale_temporaries(cache_file.parent, _is_cache_name)
    if cache_file.is_file():
        try:
            return _read_cache(cache_file, name)
        except Exception:  # a damaged cache is rebuilt, never trusted
            if not (cache_file.is_symlink() or cache_file.parent.is_symlink()):  # nothing deleted through a link
                cache_file.unlink(missing_ok=True)
    data = _decode(source, name)
    try:
        _write_cache(cache_file, data)
    except OSError as exc:
        warnings.warn(f"Could not write the Omniglot cache {cache_file}: {exc}", stacklevel=2)
    return data


def _is_cache_name(name: str) -> bool:
    """Return True for the name of a decoded-array cache file (`load_set`)."""
    return name.endswith(".npz") and name.split("-", 1)[0] in SET_NAMES


def _source_key(source: Path) -> str:
    """A fingerprint of the source that changes when any file in it changes (path, sizes, mtimes)."""
    h = hashlib.sha1(f"v{CACHE_VERSION}:{source.resolve()}".encode())
    if source.is_file():
        st = source.stat()
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    else:
        for path in sorted(source.rglob("*")):
            st = path.stat()
            h.update(f"{path.relative_to(source)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def _iter_files(source: Path) -> Iterator[tuple[str, bytes | Path]]:
    """Yield (relative path inside the set, data or path) for each file of a zip or a folder."""
    if source.is_dir():
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            yield path.relative_to(source).as_posix(), path
        return
    try:
        with zipfile.ZipFile(source) as zf:
            for info in sorted(zf.infolist(), key=lambda i: i.filename):
                if info.is_dir():
                    continue
                yield info.filename, zf.read(info)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, zlib.error) as exc:  # zlib: damaged member
        raise DataError(f"{source} is not a readable zip archive ({exc}); it may be truncated: download it again.") from exc


def _decode(source: Path, name: str) -> OmniglotSet:
    records: dict[tuple[str, str], list[tuple[int, np.ndarray]]] = {}
    skipped: list[str] = []
    for rel, payload in _iter_files(source):
        parts = rel.split("/")
        if parts and parts[0] == f"images_{name}":  # archives hold the set folder itself
            parts = parts[1:]
        match = _NAME_RE.match(parts[-1]) if parts else None
        if len(parts) != 3 or match is None:
            skipped.append(rel)
            continue
        image = _decode_png(payload, f"{source}:{rel}" if isinstance(payload, bytes) else str(payload))
        records.setdefault((parts[0], parts[1]), []).append((int(match.group(2)), image))
    if skipped:
        warnings.warn(f"Skipped {len(skipped)} file(s) that are not Omniglot images in {source}, e.g. {skipped[0]}",
                      stacklevel=3)
    if not records:
        raise DataError(f"No Omniglot images (ALPHABET/characterNN/IIII_DD.png) found in {source}.")
    return _assemble(name, records)


def _decode_png(payload: bytes | Path, label: str) -> np.ndarray:
    try:
        gray = read_gray(payload, label, size=(IMAGE_SIZE, IMAGE_SIZE))
    except ImageSizeError as exc:
        raise DataError(f"Image {label} is {exc.size[0]}x{exc.size[1]}, expected {IMAGE_SIZE}x{IMAGE_SIZE}.") from None
    except GlyphError as exc:
        raise DataError(f"Cannot decode image {label}: {exc}") from exc
    return np.packbits(gray < 128, axis=-1)  # ink is dark


def _assemble(name: str, records: dict[tuple[str, str], list[tuple[int, np.ndarray]]]) -> OmniglotSet:
    alphabets = sorted({a for a, _ in records})
    alpha_index = {a: i for i, a in enumerate(alphabets)}
    images, chars, drawers, char_alphabet, char_names = [], [], [], [], []
    for c, (alphabet, character) in enumerate(sorted(records)):
        char_alphabet.append(alpha_index[alphabet])
        char_names.append(character)
        for drawer, image in sorted(records[(alphabet, character)], key=lambda r: r[0]):
            images.append(image)
            chars.append(c)
            drawers.append(drawer)
    return OmniglotSet(
        name=name,
        images=np.stack(images),
        char=np.asarray(chars, dtype=np.int32),
        drawer=np.asarray(drawers, dtype=np.int16),
        char_alphabet=np.asarray(char_alphabet, dtype=np.int32),
        char_names=char_names,
        alphabets=alphabets,
    )


def _write_cache(path: Path, data: OmniglotSet) -> None:
    meta = json.dumps({"char_names": data.char_names, "alphabets": data.alphabets})
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, images=data.images, char=data.char, drawer=data.drawer, char_alphabet=data.char_alphabet,
                 meta=np.frombuffer(meta.encode("utf-8"), dtype=np.uint8))


def _read_cache(path: Path, name: str) -> OmniglotSet:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes().decode("utf-8"))
        return OmniglotSet(name=name, images=z["images"], char=z["char"], drawer=z["drawer"],
                           char_alphabet=z["char_alphabet"], char_names=meta["char_names"],
                           alphabets=meta["alphabets"])
