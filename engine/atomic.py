"""Atomic file writes: write beside the target, fsync, then rename over it.

A crash at any moment leaves either the old file or the new one, never a half-written file. What a crash
(kill -9, power loss) can leave is the temporary beside the target, named ``.TARGET.XXXXXXXX.tmp`` (8 of
tempfile's random characters): `stale_temporaries` / `remove_stale_temporaries` find those of given targets
once they are older than `STALE_AFTER_S`, so no live writer (another process saving right now) loses one.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

# A temporary untouched for this long has no writer left: writes take seconds (a checkpoint, a gallery index).
STALE_AFTER_S = 15 * 60
_TEMP_PREFIX, _TEMP_SUFFIX = ".", ".tmp"
_TEMP_NAME = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp")  # tempfile's names: 8 of [a-z0-9_]


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` atomically.

    On any exception the temporary file is removed and `target` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{_TEMP_PREFIX}{target.name}.", suffix=_TEMP_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes owner-only files; keep the target's mode, or give a new file the usual 0644.
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        _fsync_file(tmp)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `target` atomically; return the target path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text_atomic(target: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 `text` to `target` atomically; return the target path."""
    return write_bytes_atomic(target, text.encode("utf-8"))


def write_with_atomic(target: str | os.PathLike, writer: Callable[[Path], None]) -> Path:
    """Call `writer(tmp_path)` and move the result over `target` atomically; return the target."""
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    # Directory fsync makes the rename durable on POSIX; Windows cannot open directories.
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_target(name: str) -> str | None:
    """Return the file name an atomic-write temporary called `name` was to replace, or None if it is not one."""
    m = _TEMP_NAME.fullmatch(name)
    return m.group("target") if m else None


def is_stale(path: Path, older_than: float = STALE_AFTER_S, now: float | None = None) -> bool:
    """Return True when `path` (not followed if a link) was last modified more than `older_than` seconds ago."""
    try:
        mtime = path.lstat().st_mtime
    except OSError:
        return False
    return (time.time() if now is None else now) - mtime > older_than


def stale_temporaries(folder: Path, belongs: Callable[[str], bool],
                      older_than: float = STALE_AFTER_S) -> list[Path]:
    """Return the stale atomic-write temporaries in `folder` whose target name `belongs` says is ours.

    Only regular files directly in `folder` count (links are never followed); a temporary modified within
    `older_than` seconds may be another process's write in progress and is left alone.
    """
    folder = Path(folder)
    try:
        if folder.is_symlink() or not folder.is_dir():
            return []
        entries = list(os.scandir(folder))
    except OSError:
        return []
    now = time.time()
    out = []
    for entry in entries:
        target = temporary_target(entry.name)
        if target is None or not belongs(target):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and now - st.st_mtime > older_than:
            out.append(Path(entry.path))
    return out


def remove_stale_temporaries(folder: Path, belongs: Callable[[str], bool] | Iterable[str],
                             older_than: float = STALE_AFTER_S) -> list[str]:
    """Delete what `stale_temporaries` finds (best effort: a read-only folder is left as it is); return the names.

    `belongs` is a test of the target name, or the target names themselves.
    """
    if not callable(belongs):
        names = frozenset(belongs)
        belongs = names.__contains__
    removed = []
    for path in stale_temporaries(folder, belongs, older_than):
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path.name)
    return removed
