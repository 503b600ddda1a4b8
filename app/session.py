"""The app's bridge to the engine: the loaded model, the open gallery and the recogniser, driven by tasks.

The engine objects are created and touched only inside *serial* tasks (one at a time, in order), so they need
no locks; the UI sees immutable snapshots (`GallerySnapshot`, `RankOutcome`, `ModelInfo`) sent by signals.
Engine modules are imported inside the tasks: importing torch takes seconds and must not delay the window.
"""

from __future__ import annotations

import gc
import os
import re
import threading
from contextlib import contextmanager
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.cancel import Cancelled
from engine.units import OMNIGLOT_STROKE_AREA

from .gallery_history import (AddExamples, DeleteCharacters, Histories, HistoryError, HistoryState,
                              MergeCharacters, RemoveExample, RenameCharacter, Step, quoted)
from .workers import Task, TaskContext, TaskRunner, describe_error  # noqa: F401 - describe_error for the tabs

AREA = OMNIGLOT_STROKE_AREA  # the canvas stores strokes in glyph units, like Omniglot's stroke files
TOP_K = 5
# Torch threads for ranking one drawing. One forward pass of a small network gains little from more, and on a
# small or busy machine more threads than free cores wait on each other (measured on 2 shared cores: 35 ms with
# one thread, 200-700 ms with two) and take the core the UI needs while the person draws.
RANK_THREADS = max(1, min(4, (os.cpu_count() or 2) // 4))
# Characters a symbol search embeds per serial step: a drawing waits at most one step (~0.5 s on 2 cores) for its
# ranking while the search builds.
SEARCH_STEP = 64


# ------------------------------------------------------------------------------------------------ snapshots


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Return glyph pixels (float, 1 = ink) as a compact uint8 copy (255 = ink)."""
    return np.ascontiguousarray(np.clip(np.asarray(pixels, np.float32), 0, 1) * 255).astype(np.uint8)


@dataclass(frozen=True)
class CharacterView:
    """One character as the UI shows it: its name and its references' pixels (uint8, 255 = ink)."""

    name: str
    references: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class GallerySnapshot:
    """An immutable copy of the open gallery for the UI, with what its Undo / Redo would do."""

    path: Path
    name: str
    characters: tuple[CharacterView, ...]
    suggested_name: str
    history: HistoryState = HistoryState()

    @property
    def n_references(self) -> int:
        """Return the number of references over all characters."""
        return sum(len(c.references) for c in self.characters)

    def character(self, name: str) -> CharacterView | None:
        """Return the character called `name`, or None."""
        return next((c for c in self.characters if c.name == name), None)

    def names(self) -> list[str]:
        """Return the character names in gallery order."""
        return [c.name for c in self.characters]


@dataclass(frozen=True)
class MatchView:
    """One ranked character: name, score in [0, 1], index of its best reference and that reference's pixels;
    `char` is the Unicode character it is when the gallery knows it (e.g. enrolled from a font), else None."""

    name: str
    score: float
    reference: int
    thumbnail: np.ndarray | None
    char: str | None = None


@dataclass(frozen=True)
class RankOutcome:
    """What the recogniser made of one drawing.

    `state` is one of "empty-canvas", "no-model", "no-gallery", "empty-gallery", "ranked". `glyph` is the
    105x105 glyph the model saw (None when nothing was drawn).
    """

    request_id: int
    state: str
    glyph: Any = None
    no_confident_match: bool = False
    matches: tuple[MatchView, ...] = ()
    coverage: tuple[int, int] | None = None  # (ready, total) while a symbol search builds: ranked against part


@dataclass(frozen=True)
class SearchState:
    """Where a symbol search stands: `ready` of `total` characters of the font `name` are ranked against;
    `finished` once it ended (`message` then says how: opened, cancelled or failed)."""

    name: str
    ready: int
    total: int
    finished: bool = False
    message: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """The model in use: its name, weights path, device label and the devices one can switch to."""

    name: str
    path: Path | None
    device: str
    device_label: str
    devices: tuple[tuple[str, str], ...] = field(default=())


# ---------------------------------------------------------------------------------------------- helpers


def galleries_dir() -> Path:
    """Return the folder where the app keeps galleries it creates (in the user data folder)."""
    from engine.paths import user_data_dir

    return user_data_dir() / "galleries"


def unique_folder(parent: Path, name: str) -> Path:
    """Return a not-yet-existing folder in `parent` named after `name` (made file-system safe)."""
    slug = re.sub(r"[^\w\-. ]+", "_", name).strip(" .") or "gallery"
    candidate = parent / slug
    n = 2
    while candidate.exists():
        candidate = parent / f"{slug} ({n})"
        n += 1
    return candidate


def unique_name(name: str, taken: set[str]) -> str:
    """Return `name`, or "name (2)", "name (3)"... : the first one not in `taken`."""
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name} ({n})"
        n += 1
    return candidate


def gallery_name(folder: Path) -> str:
    """Return the name a gallery folder shows (its index's name), or the folder's name if it has none.

    Reads only the small index file; call it from a task (a hostile index may take a moment to refuse)."""
    from engine.gallery import INDEX_NAME
    from engine.gallery.files import parse_index

    try:
        name, _entries = parse_index((folder / INDEX_NAME).read_bytes(), str(folder / INDEX_NAME))
    except Exception:  # a missing or damaged index: the folder's name is all there is to show
        return folder.name
    return name or folder.name


def gallery_names(folders: Sequence[Path]) -> dict[Path, str]:
    """Return {folder: shown name} for gallery folders (see `gallery_name`)."""
    return {Path(f): gallery_name(Path(f)) for f in folders}


def _names_in_use(extra: Sequence[Path]) -> set[str]:
    """Return the shown names of the galleries in the app's folder and of `extra` folders."""
    folders = list(extra)
    if galleries_dir().is_dir():
        folders += [f for f in galleries_dir().iterdir() if f.is_dir()]
    return set(gallery_names([f for f in folders if f.is_dir()]).values())


def _source_name(source: Path) -> str:
    """Return the name an import of `source` would give its gallery (a gallery's own name, else the source's)."""
    from engine.gallery import INDEX_NAME
    from engine.gallery.files import parse_index
    from engine.gallery.sources import list_source

    default, files = list_source(source)
    index = next((f for f in files if str(f.path) == INDEX_NAME), None)
    if index is not None:
        try:
            return parse_index(index.read(), index.label)[0] or default
        except Exception:  # the import itself reports a damaged index, naming the file
            return default
    return default


def _pixels_or_none(pixels: np.ndarray | None) -> np.ndarray | None:
    return None if pixels is None else to_uint8(pixels)


@contextmanager
def torch_threads(n: int):
    """Run the block with `n` torch intra-op threads on this thread, then restore the previous number.

    With OpenMP (PyTorch's CPU builds) the setting belongs to the calling thread, so a worker ranking with one
    thread leaves the threads of training, running beside it, as they were."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------------------------------------- session


class EngineSession(QObject):
    """Owns the engine state; every method queues work and returns the Task (its signals report the end)."""

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
        self.model_info: ModelInfo | None = None
        self.snapshot: GallerySnapshot | None = None
        # Engine state: touched only inside serial tasks.
        self._loaded: Any = None
        self._gallery: Any = None
        self._recognizer: Any = None
        self.query_views = False  # rank with engine.views.QUERY_VIEWS_OPTION query views (else: the card's choice)
        self._histories = Histories()
        self._rank_lock = threading.Lock()
        self._rank_request: tuple[int, Any] | None = None
        self._rank_queued = False
        self._search: Any = None  # engine.font_search.FontSearch while a symbol search builds (serial tasks only)
        self._search_cancel = threading.Event()
        self.gallery_changed.connect(self._remember_snapshot)
        self.model_changed.connect(self._remember_model)

    # ---------------------------------------------------------------- state mirrors (UI thread)

    def _remember_snapshot(self, snapshot: GallerySnapshot | None) -> None:
        self.snapshot = snapshot

    def _remember_model(self, info: ModelInfo) -> None:
        if self.model_info is None:
            # Importing torch and loading the model leave hundreds of thousands of long-lived objects, which
            # every full garbage collection would walk on the UI thread (a 340 ms stall measured mid-drawing):
            # from now on the collector leaves them out.
            gc.freeze()
        self.model_info = info

    def _task(self, title: str, fn: Callable[[TaskContext], Any], serial: bool = True,
              on_done: Callable[[Any], None] | None = None, what: str | None = None) -> Task:
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
        task = self.runner.submit(lambda ctx: self._load_model_job(ctx, path, device), "Loading model")
        task.succeeded.connect(self.model_changed.emit)
        task.failed.connect(lambda exc: self.model_failed.emit(self._model_error(path, exc)))
        task.succeeded.connect(lambda _info: self._after_rebuild())
        task.succeeded.connect(lambda _info: self._warm_up())
        return task

    def _warm_up(self) -> None:
        """Rank a blank glyph once, as a drawing is ranked: the first forward pass of a shape sets up the maths
        library's kernels (~0.4-1 s on a 2-core CPU), which then the first drawing does not wait for."""
        def job(_ctx: TaskContext) -> None:
            if self._recognizer is not None:
                with torch_threads(RANK_THREADS):
                    self._recognizer.embed_queries(np.zeros((1, 105, 105), np.float32))

        self.runner.submit(job, "Warming up the model")

    @staticmethod
    def _model_error(path: str | Path | None, exc: BaseException) -> str:
        which = f"the model {path}" if path else "the shipped model"
        return (f"Could not load {which}: {describe_error(exc)} "
                "Pick another weights file with File > Open model….")

    def _load_model_job(self, ctx: TaskContext, path: str | Path | None, device: str) -> ModelInfo:
        ctx.progress(0, 0, "Starting PyTorch…")
        from engine.device import available_devices, describe_device, select_device
        from engine.weights import load_weights

        ctx.progress(0, 0, "Loading model…")
        torch_device = select_device(device)
        loaded = load_weights(path, torch_device)
        recognizer = self._make_recognizer(ctx, loaded, self._gallery)
        # Only now, with everything ready, does the new model replace the old one.
        self._loaded, self._recognizer = loaded, recognizer
        devices = tuple((d.name, d.label) for d in available_devices())
        return ModelInfo(loaded.name, Path(loaded.path) if loaded.path else None, str(torch_device),
                         describe_device(torch_device), devices)

    def _after_rebuild(self) -> None:
        if self.snapshot is not None:
            self.gallery_changed.emit(self.snapshot)

    def _make_recognizer(self, ctx: TaskContext, loaded: Any, gallery: Any) -> Any:
        """(Serial task) Return a recogniser for `loaded` and `gallery` with the references embedded, or None."""
        if loaded is None or gallery is None:
            return None
        from engine.recognize import Recognizer

        recognizer = Recognizer(loaded, gallery, views=self._views_for(loaded))
        ctx.progress(0, 0, "Embedding the gallery…")
        recognizer.refresh(progress=ctx.progress, cancel=ctx.cancel)
        return recognizer

    def _views_for(self, loaded: Any) -> Any:
        from engine.views import QUERY_VIEWS_OPTION, card_views

        views = card_views(loaded.card)
        return replace(views, query_views=QUERY_VIEWS_OPTION) if self.query_views else views

    def set_query_views(self, on: bool) -> None:
        """Rank each drawing with distorted copies of it too, or as the model card says. The references are
        unchanged, so this takes effect at the next ranking without recomputing anything."""
        self.query_views = on
        recognizer = self._recognizer
        if recognizer is not None:
            recognizer.views = self._views_for(recognizer.loaded)  # one assignment: a ranking sees old or new

    # ---------------------------------------------------------------- galleries

    def open_gallery(self, path: str | Path) -> Task:
        """Open the gallery folder `path` and make it current; reports gallery_changed."""
        def job(ctx: TaskContext) -> GallerySnapshot:
            from engine.gallery import Gallery

            return self._adopt(ctx, Gallery.open(Path(path)))

        return self._task(f"Opening gallery {Path(path).name}", job, on_done=self.gallery_changed.emit,
                          what=f"Opening the gallery {path}")

    def create_gallery(self, name: str, path: str | Path | None = None, known: Sequence[Path] = ()) -> Task:
        """Create an empty gallery (in the user data folder unless `path`) and make it current.

        In the user data folder its name is numbered "Name (2)" if a gallery there or in `known` already shows it,
        as an import's is: two galleries shown under one name could not be told apart."""
        def job(ctx: TaskContext) -> GallerySnapshot:
            from engine.gallery import Gallery

            if path:
                return self._adopt(ctx, Gallery.create(Path(path), name))
            shown = unique_name(name, _names_in_use(known))
            return self._adopt(ctx, Gallery.create(unique_folder(galleries_dir(), shown), shown))

        return self._task(f"Creating gallery {name}", job, on_done=self.gallery_changed.emit,
                          what="Creating the gallery")

    def import_gallery(self, source: str | Path, name: str | None = None, known: Sequence[Path] = ()) -> Task:
        """Import a folder or zip as a new gallery in the user data folder (in parallel), then make it current.

        Its name is the source's (or `name`), numbered "Name (2)" if a gallery in the app's folder or in
        `known` already shows it. Confirms with an info message once open."""
        source = Path(source)
        label = name or source.stem

        def job(ctx: TaskContext) -> Any:
            from engine.gallery import import_gallery

            shown = unique_name(name or _source_name(source), _names_in_use(known))
            dest = unique_folder(galleries_dir(), shown)
            return import_gallery(source, dest, name=shown, progress=ctx.progress, cancel=ctx.cancel)

        return self._task(f"Importing {label}", job, serial=False, on_done=self._adopt_later,
                          what=f"Importing {source.name}")

    def import_omniglot(self, alphabet: str, data_dir: str | Path | None = None, known: Sequence[Path] = ()) -> Task:
        """Make a gallery of one Omniglot evaluation alphabet (one reference per character) and open it."""
        def job(ctx: TaskContext) -> Any:
            from engine.data import find_sources, load_set
            from engine.gallery import import_omniglot_alphabet

            ctx.progress(0, 0, "Reading Omniglot…")
            sources = find_sources(data_dir, ("evaluation",))
            dataset = load_set(sources["evaluation"], "evaluation")
            ctx.check()
            shown = unique_name(alphabet, _names_in_use(known))
            dest = unique_folder(galleries_dir(), shown)
            return import_omniglot_alphabet(dataset, alphabet, dest, references_per_character=1,
                                            progress=ctx.progress, cancel=ctx.cancel, name=shown)

        return self._task(f"Loading the {alphabet} alphabet", job, serial=False, on_done=self._adopt_later,
                          what=f"Loading the Omniglot alphabet {alphabet}")

    def gallery_names(self, folders: Sequence[Path]) -> Task:
        """Read the shown names of gallery folders in a task; it succeeds with {folder: name}."""
        folders = [Path(f) for f in folders]
        return self.runner.submit(lambda _ctx: gallery_names(folders), "Reading gallery names", serial=False)

    def _adopt_later(self, gallery: Any) -> None:
        def job(ctx: TaskContext) -> GallerySnapshot:
            self._histories.forget(gallery)  # a new gallery starts with an empty history, whatever its folder
            return self._adopt(ctx, gallery)

        def done(snapshot: GallerySnapshot) -> None:
            self.gallery_changed.emit(snapshot)
            n, refs = len(snapshot.characters), snapshot.n_references
            message = (f"Imported {quoted(snapshot.name)}: {n} character{'s' if n != 1 else ''}, "
                       f"{refs} example{'s' if refs != 1 else ''}.")
            skipped = list(getattr(gallery, "import_skipped", []) or [])
            if skipped:
                message += f" Skipped {len(skipped)} blank image(s), e.g. {skipped[0]}."
            self.info.emit(message)

        self._task(f"Opening {gallery.name}", job, on_done=done, what="Opening the imported gallery")

    def _adopt(self, ctx: TaskContext, gallery: Any) -> GallerySnapshot:
        """(Serial task) Make `gallery` current with a new recogniser; return its snapshot.

        Everything that can fail (reading the images, embedding them) happens first, so a gallery that
        cannot be used leaves the current one in place.
        """
        snapshot = self._snapshot(gallery)
        recognizer = self._make_recognizer(ctx, self._loaded, gallery)
        self._end_search()  # drawings now rank against this gallery, not a symbol search being built
        self._gallery, self._recognizer = gallery, recognizer
        return snapshot

    def _snapshot(self, gallery: Any = None) -> GallerySnapshot:
        """(Serial task) Return an immutable copy of `gallery` (default: the current one)."""
        g = gallery if gallery is not None else self._gallery
        characters = tuple(CharacterView(c.name, tuple(to_uint8(r.pixels) for r in c.references))
                           for c in g.characters)
        try:
            suggested = g.suggest_name()
        except Exception:  # a suggestion is a convenience, never a reason to fail
            suggested = ""
        return GallerySnapshot(Path(g.path), str(g.name), characters, suggested, self._histories.of(g).state())

    # ---------------------------------------------------------------- gallery edits

    def _edit(self, title: str, change: Callable[[Any], tuple[str, Step | None]], what: str | None = None) -> Task:
        """Run `change(gallery)` (returns an info message and the undoable step it made), record the step in the
        gallery's history, re-embed, publish the new snapshot."""
        def job(ctx: TaskContext) -> tuple[GallerySnapshot, str]:
            if self._gallery is None:
                raise RuntimeError("No gallery is open. Create or open one first (Gallery menu).")
            # An edit either happens whole or raises with nothing changed.
            message, step = change(self._gallery)
            if step is not None:
                self._histories.of(self._gallery).push(step)
            return self._after_edit(ctx, message)

        return self._task(title, job, on_done=self._publish_edit, what=what)

    def _after_edit(self, ctx: TaskContext, message: str) -> tuple[GallerySnapshot, str]:
        """(Serial task) Bring the recogniser up to date with the edited gallery; return (snapshot, message)."""
        if self._recognizer is not None:
            # The incremental update (what on_gallery_changed does), with progress and cancel: only new
            # references are embedded, so the next stroke already ranks against the edited gallery.
            try:
                self._recognizer.refresh(progress=ctx.progress, cancel=ctx.cancel)
            except Exception as exc:  # the edit is saved; ranking catches up by itself on the next query
                message = f"{message} (Embedding the change was interrupted: {describe_error(exc)})".strip()
        return self._snapshot(), message

    def _publish_edit(self, result: tuple[GallerySnapshot, str]) -> None:
        self.gallery_changed.emit(result[0])
        if result[1]:
            self.info.emit(result[1])
        self.edited.emit()

    def _history_step(self, title: str, direction: str) -> Task:
        def job(ctx: TaskContext) -> tuple[GallerySnapshot, str]:
            if self._gallery is None:
                raise HistoryError("No gallery is open, so there is nothing to undo or redo.")
            history = self._histories.of(self._gallery)
            message = history.undo(self._gallery) if direction == "undo" else history.redo(self._gallery)
            return self._after_edit(ctx, message)

        return self._task(title, job, on_done=self._publish_edit, what=title)

    def undo(self) -> Task:
        """Undo the last change of the open gallery (a step that cannot apply says why and changes nothing)."""
        return self._history_step("Undo", "undo")

    def redo(self) -> Task:
        """Redo the last undone change of the open gallery."""
        return self._history_step("Redo", "redo")

    def add_character(self, name: str, glyph: Any) -> Task:
        """Enrol `glyph` as a new character called `name` (undoable)."""
        def change(g: Any) -> tuple[str, Step]:
            g.add_character(name, [glyph])
            return f"Added {quoted(name)}.", AddExamples(f"Add {quoted(name)}", [AddExamples.record(g, name, True)])

        return self._edit(f"Adding {name}", change, what=f"Adding the character {quoted(name)}")

    def add_reference(self, name: str, glyph: Any) -> Task:
        """Add `glyph` as another example of the character `name` (undoable)."""
        def change(g: Any) -> tuple[str, Step]:
            g.add_reference(name, glyph)
            step = AddExamples(f"Add an example of {quoted(name)}", [AddExamples.record(g, name, False)])
            return f"Added another example of {quoted(name)} ({len(g.character(name).references)} now).", step

        return self._edit(f"Adding an example of {name}", change, what=f"Adding an example of {quoted(name)}")

    def remove_reference(self, name: str, index: int) -> Task:
        """Remove reference `index` of character `name` (undoable)."""
        def change(g: Any) -> tuple[str, Step]:
            removed = g.remove_reference(name, index)
            return f"Removed an example of {quoted(name)}.", RemoveExample(name, index, removed.pixels, removed.key)

        return self._edit(f"Removing an example of {name}", change, what=f"Removing an example of {quoted(name)}")

    def rename(self, old: str, new: str) -> Task:
        """Rename a character (undoable)."""
        return self._apply(RenameCharacter(old, new), f"Renaming {old}", f"Renaming {quoted(old)}")

    def delete(self, names: Sequence[str]) -> Task:
        """Delete characters, as one undoable step ("Delete 5 characters")."""
        return self._apply(DeleteCharacters(names), "Deleting", "Deleting")

    def _apply(self, step: Step, title: str, what: str) -> Task:
        """Apply `step` (its checks first, so a refused step changes nothing) and record it."""
        return self._edit(title, lambda g: (step.apply(g), step), what=what)

    def merge(self, names: Sequence[str], into: str) -> Task:
        """Merge characters `names` into the character `into` (undoable)."""
        names = list(names)

        def change(g: Any) -> tuple[str, Step]:
            step = MergeCharacters(g, names, into)
            return step.apply(g), step

        return self._edit(f"Merging into {into}", change, what="Merging characters")

    def add_images(self, paths: Sequence[str | Path]) -> Task:
        """Add image files to the current gallery: each a new character named after the file (or a new example).

        All the files added are one undoable step."""
        def change(g: Any) -> tuple[str, Step | None]:
            from engine.gallery import read_glyph  # the same reading as gallery import and `engine rank`

            step, skipped = AddExamples(f"Add {len(paths)} image(s)"), []
            for path in map(Path, paths):
                try:
                    glyph = read_glyph(path)
                    if glyph.no_ink:
                        raise ValueError("no ink found in it")
                    new = path.stem not in g.names()
                    if new:
                        g.add_character(path.stem, [glyph])
                    else:
                        g.add_reference(path.stem, glyph)
                    step.added.append(AddExamples.record(g, path.stem, new))
                except Exception as exc:  # one bad file should not stop the others; it is reported below
                    skipped.append(f"{path.name} ({describe_error(exc)})")
            added = len(step.added)
            step.text = f"Add {added} image{'s' if added != 1 else ''}"
            message = f"Added {added} image{'s' if added != 1 else ''} to the gallery."
            if skipped:
                message += f" Skipped {len(skipped)}: " + "; ".join(skipped[:3])
            return message, step if added else None

        return self._edit("Adding images", change, what="Adding images")

    def export(self, dest: str | Path, as_zip: bool) -> Task:
        """Export the current gallery to a folder or zip; info message names the result."""
        def job(ctx: TaskContext) -> Path:
            if self._gallery is None:
                raise RuntimeError("No gallery is open.")
            return Path(self._gallery.export(Path(dest), as_zip))

        return self._task("Exporting the gallery", job, on_done=lambda p: self.info.emit(f"Exported to {p}."))

    # ---------------------------------------------------------------- symbol search

    def search_font(self, face: Any, name: str, dest: str | Path) -> Task:
        """Make a symbol search of every character of `face` (engine.font_search): while it renders and embeds,
        drawings rank against the characters ready so far (`RankOutcome.coverage`, `search_progress`); then it is
        saved as the gallery `name` at `dest` and opened. No gallery is current meanwhile."""
        self._search_cancel = cancel = threading.Event()
        label = getattr(face, "full_name", name)

        def start(ctx: TaskContext) -> SearchState:
            from engine.font_search import FontSearch

            if self._loaded is None:
                raise RuntimeError("No model is loaded, so the font's characters cannot be embedded.")
            self._end_search()
            ctx.progress(0, 0, f"Reading {label}…")
            self._search = FontSearch(self._loaded, face)
            self._gallery, self._recognizer = None, None  # the old gallery is no longer what drawings rank against
            return SearchState(label, self._search.ready, self._search.total)

        def started(state: SearchState) -> None:
            self.gallery_changed.emit(None)
            self._search_stepped(state, label, name, Path(dest), cancel)

        task = self._task(f"Symbol search of {label}", start, on_done=started, what="The symbol search")
        return task

    def cancel_search(self) -> None:
        """Stop the symbol search being built (what is embedded stays cached for the next search of the font)."""
        self._search_cancel.set()

    def _search_stepped(self, state: SearchState, label: str, name: str, dest: Path, cancel: threading.Event) -> None:
        self.search_progress.emit(state)  # the open drawing re-ranks against the larger part first
        if state.ready < state.total:
            def step(ctx: TaskContext) -> SearchState:
                search = self._search
                if search is None:  # a gallery was opened meanwhile, which ended the search
                    raise Cancelled("the symbol search gave way to a gallery")
                with torch_threads(RANK_THREADS):
                    search.step(cancel, batch=SEARCH_STEP, wait=0.5)
                ctx.progress(search.ready, search.total, f"Embedding {label}…")
                return SearchState(label, search.ready, search.total)

            task = self._task(f"Symbol search of {label}", step,
                              on_done=lambda s: self._search_stepped(s, label, name, dest, cancel),
                              what="The symbol search")
        else:
            search = self._search  # complete: from now on only read, by rankings and by the saving below

            def save(ctx: TaskContext) -> Any:
                ctx.progress(0, 0, f"Saving the gallery {name}…")
                return search.save_gallery(dest, name, cancel)

            # Not serial: writing thousands of images takes seconds, and drawings keep being ranked meanwhile.
            task = self._task(f"Saving {name}", save, serial=False, what="Saving the symbol search",
                              on_done=lambda gallery: self._open_search_gallery(search, gallery, label))
        task.cancelled.connect(lambda: self._search_ended(label, "cancelled"))
        task.failed.connect(lambda exc: self._search_ended(label, describe_error(exc)))

    def _open_search_gallery(self, search: Any, gallery: Any, label: str) -> None:
        def job(ctx: TaskContext) -> GallerySnapshot | None:
            if self._search is not search:
                return None  # another search (or gallery) took its place meanwhile: the gallery stays on disk
            self._end_search()
            self._histories.forget(gallery)
            return self._adopt(ctx, gallery)

        def opened(snapshot: GallerySnapshot | None) -> None:
            if snapshot is None:
                return
            self.gallery_changed.emit(snapshot)
            n = len(snapshot.characters)
            self.search_progress.emit(SearchState(label, n, n, True, f"Symbol search ready: {n:,} characters of "
                                                                    f"{label} in {quoted(snapshot.name)}."))

        self._task(f"Opening {gallery.name}", job, on_done=opened, what="Opening the symbol search")

    def _search_ended(self, label: str, why: str) -> None:
        def job(_ctx: TaskContext) -> None:
            self._end_search()

        self._task("Ending the symbol search", job)
        text = (f"Symbol search of {label} stopped; what was embedded is kept, so searching this font again starts "
                f"there." if why == "cancelled" else f"The symbol search of {label} failed: {why}")
        self.search_progress.emit(SearchState(label, 0, 0, True, text))

    def _end_search(self) -> None:
        """(Serial task) Close the symbol search, if one is open (it caches what is ready)."""
        search, self._search = self._search, None
        if search is not None:
            search.close()

    # ---------------------------------------------------------------- recognition

    def rank(self, request_id: int, source: Any) -> None:
        """Rank `source` (a list of strokes in AREA units, or a Glyph); emits `ranked` with `request_id`.

        Only the latest request matters: while one is queued, newer requests replace it.
        """
        with self._rank_lock:
            self._rank_request = (request_id, source)
            if self._rank_queued:
                return
            self._rank_queued = True
        self._task("Recognising", self._rank_job, on_done=self.ranked.emit, what="Recognition")

    def _take_rank_request(self) -> tuple[int, Any]:
        with self._rank_lock:
            request, self._rank_request = self._rank_request, None
            self._rank_queued = False
            return request if request is not None else (-1, None)

    def _rank_job(self, ctx: TaskContext) -> RankOutcome:
        with torch_threads(RANK_THREADS):
            return self._rank(*self._take_rank_request())

    def _rank(self, request_id: int, source: Any) -> RankOutcome:
        glyph = self._glyph_of(source)
        if glyph is None or glyph.no_ink:
            return RankOutcome(request_id, "empty-canvas", glyph)
        if self._loaded is None:
            return RankOutcome(request_id, "no-model", glyph)
        if self._search is not None:
            return self._rank_search(request_id, glyph)
        if self._gallery is None:
            return RankOutcome(request_id, "no-gallery", glyph)
        if len(self._gallery) == 0 or self._recognizer is None:
            return RankOutcome(request_id, "empty-gallery", glyph)
        result = self._recognizer.rank(glyph, k=TOP_K)
        if result.no_ink:
            return RankOutcome(request_id, "empty-canvas", glyph)
        matches = tuple(MatchView(m.name, float(m.score), int(m.reference), self._thumbnail(m.name, m.reference),
                                  self._char(m.name)) for m in result.matches)
        return RankOutcome(request_id, "ranked", glyph, bool(result.no_confident_match), matches)

    def _rank_search(self, request_id: int, glyph: Any) -> RankOutcome:
        search = self._search
        result = search.rank(glyph, k=TOP_K)
        matches = tuple(MatchView(m.name, float(m.score), 0, _pixels_or_none(search.pixels(ord(m.name))), m.name)
                        for m in result.matches)
        state = "ranked" if matches or search.ready else "empty-gallery"
        return RankOutcome(request_id, state, glyph, bool(result.no_confident_match), matches,
                           (search.ready, search.total))

    @staticmethod
    def _glyph_of(source: Any) -> Any:
        if source is None:
            return None
        if isinstance(source, (list, tuple)):
            if not source:
                return None
            from engine.glyph import render_strokes

            # frame=True: a small drawing in a corner is brought into Omniglot's framing, as the model expects.
            return render_strokes(source, area=AREA, frame=True)
        return source  # already a Glyph

    def _char(self, name: str) -> str | None:
        try:
            return self._gallery.character(name).char
        except Exception:  # a character without one only loses the large display and Copy
            return None

    def _thumbnail(self, name: str, index: int) -> np.ndarray | None:
        try:
            return to_uint8(self._gallery.character(name).references[index].pixels)
        except Exception:  # a missing thumbnail only costs a picture
            return None
