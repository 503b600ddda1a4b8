"""An advisory lock on a folder, held by one writer at a time across processes and threads.

The lock is a file (kept, never deleted: deleting lock files lets two writers hold "the" lock on two
different files) locked with ``flock`` on POSIX or ``msvcrt.locking`` on Windows. The operating system
releases it when the holder exits, even by kill -9, so a crash never leaves a folder locked. Where the
platform has neither, or the folder cannot hold a lock file (read-only), `FolderLock` says so with
`LockUnavailable` and the caller decides (an edit of a read-only folder fails anyway, with its own message).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
try:  # Windows
    import msvcrt
except ImportError:
    msvcrt = None

POLL_S = 0.02


class LockTimeout(TimeoutError):
    """Another writer held the lock for longer than the caller would wait."""


class LockUnavailable(OSError):
    """The lock file cannot be created or locked here (read-only folder, no locking on this platform)."""


class FolderLock:
    """A reentrant exclusive lock on `path` (the lock file), shared by the threads of one object.

    ``with lock.held(timeout):`` waits up to `timeout` seconds (raises LockTimeout), then holds the lock
    until the outermost ``with`` ends. Nested ``held`` calls in the holding thread return at once.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextlib.contextmanager
    def held(self, timeout: float) -> Iterator[None]:
        """Hold the lock for the body of the ``with`` (see the class docstring)."""
        deadline = time.monotonic() + timeout
        if not self._thread_lock.acquire(timeout=max(timeout, 0.0)):
            raise LockTimeout(f"{self.path} is held by another thread")
        try:
            if self._depth == 0:
                self._fd = _acquire(self.path, deadline)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fd, self._fd = self._fd, None
                    _release(fd)
        finally:
            self._thread_lock.release()

    @property
    def is_held(self) -> bool:
        """Return True while this object holds the lock (in any of its threads)."""
        return self._depth > 0


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError:
        if not path.is_file():
            raise LockUnavailable(f"{path}: cannot create the lock file (the folder is read-only)") from None
        try:
            return os.open(path, os.O_RDONLY)  # flock works on a read-only descriptor too
        except OSError as exc:
            raise LockUnavailable(f"{path}: cannot open the lock file ({exc.strerror})") from None
    except OSError as exc:
        raise LockUnavailable(f"{path}: cannot create the lock file ({exc.strerror})") from None


def _acquire(path: Path, deadline: float) -> int:
    if fcntl is None and msvcrt is None:  # pragma: no cover - no known platform
        raise LockUnavailable(f"{path}: this platform offers no file locking")
    fd = _open(path)
    try:
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise LockTimeout(f"{path} is held by another program")
            time.sleep(POLL_S)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows: lock the first byte (the file may be empty)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except (BlockingIOError, PermissionError):
        return False
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK):
            return False
        raise LockUnavailable(f"cannot lock ({exc.strerror})") from exc


def _release(fd: int | None) -> None:
    if fd is None:
        return
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        else:  # pragma: no cover - Windows
            with contextlib.suppress(OSError):
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    finally:
        os.close(fd)


__all__ = ["FolderLock", "LockTimeout", "LockUnavailable"]
