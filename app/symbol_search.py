"""A symbol search run from the app: the workspace's search (engine.workspace, engine.fonts.search) driven one
serial step at a time, so that drawings are ranked against the part of the font that is ready between steps.

Each step is a task on the session's serial lane (where rankings run too); after the last one the search is saved
as a gallery in a parallel task (writing thousands of images takes seconds) and then opened. Where it stands
goes out as `EngineSession.search_progress` (a `SearchState`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from engine.gallery.history import quoted
from engine.workspace import GallerySnapshot, SearchState, Workspace

from .workers import TaskContext, describe_error

if TYPE_CHECKING:
    from engine.fonts.faces import FontFace

    from .session import EngineSession
    from .workers import Task


class SymbolSearch(QObject):
    """Starts, steps, saves and ends the session's symbol search."""

    def __init__(self, session: EngineSession) -> None:
        super().__init__(session)
        self.session = session
        self._cancel = threading.Event()

    def start(self, face: FontFace, name: str, dest: Path) -> Task:
        """Start searching every character of `face`; once complete it is saved as the gallery `name` at `dest`."""
        self._cancel = cancel = threading.Event()

        def started(state: SearchState) -> None:
            self.session.gallery_changed.emit(None)  # the old gallery is no longer what drawings rank against
            self._stepped(state, name, dest, cancel)

        return self.session.task(f"Symbol search of {face.full_name}",
                                 lambda _ctx: self.session.workspace.start_search(face), started, "The symbol search")

    def cancel(self) -> None:
        """Stop the search being built (what is embedded stays cached for the next search of the font)."""
        self._cancel.set()

    def _stepped(self, state: SearchState, name: str, dest: Path, cancel: threading.Event) -> None:
        session, workspace = self.session, self.session.workspace
        session.search_progress.emit(state)  # the open drawing re-ranks against the larger part first
        if state.ready < state.total:
            def step(ctx: TaskContext) -> SearchState:
                done = workspace.search_step(cancel)
                ctx.progress(done.ready, done.total, f"Embedding {done.name}…")
                return done

            task = session.task(f"Symbol search of {state.name}", step,
                                lambda s: self._stepped(s, name, dest, cancel), "The symbol search")
        else:
            search = workspace.search  # complete: from now on only read
            assert search is not None
            task = session.task(f"Saving {name}", lambda _ctx: Workspace.save_search(search, dest, name, cancel),
                                lambda g: session.task(f"Opening {g.name}",
                                                       lambda _ctx: workspace.open_search_gallery(search, g),
                                                       lambda snap: self._opened(snap, state.name)),
                                "Saving the symbol search", serial=False)
        task.cancelled.connect(lambda: self._ended(state.name, "cancelled"))
        task.failed.connect(lambda exc: self._ended(state.name, describe_error(exc)))

    def _opened(self, snapshot: GallerySnapshot | None, label: str) -> None:
        if snapshot is None:
            return  # another search or gallery took its place meanwhile: the saved gallery stays on disk
        self.session.gallery_changed.emit(snapshot)
        n = len(snapshot.characters)
        self.session.search_progress.emit(SearchState(label, n, n, True, f"Symbol search ready: {n:,} characters "
                                                                         f"of {label} in {quoted(snapshot.name)}."))

    def _ended(self, label: str, why: str) -> None:
        self.session.task("Ending the symbol search", lambda _ctx: self.session.workspace.end_search())
        text = (f"Symbol search of {label} stopped; what was embedded is kept, so searching this font again starts "
                f"there." if why == "cancelled" else f"The symbol search of {label} failed: {why}")
        self.session.search_progress.emit(SearchState(label, 0, 0, True, text))
