"""Reference embeddings cached beside a gallery: ``.embeddings/<model fingerprint>.npz``.

One file per model (the fingerprint hashes the config and every weight, so another model, or the same
one retrained, gets its own file and the old embeddings are never mixed in). Inside: ``keys``, the pixel
digests of the references (so an embedding belongs to pixels, not to a name or a file: renames, merges
and undo keep it), and ``embeddings`` (float32, one row per key). Loaded with ``allow_pickle=False``;
a file that is damaged, truncated or does not match the model is ignored (a warning) and rebuilt. Before
anything is read, every member's header is checked: its declared array may not be larger than the bytes
it holds (numpy writes members uncompressed), nor any member unpack to more than `MAX_MEMBER_BYTES`
when compressed, so a crafted file that decompresses to gigabytes costs nothing.
The files of the `KEEP_MODELS` most recently used models are kept; older ones are deleted.
A ``.embeddings`` that is a link (or not a folder) is not used at all: nothing is read, written or deleted
through it (the gallery still ranks; it recomputes).
"""

from __future__ import annotations

import math
import stat
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from .files import CACHE_DIR, MAX_FILE_BYTES

MAX_MEMBER_BYTES = MAX_FILE_BYTES  # a compressed member may unpack to this much (64 MiB, as zip imports)

CACHE_VERSION = 1
KEEP_MODELS = 3


def cache_path(gallery_path: Path, fingerprint: str) -> Path:
    """Return the cache file of a gallery folder for the model with `fingerprint`."""
    return Path(gallery_path) / CACHE_DIR / f"{fingerprint}.npz"


def usable_folder(folder: Path) -> bool:
    """Return True when the cache folder may be used: missing (it will be made) or a real folder, not a link."""
    try:
        st = folder.lstat()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode)


def _unsafe(path: Path) -> str | None:
    """Return why the cache file at `path` must not be used (a link, in a linked folder...), or None."""
    if not usable_folder(path.parent):
        return f"{path.parent} is a link or not a folder; the embedding cache is not used through it"
    try:
        st = path.lstat()
    except OSError:
        return "missing"
    return None if stat.S_ISREG(st.st_mode) else f"{path} is a link or not a file; it is not used"


def check_members(path: Path) -> None:
    """Raise ValueError unless every member of the .npz at `path` is an array whose declared size fits the
    bytes stored for it (or, compressed, `MAX_MEMBER_BYTES`), checked from the headers alone."""
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            stored = info.compress_type == zipfile.ZIP_STORED
            limit = min(info.file_size, info.compress_size) if stored else MAX_MEMBER_BYTES
            if info.file_size > limit:
                raise ValueError(f"the member {info.filename!r} unpacks to {info.file_size:,} bytes")
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            if dtype.hasobject:
                raise ValueError(f"the member {info.filename!r} holds Python objects")
            declared = math.prod(int(n) for n in shape) * dtype.itemsize  # Python ints: no overflow
            if declared > limit:
                raise ValueError(f"the member {info.filename!r} declares {declared:,} bytes but holds "
                                 f"{info.file_size:,}")


def read_embeddings(path: Path, fingerprint: str, dim: int) -> tuple[list[str], np.ndarray]:
    """Return (keys, embeddings (n, dim) float32) cached at `path`; empty when missing, damaged or foreign."""
    empty: tuple[list[str], np.ndarray] = ([], np.zeros((0, dim), np.float32))
    why = _unsafe(path)
    if why == "missing":
        return empty
    if why is not None:
        warnings.warn(f"Ignoring the embedding cache: {why}", stacklevel=2)
        return empty
    try:
        check_members(path)
        with np.load(path, allow_pickle=False) as z:
            version, fp = int(z["version"]), str(z["fingerprint"])
            keys, emb = z["keys"], z["embeddings"]
        ok = (version == CACHE_VERSION and fp == fingerprint and keys.ndim == 1 and keys.dtype.kind == "U"
              and emb.dtype == np.float32 and emb.shape == (len(keys), dim) and bool(np.isfinite(emb).all()))
        if not ok:
            raise ValueError("it does not match this model")
        return [str(k) for k in keys], emb
    except Exception as exc:  # any damage at all means: recompute, never trust
        warnings.warn(f"Ignoring the embedding cache {path} ({exc}); it will be rebuilt", stacklevel=2)
        return empty


def write_embeddings(path: Path, fingerprint: str, keys: list[str], embeddings: np.ndarray) -> bool:
    """Write the cache atomically and prune other models' old files; return False (warning) if it failed
    or the cache folder is a link (nothing is written through one)."""
    if not usable_folder(path.parent):
        warnings.warn(f"Not writing the embedding cache: {path.parent} is a link or not a folder", stacklevel=2)
        return False
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, version=np.asarray(CACHE_VERSION), fingerprint=np.asarray(fingerprint),
                     keys=np.asarray(keys, dtype="U64"), embeddings=np.ascontiguousarray(embeddings, np.float32))
    except OSError as exc:  # a read-only gallery still works, it just recomputes next time
        warnings.warn(f"Could not write the embedding cache {path}: {exc}", stacklevel=2)
        return False
    _prune(path.parent)
    return True


def _prune(folder: Path) -> None:
    """Delete the cache files of all but the `KEEP_MODELS` most recent models: plain files only, never
    through a link (a linked folder, or a link named like a cache file)."""
    if not usable_folder(folder) or not folder.is_dir():
        return
    files = []
    for p in folder.glob("*.npz"):
        try:
            st = p.lstat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            files.append((st.st_mtime_ns, p))
    for _, old in sorted(files, reverse=True)[KEEP_MODELS:]:
        old.unlink(missing_ok=True)
