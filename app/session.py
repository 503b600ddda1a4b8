"""The app's adapter to the engine's workspace (engine.workspace): each call runs on the serial task lane, one at a
time and in order, and its result comes back on the UI thread as a signal.

The workspace (model, gallery, recogniser, undo histories) is touched only by those serial tasks, so it needs no
locks; the UI keeps the immutable results (`GallerySnapshot`, `RankOutcome`, `ModelInfo`) the signals carry.
Imports that start from a source run on the parallel lane (they read no workspace state), then a serial task
makes the new gallery current.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QObject, Signal

from engine.gallery import Gallery
from engine.gallery.history import quoted
from engine.glyph import Glyph
from engine.workspace import Edited, GallerySnapshot, HistoryError, ModelInfo, RankOutcome, Source, Workspace

from .gallery_watch import GalleryWatch
from .symbol_search import SymbolSearch
from .workers import Task, TaskContext, TaskRunner, describe_error

if TYPE_CHECKING:
    from engine.fonts.faces import FontFace

T = TypeVar("T")


class EngineSession(QObject):
    """Runs the workspace's calls as tasks; each method queues one and returns the Task (its signals report the end)."""

    model_loading = Signal(str)
    model_changed = Signal(object)  # ModelInfo
    model_failed = Signal(str)
    gallery_changed = Signal(object)  # GallerySnapshot or None
    ranked = Signal(object)  # RankOutcome
    error = Signal(str)
    info = Signal(str)
    edited = Signal()  # after a gallery edit, undo or redo (the gallery is what was worked on last)
    search_progress = Signal(object)  # SearchState, after each step of a symbol search and at its end

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.workspace = Workspace()  # touched only inside serial tasks
        self.model_info: ModelInfo | None = None
        self.snapshot: GallerySnapshot | None = None
        self._rank_lock = threading.Lock()
        self._rank_request: tuple[int, Source] | None = None
        self._rank_queued = False
        self.gallery_changed.connect(self._remember_snapshot)
        self.model_changed.connect(self._remember_model)
        self.symbol_search = SymbolSearch(self)
        self.watch = GalleryWatch(parent=self)  # another window or the command line may change the gallery
        self.watch.disk_changed.connect(self._reload_gallery)

    def _remember_snapshot(self, snapshot: GallerySnapshot | None) -> None:
        self.snapshot = snapshot
        self.watch.watch(self.workspace.gallery)

    def _reload_gallery(self, _gallery: Gallery) -> Task:
        """Re-read the shown gallery after another program changed it (in the serial lane, after any edit)."""
        return self.task("Reloading the gallery", lambda ctx: self.workspace.reload_gallery(),
                          lambda edited: self._publish(edited) if edited is not None else None)

    def _remember_model(self, info: ModelInfo) -> None:
        if self.model_info is None:
            # Importing torch and loading the model leave hundreds of thousands of long-lived objects, which
            # every full garbage collection would walk on the UI thread (a 340 ms stall measured mid-drawing):
            # from now on the collector leaves them out.
            gc.freeze()
        self.model_info = info

    def task(self, title: str, fn: Callable[[TaskContext], T], on_done: Callable[[T], None] | None = None,
             what: str | None = None, serial: bool = True) -> Task:
        """Submit `fn`; route its result to `on_done` and its failure to `error` as "<what> failed: ..."."""
        task = self.runner.submit(fn, title, serial=serial)
        if on_done is not None:
            task.succeeded.connect(on_done)
        failure = what or title.rstrip("…. ")
        task.failed.connect(lambda exc: self.error.emit(self._failure_text(failure, exc)))
        return task

    @staticmethod
    def _failure_text(what: str, exc: BaseException) -> str:
        # A history step's refusal is already a whole sentence saying that nothing changed.
        return str(exc) if isinstance(exc, HistoryError) else f"{what} failed: {describe_error(exc)}"

    # ---------------------------------------------------------------- model

    def load_model(self, path: str | Path | None = None, device: str = "auto") -> Task:
        """Load weights (None = the shipped model) and rebuild the recogniser; reports model_changed/failed."""
        self.model_loading.emit("Loading model…")
        task = self.runner.submit(lambda ctx: self.workspace.load_model(path, device, ctx.progress, ctx.cancel),
                                  "Loading model")
        task.succeeded.connect(self.model_changed.emit)
        which = f"the model {path}" if path else "the shipped model"
        task.failed.connect(lambda exc: self.model_failed.emit(
            f"Could not load {which}: {describe_error(exc)} Pick another weights file with File > Open model…."))
        # The snapshot is republished so that what shows the gallery re-ranks with the new model.
        task.succeeded.connect(lambda _info: self.gallery_changed.emit(self.snapshot) if self.snapshot else None)
        task.succeeded.connect(lambda _info: self.runner.submit(lambda _ctx: self.workspace.warm_up(),
                                                                "Warming up the model", serial=True))
        return task

    def set_query_views(self, on: bool) -> Task:
        """Rank each drawing with distorted copies of it too, or as the model card says (from the next ranking)."""
        return self.task("Changing query views", lambda _ctx: self.workspace.set_query_views(on))

    # ---------------------------------------------------------------- galleries

    def open_gallery(self, path: str | Path) -> Task:
        """Open the gallery folder `path` and make it current; reports gallery_changed."""
        return self.task(f"Opening gallery {Path(path).name}",
                          lambda ctx: self.workspace.open_gallery(path, ctx.progress, ctx.cancel),
                          self.gallery_changed.emit, f"Opening the gallery {path}")

    def create_gallery(self, name: str, path: str | Path | None = None, known: Sequence[Path] = ()) -> Task:
        """Create an empty gallery (in the user data folder unless `path`, named uniquely there) and open it."""
        return self.task(f"Creating gallery {name}",
                          lambda ctx: self.workspace.create_gallery(name, path, known, ctx.progress, ctx.cancel),
                          self.gallery_changed.emit, "Creating the gallery")

    def import_gallery(self, source: str | Path, name: str | None = None, known: Sequence[Path] = ()) -> Task:
        """Import a folder or zip as a new gallery in the user data folder (in parallel), then make it current;
        confirms with an info message once open."""
        source = Path(source)
        return self.task(f"Importing {name or source.stem}",
                          lambda ctx: Workspace.import_gallery(source, name, known, ctx.progress, ctx.cancel),
                          self._adopt_later, f"Importing {source.name}", serial=False)

    def import_omniglot(self, alphabet: str, data_dir: str | Path | None = None, known: Sequence[Path] = ()) -> Task:
        """Make a gallery of one Omniglot evaluation alphabet (one reference per character) and open it."""
        return self.task(f"Loading the {alphabet} alphabet",
                          lambda ctx: Workspace.import_omniglot(alphabet, data_dir, known, ctx.progress, ctx.cancel),
                          self._adopt_later, f"Loading the Omniglot alphabet {alphabet}", serial=False)

    def gallery_names(self, folders: Sequence[Path]) -> Task:
        """Read the shown names of gallery folders in a task; it succeeds with {folder: name}."""
        from engine.workspace import gallery_names

        folders = [Path(f) for f in folders]
        return self.runner.submit(lambda _ctx: gallery_names(folders), "Reading gallery names", serial=False)

    def _adopt_later(self, gallery: Gallery) -> None:
        self.task(f"Opening {gallery.name}", lambda ctx: self.workspace.adopt_import(gallery, ctx.progress, ctx.cancel),
                   self._publish, "Opening the imported gallery")

    def export(self, dest: str | Path, as_zip: bool) -> Task:
        """Export the current gallery to a folder or zip; info message names the result."""
        return self.task("Exporting the gallery", lambda _ctx: self.workspace.export(dest, as_zip),
                          lambda p: self.info.emit(f"Exported to {p}."))

    # ---------------------------------------------------------------- gallery edits

    def _edit(self, title: str, edit: Callable[..., Edited], *args: object, what: str | None = None) -> Task:
        """Run the workspace edit `edit(*args)` with the task's progress and cancel; publish the new snapshot, its
        message and `edited`."""
        return self.task(title, lambda ctx: edit(*args, progress=ctx.progress, cancel=ctx.cancel),
                          self._publish_edit, what)

    def _publish(self, edited: Edited) -> None:
        self.gallery_changed.emit(edited.snapshot)
        if edited.message:
            self.info.emit(edited.message)

    def _publish_edit(self, edited: Edited) -> None:
        self._publish(edited)
        self.edited.emit()

    def undo(self) -> Task:
        """Undo the last change of the open gallery (a step that cannot apply says why and changes nothing)."""
        return self._edit("Undo", self.workspace.undo)

    def redo(self) -> Task:
        """Redo the last undone change of the open gallery (likewise)."""
        return self._edit("Redo", self.workspace.redo)

    def add_character(self, name: str, glyph: Glyph) -> Task:
        """Enrol `glyph` as a new character called `name` (undoable)."""
        return self._edit(f"Adding {name}", self.workspace.add_character, name, glyph,
                          what=f"Adding the character {quoted(name)}")

    def add_reference(self, name: str, glyph: Glyph) -> Task:
        """Add `glyph` as another example of the character `name` (undoable)."""
        return self._edit(f"Adding an example of {name}", self.workspace.add_reference, name, glyph,
                          what=f"Adding an example of {quoted(name)}")

    def remove_reference(self, name: str, index: int) -> Task:
        """Remove reference `index` of character `name` (undoable)."""
        return self._edit(f"Removing an example of {name}", self.workspace.remove_reference, name, index,
                          what=f"Removing an example of {quoted(name)}")

    def rename(self, old: str, new: str) -> Task:
        """Rename a character (undoable)."""
        return self._edit(f"Renaming {old}", self.workspace.rename, old, new, what=f"Renaming {quoted(old)}")

    def delete(self, names: Sequence[str]) -> Task:
        """Delete characters, as one undoable step ("Delete 5 characters")."""
        return self._edit("Deleting", self.workspace.delete, list(names))

    def merge(self, names: Sequence[str], into: str) -> Task:
        """Merge characters `names` into the character `into` (undoable)."""
        return self._edit(f"Merging into {into}", self.workspace.merge, list(names), into, what="Merging characters")

    def add_images(self, paths: Sequence[str | Path]) -> Task:
        """Add image files (each a new character named after the file, or a new example), as one undoable step."""
        return self._edit("Adding images", self.workspace.add_images, list(paths))

    # ---------------------------------------------------------------- symbol search

    def search_font(self, face: FontFace, name: str, dest: str | Path) -> Task:
        """Start a symbol search of every character of `face` (app/symbol_search.py), saved as the gallery `name`
        at `dest` and opened once complete; `search_progress` says where it stands."""
        return self.symbol_search.start(face, name, Path(dest))

    def cancel_search(self) -> None:
        """Stop the symbol search being built (what is embedded stays cached for the next search of the font)."""
        self.symbol_search.cancel()

    # ---------------------------------------------------------------- recognition

    def rank(self, request_id: int, source: Source) -> None:
        """Rank `source` (strokes in the canvas's units, or a Glyph); emits `ranked` with `request_id`.

        Only the latest request matters: while one is queued, newer requests replace it.
        """
        with self._rank_lock:
            self._rank_request = (request_id, source)
            if self._rank_queued:
                return
            self._rank_queued = True
        self.task("Recognising", self._rank_job, self.ranked.emit, "Recognition")

    def _rank_job(self, _ctx: TaskContext) -> RankOutcome:
        with self._rank_lock:
            request, self._rank_request = self._rank_request, None
            self._rank_queued = False
        request_id, source = request if request is not None else (-1, None)
        return self.workspace.rank(source, request_id)
