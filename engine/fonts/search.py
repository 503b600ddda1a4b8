"""Symbol search over a whole font: rendered and embedded in one pipeline, ranked against what is ready.

A font's every character (DejaVu Sans: 5,681) takes about a minute of CPU to render and another to embed on
a 2-core machine. A `FontSearch` starts rendering in worker processes (`engine.fonts.render.RenderStream`) and
each `step` embeds the characters rendered so far, in batches, so a drawing can be ranked against the part
that is ready (`rank`, `ready` of `total`) seconds after the start while the rest follows. The characters are
rendered in an order spread over the font's blocks (`spread_order`), so the ready part holds some of every
block, not only Latin.

What is embedded is cached per font file and model (`cache_file`: the file's path, size and modification
time, its face, the rendering code, the model's fingerprint and the views), in the per-user cache folder, so
opening the same font again with the same model is ready at once; a search stopped half-way resumes there.
`save_gallery` writes the result as an ordinary gallery with its embedding cache filled, so opening that
gallery embeds nothing either.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_path
from ..recognition.embedding import Cancelled
from .render import PACKED_BYTES, FaceRenderer, RenderStream, pack_glyph, unpack_glyph
from ..gallery import Gallery
from .faces import FontFace, block_of, select_characters, write_font_gallery
from ..glyph import Glyph
from ..recognition.index import ReferenceIndex
from ..paths import user_cache_dir
from ..recognition.recognize import RankResult, Recognizer
from ..recognition.views import ViewConfig, card_views, reference_rows
from ..weights import LoadedModel

SEARCH_BATCH = 128  # characters embedded per step: a step takes ~1-2 s on a 2-core CPU
CACHE_VERSION = 1
_RENDER_CODE = ("fonts/render.py", "glyph")  # under engine/: what a rendering depends on (a change: new cache file)


def spread_order(codepoints: Sequence[int]) -> list[int]:
    """Return `codepoints` reordered so that every prefix holds about the same share of each Unicode block
    (each character's place is its rank within its block over the block's size; ties in Unicode order)."""
    by_block: dict[str, list[int]] = {}
    for cp in sorted(codepoints):
        by_block.setdefault(block_of(cp), []).append(cp)
    keyed = [((i + 0.5) / len(cps), cp) for cps in by_block.values() for i, cp in enumerate(cps)]
    return [cp for _, cp in sorted(keyed)]


def _render_digest() -> str:
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for name in _RENDER_CODE:
        path = root / name
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def cache_file(face: FontFace, fingerprint: str, views: ViewConfig, folder: Path | None = None) -> Path:
    """Return the cache file of `face` for a model (`fingerprint`, `views`): named by a digest of the font
    file's resolved path, size and modification time, its face index and the rendering code."""
    st = face.path.stat()
    key = f"{face.path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{face.index}\0{_render_digest()}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return (folder or user_cache_dir() / "font-search") / f"{digest}-{fingerprint}-{views.tag()}.npz"


class FontSearch:
    """Every drawable character of a font face (or `codepoints` of it), rendered, embedded and ranked as they
    become ready. Touch it from one thread at a time (the app's serial tasks); `close` it when done."""

    def __init__(self, loaded: LoadedModel, face: FontFace, codepoints: Sequence[int] | None = None,
                 views: ViewConfig | None = None, cache_folder: Path | None = None, workers: int | None = None):
        self.loaded, self.face = loaded, face
        wanted = select_characters(face).codepoints if codepoints is None else list(codepoints)
        self.order = spread_order(wanted)
        self.views = (views or card_views(loaded.card)).for_gallery(len(self.order))
        self._recognizer = Recognizer(loaded, Gallery.in_memory(face.full_name), views=self.views)
        self.cache = cache_file(face, self._recognizer.fingerprint, self.views, cache_folder)
        self._workers = workers
        self.codepoints: list[int] = []  # ready (embedded), in the order they became ready
        self._packed: list[np.ndarray] = []
        self._rows: list[torch.Tensor] = []  # per ready character: (rows per reference, D)
        self.blank: list[int] = []
        self.notdef: list[int] = []
        self._stream: RenderStream | None = None
        self._pending: list[tuple[int, np.ndarray | None]] = []
        self._box: np.ndarray | None = None
        self._dirty = False
        self._read_cache()
        self._reindex()

    # -- state

    @property
    def total(self) -> int:
        """Return how many characters the search will hold at most (blanks found while rendering drop out)."""
        return len(self.order) - len(self.blank) - len(self.notdef)

    @property
    def ready(self) -> int:
        """Return how many characters are embedded and ranked against."""
        return len(self.codepoints)

    @property
    def complete(self) -> bool:
        """Return True when every character is ready."""
        return self.ready == self.total

    def pixels(self, cp: int) -> np.ndarray | None:
        """Return the glyph pixels (float32 (105, 105), 1 = ink) of a ready character, or None."""
        try:
            return unpack_glyph(self._packed[self._position[cp]])
        except KeyError:
            return None

    # -- building

    def step(self, cancel: threading.Event | None = None, batch: int = SEARCH_BATCH, wait: float = 1.0) -> int:
        """Embed up to `batch` more rendered characters (rendering goes on in the background), waiting up to
        `wait` seconds for the renderer; return how many became ready. Raises `Cancelled` if `cancel` is set
        (what is ready stays, and is cached by `close`), OSError if a rendering worker failed."""
        if self.complete:
            return 0
        if cancel is not None and cancel.is_set():
            raise Cancelled("symbol search cancelled")
        self._start_rendering()
        if len(self._pending) < batch:
            self._pending += self._stream.take(batch - len(self._pending), timeout=wait)
        todo, self._pending = self._pending[:batch], self._pending[batch:]
        if not todo and self._stream.finished:  # raises OSError if a rendering worker failed
            raise OSError(f"{self.face.path}: the renderer ended before every character was drawn")
        drawn = self._sort_out(todo)
        if drawn:
            self._embed(drawn, cancel)
        if self.complete:
            self._write_cache()
            self._stop_rendering()
        return len(drawn)

    def build(self, progress: Callable[[int, int], None] | None = None,
              cancel: threading.Event | None = None) -> "FontSearch":
        """Step until every character is ready; `progress(ready, total)` after each step. Returns self."""
        while not self.complete:
            self.step(cancel)
            if progress:
                progress(self.ready, self.total)
        return self

    def _start_rendering(self) -> None:
        if self._stream is not None:
            return
        done = set(self.codepoints) | set(self.blank) | set(self.notdef)
        todo = [cp for cp in self.order if cp not in done]
        # The font's missing-glyph box, as FreeType draws a code point the font does not map: set apart below.
        self._box = pack_glyph(FaceRenderer(str(self.face.path), self.face.index).glyph_pixels(
            chr(self.face.unmapped())))
        self._stream = RenderStream(str(self.face.path), self.face.index, todo, self._workers)

    def _stop_rendering(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _sort_out(self, records: list[tuple[int, np.ndarray | None]]) -> list[tuple[int, np.ndarray]]:
        drawn = []
        for cp, packed in records:
            if packed is None:
                self.blank.append(cp)
            elif self._box is not None and np.array_equal(packed, self._box):
                self.notdef.append(cp)
            else:
                drawn.append((cp, packed))
        return drawn

    @torch.inference_mode()
    def _embed(self, drawn: list[tuple[int, np.ndarray]], cancel: threading.Event | None) -> None:
        pixels = np.stack([unpack_glyph(px) for _, px in drawn])
        v = self.views
        # The references' one path (GlyphEncoder: ink centring, views, the folded encoder), as a gallery's.
        views = self._recognizer.encoder.embed(pixels, v.reference_views, v.seed, v.center, batch_size=len(drawn),
                                               cancel=cancel)
        rows = reference_rows(views, v)
        for (cp, packed), row in zip(drawn, rows):
            self.codepoints.append(cp)
            self._packed.append(packed)
            self._rows.append(row)
        self._dirty = True
        self._reindex()

    def _reindex(self) -> None:
        dim = self.loaded.model.config.embedding_dim
        device = next(self.loaded.model.parameters()).device
        emb = (torch.stack(self._rows).reshape(-1, dim) if self._rows else torch.zeros(0, dim, device=device))
        self._position = {cp: i for i, cp in enumerate(self.codepoints)}
        self._recognizer.use_index(ReferenceIndex(self.loaded.model, emb, [1] * len(self.codepoints),
                                                  [chr(cp) for cp in self.codepoints],
                                                  self.views.rows_per_reference))

    # -- ranking

    def rank(self, glyph: Glyph | np.ndarray, k: int | None = 5) -> RankResult:
        """Return the `k` best characters among those ready (names are the characters themselves), best first."""
        return self._recognizer.rank(glyph, k)

    @property
    def recognizer(self) -> Recognizer:
        """Return the recogniser ranking against what is ready (its threshold and views are the model's)."""
        return self._recognizer

    # -- results

    def save_gallery(self, dest: str | Path, name: str, cancel: threading.Event | None = None) -> Gallery:
        """Return a new gallery at `dest` (a new or empty folder) of the ready characters in Unicode order, its
        embedding cache filled with their embeddings, so opening it embeds nothing."""
        order = sorted(range(self.ready), key=lambda i: self.codepoints[i])
        gallery = write_font_gallery(self.face, dest, name, [(self.codepoints[i], self._packed[i]) for i in order],
                                     cancel)
        keys = {c.char: c.references[0].key for c in gallery.characters}
        Recognizer(self.loaded, gallery, views=self._recognizer.views).adopt_embeddings(
            {keys[chr(cp)]: row for cp, row in zip(self.codepoints, self._rows)})
        return gallery

    def close(self) -> None:
        """Stop rendering and cache what is ready (so the next search of this font starts from there)."""
        self._stop_rendering()
        self._write_cache()

    def __enter__(self) -> "FontSearch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the cache

    def _read_cache(self) -> None:
        if not self.cache.is_file():
            return
        dim = self.loaded.model.config.embedding_dim
        width = dim * self.views.rows_per_reference
        try:
            with np.load(self.cache, allow_pickle=False) as z:
                version, cps, packed, emb = int(z["version"]), z["codepoints"], z["packed"], z["embeddings"]
                blank, notdef = z["blank"], z["notdef"]
            ok = (version == CACHE_VERSION and cps.ndim == 1 and packed.shape == (len(cps), PACKED_BYTES)
                  and packed.dtype == np.uint8 and emb.dtype == np.float32 and emb.shape == (len(cps), width)
                  and bool(np.isfinite(emb).all()))
        except Exception:  # a damaged or foreign file: render and embed again, never trust it
            return
        wanted = set(self.order)
        if not ok or not set(cps.tolist()) | set(blank.tolist()) | set(notdef.tolist()) <= wanted:
            return
        rows = torch.from_numpy(emb.copy()).view(len(cps), self.views.rows_per_reference, dim)
        device = next(self.loaded.model.parameters()).device
        self.codepoints = [int(c) for c in cps]
        self._packed = list(packed.copy())
        self._rows = list(rows.to(device))
        self.blank, self.notdef = [int(c) for c in blank], [int(c) for c in notdef]

    def _write_cache(self) -> None:
        if not self._dirty:
            return
        width = self.loaded.model.config.embedding_dim * self.views.rows_per_reference
        emb = (torch.stack(self._rows).reshape(self.ready, width).cpu().numpy() if self._rows
               else np.zeros((0, width), np.float32))
        try:
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.cache) as tmp, open(tmp, "wb") as f:
                np.savez(f, version=np.asarray(CACHE_VERSION), codepoints=np.asarray(self.codepoints, np.int32),
                         packed=np.asarray(self._packed, np.uint8).reshape(self.ready, PACKED_BYTES),
                         embeddings=np.ascontiguousarray(emb, np.float32),
                         blank=np.asarray(self.blank, np.int32), notdef=np.asarray(self.notdef, np.int32))
            self._dirty = False
        except OSError:  # a read-only cache folder: the search works, it only starts from scratch next time
            pass


__all__ = ["SEARCH_BATCH", "FontSearch", "cache_file", "spread_order"]
