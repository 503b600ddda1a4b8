"""Reference embeddings cached beside a gallery: ``.embeddings/<model fingerprint>.npz``.

One file per model (the fingerprint hashes the config and every weight, so another model, or the same
one retrained, gets its own file and the old embeddings are never mixed in). Inside: ``keys``, the pixel
digests of the references (so an embedding belongs to pixels, not to a name or a file: renames, merges
and undo keep it), and ``embeddings`` (float32, one row per key). Loaded with ``allow_pickle=False``;
a file that is damaged, truncated or does not match the model is ignored (a warning) and rebuilt.
The files of the `KEEP_MODELS` most recently used models are kept; older ones are deleted.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from .files import CACHE_DIR

CACHE_VERSION = 1
KEEP_MODELS = 3


def cache_path(gallery_path: Path, fingerprint: str) -> Path:
    """Return the cache file of a gallery folder for the model with `fingerprint`."""
    return Path(gallery_path) / CACHE_DIR / f"{fingerprint}.npz"


def read_embeddings(path: Path, fingerprint: str, dim: int) -> tuple[list[str], np.ndarray]:
    """Return (keys, embeddings (n, dim) float32) cached at `path`; empty when missing, damaged or foreign."""
    empty: tuple[list[str], np.ndarray] = ([], np.zeros((0, dim), np.float32))
    if not path.is_file():
        return empty
    try:
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
    """Write the cache atomically and prune other models' old files; return False (warning) if it failed."""
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
    files = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in files[KEEP_MODELS:]:
        old.unlink(missing_ok=True)
