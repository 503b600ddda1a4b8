"""Noticing that a gallery shown in the app was changed by another program (another window, the command line).

`GalleryWatch` polls the open gallery's `changed_on_disk()` (one stat of its index while nothing changed) on
the UI thread and emits `disk_changed(gallery)` once per change. What to do is the owner's choice: the
session reloads the gallery (`Gallery.reload()`) in its serial task queue, where edits also run, so a
reload never races an edit. Edits themselves are safe either way: each applies itself to the newest index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

if TYPE_CHECKING:
    from engine.gallery import Gallery

POLL_MS = 1500
_NOTHING = object()  # no change reported yet


class GalleryWatch(QObject):
    """Polls one gallery at a time for changes made by other writers; emits `disk_changed(gallery)`."""

    disk_changed = Signal(object)  # the Gallery whose folder changed; emitted once until it is reloaded

    def __init__(self, interval_ms: int = POLL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._gallery: Gallery | None = None
        self._reported: object = _NOTHING  # the disk token already reported (None: index gone), said once
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)

    def watch(self, gallery: Gallery | None) -> None:
        """Watch `gallery` (a Gallery, or None to stop); in-memory galleries have nothing to watch."""
        self._gallery, self._reported = gallery, _NOTHING
        if gallery is not None and getattr(gallery, "path", None) is not None:
            self._timer.start()
        else:
            self._timer.stop()

    @property
    def is_polling(self) -> bool:
        """Return True while a gallery on disk is being polled (False with none, or an in-memory one)."""
        return self._timer.isActive()

    @property
    def gallery(self) -> Gallery | None:
        """Return the gallery being watched (None when none)."""
        return self._gallery

    def check(self) -> bool:
        """Check now; return True (and emit `disk_changed`) when the gallery changed on disk since it was read."""
        g = self._gallery
        if g is None or not g.changed_on_disk():
            return False
        token = g.current_disk_token()
        if token == self._reported:
            return False  # already said; waiting for the owner to reload
        self._reported = token
        self.disk_changed.emit(g)
        return True
