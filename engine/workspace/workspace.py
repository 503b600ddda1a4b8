"""The workspace: the loaded model, the open gallery, its recogniser and every gallery's undo history, with the
operations a person does on them (load a model; open, create, import a gallery; edit, undo, redo; rank).

Qt-free and synchronous: each call does its work and returns an immutable result (engine.workspace.snapshots) or
raises with a message that says what happened and that nothing changed. Calls on one workspace run one at a time,
in order (the app runs them on its serial task lane; a CLI or a test calls them directly), so no locks are
needed. The calls that make a new gallery from a source (`import_gallery`, `import_omniglot`) read no workspace
state and may run beside the others; `adopt_import` then makes the result current.

Torch is imported by the calls that need it, not by importing this module: the app imports it at startup.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..cancel import Cancelled
from ..gallery import Gallery, read_glyph
from ..gallery.history import (AddExamples, DeleteCharacters, Histories, HistoryError, MergeCharacters,
                               RemoveExample, RenameCharacter, Step, quoted)
from ..glyph import Glyph, render_strokes
from ..strokes import Stroke
from ..units import OMNIGLOT_STROKE_AREA
from .messages import added_images_message, describe_error, imported_message
from .naming import new_gallery_place, source_name
from .snapshots import (EMPTY_CANVAS, EMPTY_GALLERY, NO_GALLERY, NO_MODEL, RANKED, CharacterView, Edited,
                        GallerySnapshot, MatchView, ModelInfo, RankOutcome, SearchState, to_uint8)

if TYPE_CHECKING:
    import threading

    from ..fonts.search import FontSearch
    from ..fonts.faces import FontFace
    from ..recognition.recognize import RankResult, Recognizer
    from ..recognition.views import ViewConfig
    from ..weights import LoadedModel

TOP_K = 5  # characters a ranking returns
RANK_BATCH = 64  # glyphs per forward pass in `rank_glyphs`
# Torch threads for ranking one drawing. One forward pass of a small network gains little from more, and on a
# small or busy machine more threads than free cores wait on each other (measured on 2 shared cores: 35 ms with
# one thread, 200-700 ms with two) and take the core a UI needs while a person draws.
RANK_THREADS = max(1, min(4, (os.cpu_count() or 2) // 4))
# Characters a symbol search embeds per step: a drawing waits at most one step (~0.5 s on 2 cores) for its
# ranking while the search builds.
SEARCH_STEP = 64

Source = Sequence[Stroke] | Glyph | None  # what `rank` takes: strokes in OMNIGLOT_STROKE_AREA units, or a glyph


class Progress(Protocol):
    """Reports progress: `(done, total)` from the engine's loops, or `(0, 0, text)` for a stage without counts."""

    def __call__(self, done: int, total: int, text: str = ...) -> None: ...


class NoGallery(RuntimeError):
    """An edit with no gallery open."""


def _uint8_or_none(pixels: np.ndarray | None) -> np.ndarray | None:
    return None if pixels is None else to_uint8(pixels)


def _say(progress: Progress | None, text: str) -> None:
    if progress is not None:
        progress(0, 0, text)


class Workspace:
    """Owns the loaded model (with its card), the open gallery, the recogniser and the galleries' histories."""

    def __init__(self, rank_threads: int | None = RANK_THREADS) -> None:
        self.loaded: LoadedModel | None = None
        self.gallery: Gallery | None = None
        self.recognizer: Recognizer | None = None
        self.query_views = False  # rank with engine.recognition.views.QUERY_VIEWS_OPTION query views (else: the card's choice)
        self.histories = Histories()
        self.rank_threads = rank_threads  # torch threads while ranking (None: leave torch's setting alone)
        self.search: FontSearch | None = None  # a symbol search being built (no gallery is current meanwhile)

    # ---------------------------------------------------------------- model

    def load_model(self, path: str | Path | None = None, device: str = "auto", progress: Progress | None = None,
                   cancel: threading.Event | None = None) -> ModelInfo:
        """Load weights (None = the shipped model) on `device` and embed the open gallery with it; return what
        was loaded. Everything that can fail happens first: on failure the previous model stays in use."""
        _say(progress, "Starting PyTorch…")
        from ..device import available_devices, describe_device, select_device
        from ..weights import load_weights

        _say(progress, "Loading model…")
        torch_device = select_device(device)
        loaded = load_weights(path, torch_device)
        recognizer = self._make_recognizer(loaded, self.gallery, progress, cancel)
        self.loaded, self.recognizer = loaded, recognizer
        devices = tuple((d.name, d.label) for d in available_devices())
        return ModelInfo(loaded.name, Path(loaded.path) if loaded.path else None, str(torch_device),
                         describe_device(torch_device), devices)

    def _views_for(self, loaded: LoadedModel) -> ViewConfig:
        from ..recognition.views import QUERY_VIEWS_OPTION, card_views

        views = card_views(loaded.card)
        return replace(views, query_views=QUERY_VIEWS_OPTION) if self.query_views else views

    def _make_recognizer(self, loaded: LoadedModel | None, gallery: Gallery | None, progress: Progress | None,
                         cancel: threading.Event | None) -> Recognizer | None:
        """Return a recogniser for `loaded` and `gallery` with the references embedded, or None without both."""
        if loaded is None or gallery is None:
            return None
        from ..recognition.recognize import Recognizer

        recognizer = Recognizer(loaded, gallery, views=self._views_for(loaded))
        _say(progress, "Embedding the gallery…")
        recognizer.refresh(progress=progress, cancel=cancel)
        return recognizer

    def set_query_views(self, on: bool) -> None:
        """Rank with distorted copies of each query too, or as the model card says. The references are unchanged,
        so this takes effect at the next ranking without recomputing anything."""
        self.query_views = on
        if self.recognizer is not None and self.loaded is not None:
            self.recognizer.views = self._views_for(self.loaded)

    # ---------------------------------------------------------------- galleries

    def snapshot(self, gallery: Gallery | None = None) -> GallerySnapshot | None:
        """Return an immutable copy of `gallery` (default: the open one; None when none is open)."""
        g = gallery if gallery is not None else self.gallery
        if g is None:
            return None
        characters = tuple(CharacterView(c.name, tuple(to_uint8(r.pixels) for r in c.references))
                           for c in g.characters)
        try:
            suggested = g.suggest_name()
        except Exception:  # a suggestion is a convenience, never a reason to fail
            suggested = ""
        return GallerySnapshot(Path(g.path), str(g.name), characters, suggested, self.histories.of(g).state())

    def _adopt(self, gallery: Gallery, progress: Progress | None, cancel: threading.Event | None) -> GallerySnapshot:
        """Make `gallery` current with a new recogniser; return its snapshot. Everything that can fail (reading
        the images, embedding them) happens first, so a gallery that cannot be used leaves the current one."""
        snapshot = self.snapshot(gallery)
        recognizer = self._make_recognizer(self.loaded, gallery, progress, cancel)
        self.end_search()  # drawings now rank against this gallery, not a symbol search being built
        self.gallery, self.recognizer = gallery, recognizer
        return snapshot

    def open_gallery(self, path: str | Path, progress: Progress | None = None,
                     cancel: threading.Event | None = None) -> GallerySnapshot:
        """Open the gallery folder `path` and make it current (its history, if it was open before, is kept)."""
        return self._adopt(Gallery.open(Path(path)), progress, cancel)

    def create_gallery(self, name: str, path: str | Path | None = None, known: Sequence[Path] = (),
                       progress: Progress | None = None, cancel: threading.Event | None = None) -> GallerySnapshot:
        """Create an empty gallery (in `galleries_dir()` unless `path`) and make it current.

        In `galleries_dir()` its shown name is numbered "Name (2)" if a gallery there or in `known` shows it."""
        if path:
            return self._adopt(Gallery.create(Path(path), name), progress, cancel)
        shown, folder = new_gallery_place(name, known)
        return self._adopt(Gallery.create(folder, shown), progress, cancel)

    @staticmethod
    def import_gallery(source: str | Path, name: str | None = None, known: Sequence[Path] = (),
                       progress: Progress | None = None, cancel: threading.Event | None = None) -> Gallery:
        """Return a new gallery in `galleries_dir()` imported from a folder or zip, named as the source (or
        `name`), numbered like `create_gallery`'s. Reads no workspace state: may run beside other calls."""
        from ..gallery import import_gallery

        shown, dest = new_gallery_place(name or source_name(Path(source)), known)
        return import_gallery(Path(source), dest, name=shown, progress=progress, cancel=cancel)

    @staticmethod
    def import_omniglot(alphabet: str, data_dir: str | Path | None = None, known: Sequence[Path] = (),
                        progress: Progress | None = None, cancel: threading.Event | None = None) -> Gallery:
        """Return a new gallery of one Omniglot evaluation alphabet (one reference per character) in
        `galleries_dir()`. Reads no workspace state: may run beside other calls."""
        from ..data import find_sources, load_set
        from ..gallery import import_omniglot_alphabet

        _say(progress, "Reading Omniglot…")
        dataset = load_set(find_sources(data_dir, ("evaluation",))["evaluation"], "evaluation")
        if cancel is not None and cancel.is_set():

            raise Cancelled("cancelled")
        shown, dest = new_gallery_place(alphabet, known)
        return import_omniglot_alphabet(dataset, alphabet, dest, references_per_character=1, progress=progress,
                                        cancel=cancel, name=shown)

    def adopt_import(self, gallery: Gallery, progress: Progress | None = None,
                     cancel: threading.Event | None = None) -> Edited:
        """Make a gallery that `import_gallery` or `import_omniglot` returned current, with an empty history
        (whatever its folder held before); the message says what was imported and what was skipped."""
        self.histories.forget(gallery)
        snapshot = self._adopt(gallery, progress, cancel)
        return Edited(snapshot, imported_message(snapshot, list(gallery.import_skipped)))

    def export(self, dest: str | Path, as_zip: bool) -> Path:
        """Export the open gallery to a folder or zip; return what was written."""
        return Path(self._open().export(Path(dest), as_zip))

    def reload_gallery(self, progress: Progress | None = None,
                       cancel: threading.Event | None = None) -> Edited | None:
        """Re-read the open gallery if another writer (a window, the command line) changed it on disk; return the
        new state with a message saying so, or None when nothing is open or nothing changed. The recogniser
        embeds what is new, as after an edit."""
        if self.gallery is None or not self.gallery.reload():
            return None
        return self._after_edit(f"{self.gallery.name} was changed by another program: reloaded.", progress, cancel)

    # ---------------------------------------------------------------- edits, undo and redo

    def _open(self) -> Gallery:
        if self.gallery is None:
            raise NoGallery("No gallery is open. Create or open one first (Gallery menu).")
        return self.gallery

    def _edit(self, message: str, step: Step | None, progress: Progress | None,
              cancel: threading.Event | None) -> Edited:
        """Record `step` (just applied; None: nothing to undo) and bring the recogniser up to date."""
        gallery = self._open()
        if step is not None:
            self.histories.of(gallery).push(step)
        return self._after_edit(message, progress, cancel)

    def _after_edit(self, message: str, progress: Progress | None, cancel: threading.Event | None) -> Edited:
        if self.recognizer is not None:
            # Only new references are embedded, so the next ranking already sees the edited gallery.
            try:
                self.recognizer.refresh(progress=progress, cancel=cancel)
            except Exception as exc:  # the edit is saved; ranking catches up by itself on the next query
                message = f"{message} (Embedding the change was interrupted: {describe_error(exc)})".strip()
        snapshot = self.snapshot()
        assert snapshot is not None  # an edit needs an open gallery
        return Edited(snapshot, message)

    def _apply(self, step: Step, progress: Progress | None, cancel: threading.Event | None) -> Edited:
        """Apply `step` (its checks first, so a refused step changes nothing) and record it."""
        return self._edit(step.apply(self._open()), step, progress, cancel)

    def add_character(self, name: str, glyph: Glyph, progress: Progress | None = None,
                      cancel: threading.Event | None = None) -> Edited:
        """Enrol `glyph` as a new character called `name` (undoable)."""
        g = self._open()
        g.add_character(name, [glyph])
        step = AddExamples(f"Add {quoted(name)}", [AddExamples.record(g, name, True)])
        return self._edit(f"Added {quoted(name)}.", step, progress, cancel)

    def add_reference(self, name: str, glyph: Glyph, progress: Progress | None = None,
                      cancel: threading.Event | None = None) -> Edited:
        """Add `glyph` as another example of the character `name` (undoable)."""
        g = self._open()
        g.add_reference(name, glyph)
        step = AddExamples(f"Add an example of {quoted(name)}", [AddExamples.record(g, name, False)])
        message = f"Added another example of {quoted(name)} ({len(g.character(name).references)} now)."
        return self._edit(message, step, progress, cancel)

    def remove_reference(self, name: str, index: int, progress: Progress | None = None,
                         cancel: threading.Event | None = None) -> Edited:
        """Remove reference `index` of the character `name` (undoable)."""
        removed = self._open().remove_reference(name, index)
        step = RemoveExample(name, index, removed.pixels, removed.key)
        return self._edit(f"Removed an example of {quoted(name)}.", step, progress, cancel)

    def rename(self, old: str, new: str, progress: Progress | None = None,
               cancel: threading.Event | None = None) -> Edited:
        """Rename a character (undoable)."""
        return self._apply(RenameCharacter(old, new), progress, cancel)

    def delete(self, names: Sequence[str], progress: Progress | None = None,
               cancel: threading.Event | None = None) -> Edited:
        """Delete characters, as one undoable step ("Delete 5 characters")."""
        return self._apply(DeleteCharacters(names), progress, cancel)

    def merge(self, names: Sequence[str], into: str, progress: Progress | None = None,
              cancel: threading.Event | None = None) -> Edited:
        """Merge the characters `names` into the character `into` (undoable)."""
        return self._apply(MergeCharacters(self._open(), list(names), into), progress, cancel)

    def add_images(self, paths: Sequence[str | Path], progress: Progress | None = None,
                   cancel: threading.Event | None = None) -> Edited:
        """Add image files: each a new character named after the file, or another example of the character of
        that name. All the files added are one undoable step; a file that cannot be used is skipped and named."""
        g = self._open()
        step, skipped = AddExamples(f"Add {len(paths)} image(s)"), []
        for path in map(Path, paths):
            try:
                glyph = read_glyph(path)  # the same reading as gallery import and `engine rank`
                if glyph.no_ink:
                    raise ValueError("no ink found in it")
                new = path.stem not in g.names()
                if new:
                    g.add_character(path.stem, [glyph])
                else:
                    g.add_reference(path.stem, glyph)
                step.added.append(AddExamples.record(g, path.stem, new))
            except Exception as exc:  # one bad file should not stop the others; it is reported
                skipped.append(f"{path.name} ({describe_error(exc)})")
        added = len(step.added)
        step.text = f"Add {added} image{'s' if added != 1 else ''}"
        return self._edit(added_images_message(added, skipped), step if added else None, progress, cancel)

    def undo(self, progress: Progress | None = None, cancel: threading.Event | None = None) -> Edited:
        """Undo the last change of the open gallery (HistoryError, nothing changed, when it cannot apply)."""
        if self.gallery is None:
            raise HistoryError("No gallery is open, so there is nothing to undo or redo.")
        return self._after_edit(self.histories.of(self.gallery).undo(self.gallery), progress, cancel)

    def redo(self, progress: Progress | None = None, cancel: threading.Event | None = None) -> Edited:
        """Redo the last undone change of the open gallery (HistoryError, nothing changed, when it cannot)."""
        if self.gallery is None:
            raise HistoryError("No gallery is open, so there is nothing to undo or redo.")
        return self._after_edit(self.histories.of(self.gallery).redo(self.gallery), progress, cancel)

    # ---------------------------------------------------------------- symbol search

    def start_search(self, face: FontFace) -> SearchState:
        """Start a symbol search of every drawable character of `face` (engine.fonts.search): from now on no
        gallery is current and drawings rank against the characters ready so far; return where it stands."""
        from ..fonts.search import FontSearch

        if self.loaded is None:
            raise RuntimeError("No model is loaded, so the font's characters cannot be embedded.")
        self.end_search()
        self.search = FontSearch(self.loaded, face)
        self.gallery, self.recognizer = None, None
        return self._search_state()

    def search_step(self, cancel: threading.Event | None = None, batch: int | None = None,
                    wait: float = 0.5) -> SearchState:
        """Embed the next `batch` (default SEARCH_STEP) characters the renderer has drawn (waiting up to `wait` s
        for it); return where the search stands. Raises Cancelled when `cancel` is set or a gallery has taken the search's place."""
        if self.search is None:
            raise Cancelled("the symbol search gave way to a gallery")
        with self._threads():
            self.search.step(cancel, batch=batch or SEARCH_STEP, wait=wait)
        return self._search_state()

    @staticmethod
    def save_search(search: FontSearch, dest: str | Path, name: str,
                    cancel: threading.Event | None = None) -> Gallery:
        """Return a new gallery at `dest` of a complete search's characters, their embeddings cached with it.
        Reads no workspace state (only the search, which is no longer written): may run beside other calls."""
        return search.save_gallery(dest, name, cancel)

    def open_search_gallery(self, search: FontSearch, gallery: Gallery, progress: Progress | None = None,
                            cancel: threading.Event | None = None) -> GallerySnapshot | None:
        """Make `search`'s saved gallery current; return its snapshot, or None (the gallery stays on disk) when
        another search or gallery has taken that search's place meanwhile."""
        if self.search is not search:
            return None
        self.histories.forget(gallery)
        return self._adopt(gallery, progress, cancel)

    def end_search(self) -> None:
        """Close the symbol search, if one is open (what is embedded is cached for the next search of the font)."""
        search, self.search = self.search, None
        if search is not None:
            search.close()

    def _search_state(self) -> SearchState:
        assert self.search is not None
        return SearchState(self.search.face.full_name, self.search.ready, self.search.total)

    def _search_outcomes(self, ids: Sequence[int], glyphs: Sequence[Glyph], k: int | None) -> list[RankOutcome]:
        search = self.search
        assert search is not None
        with self._threads():
            results = search.recognizer.rank_many(list(glyphs), k, keep_inputs=True)
        outcomes = []
        for i, glyph, result in zip(ids, glyphs, results):
            if result.no_ink:
                outcomes.append(RankOutcome(i, EMPTY_CANVAS, glyph))
                continue
            matches = tuple(MatchView(m.name, float(m.score), 0, _uint8_or_none(search.pixels(ord(m.name))), m.name)
                            for m in result.matches)
            outcomes.append(RankOutcome(i, RANKED if matches or search.ready else EMPTY_GALLERY, glyph,
                                        bool(result.no_confident_match), matches, result.model_input,
                                        search.recognizer.views.query_views, (search.ready, search.total)))
        return outcomes

    def warm_up(self) -> None:
        """Run the encoder once on a blank glyph, as a drawing is: the first forward pass of a shape sets up the
        maths library's kernels (~0.4-1 s on a 2-core CPU), which the first drawing then does not wait for."""
        if self.loaded is None:
            return
        from ..recognition.embedding import GlyphEncoder

        encoder = self.recognizer.encoder if self.recognizer is not None else GlyphEncoder(self.loaded.model)
        with self._threads():
            encoder.embed(np.zeros((1, 105, 105), np.float32))

    # ---------------------------------------------------------------- ranking

    def _threads(self):
        if self.rank_threads is None:
            return nullcontext()
        from ..device import torch_threads

        return torch_threads(self.rank_threads)

    def rank(self, source: Source, request_id: int = 0, k: int | None = TOP_K) -> RankOutcome:
        """Rank a drawing (strokes in OMNIGLOT_STROKE_AREA units, brought into Omniglot's framing) or a glyph
        against the open gallery; return the outcome tagged with `request_id`."""
        if source is None or isinstance(source, Glyph):
            glyph = source
        else:
            # frame=True: a small drawing in a corner is brought into Omniglot's framing, as the model expects.
            glyph = render_strokes(source, area=OMNIGLOT_STROKE_AREA, frame=True) if len(source) else None
        if glyph is None:
            return RankOutcome(request_id, EMPTY_CANVAS)
        return self.rank_glyphs([glyph], k, request_ids=[request_id])[0]

    def rank_glyphs(self, glyphs: Sequence[Glyph], k: int | None = TOP_K, batch_size: int = RANK_BATCH,
                    request_ids: Sequence[int] | None = None) -> list[RankOutcome]:
        """Rank many glyphs against the open gallery, one forward pass per `batch_size` glyphs, through the same
        encoder, index and scoring as `rank`; return an outcome per glyph, in order (request ids: 0, 1, 2... or
        `request_ids`)."""
        ids = list(request_ids) if request_ids is not None else list(range(len(glyphs)))
        if self.search is not None and self.loaded is not None:
            return self._search_outcomes(ids, glyphs, k)
        state = self._unranked_state()
        if state is not None:
            return [RankOutcome(i, EMPTY_CANVAS if g.no_ink else state, g) for i, g in zip(ids, glyphs)]
        assert self.recognizer is not None
        with self._threads():
            results = self.recognizer.rank_many(list(glyphs), k, batch_size, keep_inputs=True)
        views = self.recognizer.views.query_views
        return [self._outcome(i, g, r, views) for i, g, r in zip(ids, glyphs, results)]

    def _unranked_state(self) -> str | None:
        """Return why nothing can be ranked now (NO_MODEL, NO_GALLERY, EMPTY_GALLERY), or None."""
        if self.loaded is None:
            return NO_MODEL
        if self.gallery is None:
            return NO_GALLERY
        if len(self.gallery) == 0 or self.recognizer is None:
            return EMPTY_GALLERY
        return None

    def _outcome(self, request_id: int, glyph: Glyph, result: RankResult, query_views: int) -> RankOutcome:
        if result.no_ink:
            return RankOutcome(request_id, EMPTY_CANVAS, glyph)
        matches = tuple(MatchView(m.name, float(m.score), int(m.reference), self._thumbnail(m.name, m.reference),
                                  self._char(m.name)) for m in result.matches)
        return RankOutcome(request_id, RANKED, glyph, bool(result.no_confident_match), matches, result.model_input,
                           query_views)

    def _char(self, name: str) -> str | None:
        try:
            return self._open().character(name).char
        except Exception:  # a character without one only loses the large display and Copy
            return None

    def _thumbnail(self, name: str, index: int) -> np.ndarray | None:
        try:
            return to_uint8(self._open().character(name).references[index].pixels)
        except Exception:  # a missing thumbnail only costs a picture
            return None
