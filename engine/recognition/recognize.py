"""Ranking a drawn glyph against a gallery: one forward pass, then one vectorised comparison.

Score: the siamese network's similarity sigmoid(sum_j alpha_j |q_j - r_j| + bias) in [0, 1] between the
query's embedding q and a reference's r. A character with several references scores the MAXIMUM over its
references and their views (the drawing only has to look like one way of writing it; averaging would punish
a character for having varied examples), and `Match.reference` says which reference that was. The views (fixed
distortions of each reference, optionally of the query; engine.recognition.views) are the model card's unless given.

"No confident match" is reported when the best score is below the threshold: the one given, else the
model card's ``rank_threshold``, else `DEFAULT_THRESHOLD`, calibrated for the shipped model (see there).

Speed: reference embeddings (with their views) are computed once per model and cached beside the gallery
(engine.gallery.cache); in memory they are kept as the head prepares them, so that a query costs one or two
L1 distance sweeps (`torch.cdist`, p=1) over the store and no per-query rescaling of it (engine.recognition.index).
References and queries are embedded by the same `GlyphEncoder` (engine.recognition.embedding: ink centring, resize, views,
the folded inference encoder, float32), so the two sides of every comparison are computed alike.
`benchmarks/bench_recognition.py` measures it.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from .embedding import GlyphEncoder
from .index import ReferenceIndex
from ..gallery import Gallery
from ..gallery.cache import cache_path, read_embeddings, write_embeddings
from ..glyph import GLYPH_SIZE, MIN_INK_PIXELS, Glyph
from ..model import model_fingerprint
from .views import ViewConfig, card_views, reference_rows
from ..weights import LoadedModel, load_weights

# "No confident match" below this score when a model's card names no "rank_threshold" (every shipped card names
# one: "Glyphs compact v3" says 0.60, calibrated with its own choice, no views and the ink centred). Calibrating
# means `python benchmarks/bench_recognition.py --calibrate` on the background set's 4 held-out validation
# alphabets (never the evaluation alphabets): one-shot galleries of a whole alphabet, queries from the other
# drawers, each also scored as if its own character were not enrolled; the threshold is the highest that keeps
# >= 95% of the right top-1 answers confident. 0.66 is that rule's result for the same network with 8 reference
# views and no centring (95.1% of right answers kept, 71.7% of unknown characters rejected): a model nobody
# calibrated gets a value of its kind. Recalibrate and set the card's "rank_threshold" when shipping a model.
DEFAULT_THRESHOLD = 0.66
CARD_THRESHOLD_KEY = "rank_threshold"
EMBED_CHUNK = 256  # references embedded per step of `refresh` (bounds memory; progress and cancel per step)

ProgressFn = Callable[[int, int], None]


@dataclass
class Match:
    """One ranked character: its name, its score in [0, 1] and the index of its best-matching reference."""

    name: str
    score: float
    reference: int


@dataclass
class RankResult:
    """The ranking of one query: best first. `no_ink`: nothing drawn (the model did not run).

    `no_confident_match`: the best score is below `threshold` (or there are no matches at all).
    """

    no_ink: bool
    no_confident_match: bool
    matches: list[Match] = field(default_factory=list)
    threshold: float = DEFAULT_THRESHOLD
    model_input: np.ndarray | None = None  # the glyph as the encoder got it (`rank_many(keep_inputs=True)`)

    @property
    def best(self) -> Match | None:
        """Return the top match, or None."""
        return self.matches[0] if self.matches else None


# --------------------------------------------------------------------------------------------- recognizer


def query_pixels(glyph: Glyph | np.ndarray) -> tuple[np.ndarray, bool]:
    """Return (pixels float32 (105, 105), no_ink) of a Glyph or a glyph array (1 = ink, values in [0, 1]).

    Raises ValueError for an array of another shape or range (use `glyph_from_image` for images).
    """
    if isinstance(glyph, Glyph):
        return glyph.pixels, glyph.no_ink
    px = np.asarray(glyph)
    if px.shape != (GLYPH_SIZE, GLYPH_SIZE):
        raise ValueError(f"A query glyph is a {GLYPH_SIZE}x{GLYPH_SIZE} array, got {px.shape}; "
                         f"use engine.glyph.glyph_from_image for other images")
    px = px.astype(np.float32)
    if not np.all(np.isfinite(px)) or px.min() < 0 or px.max() > 1:
        raise ValueError("A query glyph's pixels must be within [0, 1] (1 = ink)")
    return px, bool(np.count_nonzero(px >= 0.5) < MIN_INK_PIXELS)


class Recognizer:
    """Ranks glyphs against a gallery with a loaded model.

    Reference embeddings are computed on first use (or by `refresh`, with progress and cancel), cached
    beside the gallery per model, and updated incrementally when the gallery changes: `rank` notices a
    changed `gallery.revision` by itself, `on_gallery_changed` does it eagerly. `rank` may be called from
    another thread than `refresh`; while a refresh runs it uses the previous state of the gallery.
    """

    def __init__(self, loaded: LoadedModel, gallery: Gallery, threshold: float | None = None,
                 views: ViewConfig | None = None):
        self.loaded = loaded
        self.gallery = gallery
        card_threshold = (loaded.card or {}).get(CARD_THRESHOLD_KEY)
        self.threshold = float(threshold if threshold is not None else
                               card_threshold if card_threshold is not None else DEFAULT_THRESHOLD)
        self.views = views if views is not None else card_views(loaded.card)
        self.fingerprint = loaded.fingerprint or model_fingerprint(loaded.model)
        self._stored = self.views  # the views the stored reference embeddings have (see `_refresh`)
        self.encoder = GlyphEncoder(loaded.model)  # references and queries alike
        self._device = next(loaded.model.parameters()).device
        self._known: dict[str, torch.Tensor] = {}  # pixel digest -> embedding (D,)
        self._cache_read = False
        self._index: ReferenceIndex | None = None
        self._revision: int | None = None
        self._lock = threading.Lock()
        self.embedded_count = 0  # references embedded by this object (not found in the cache): for tests/UI

    # -- references

    def refresh(self, progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> None:
        """Bring the reference embeddings up to date with the gallery, computing only those not cached.

        `progress(done, total)` counts references to embed; `cancel` raises `Cancelled` (what was
        computed so far is kept in the cache).
        """
        with self._lock:
            self._refresh(progress, cancel)

    def adopt_embeddings(self, rows: dict[str, torch.Tensor]) -> None:
        """Take reference embeddings made elsewhere with this model and views ({pixel digest: (rows per
        reference, D)}, e.g. by a symbol search) as if computed here, and write them to the gallery's cache."""
        with self._lock:
            refs = [r for c in self.gallery.characters for r in c.references]
            self._use_views_for(len(refs))
            self._known.update(rows)
            self._write_cache([r.key for r in refs])

    def _use_views_for(self, references: int) -> None:
        stored = self.views.for_gallery(references)
        if stored.tag() != self._stored.tag():  # crossed the size above which references get no views
            self._stored, self._known, self._cache_read = stored, {}, False

    def on_gallery_changed(self) -> None:
        """Update after a gallery edit: embeds only the new references (a rename or delete embeds nothing)."""
        self.refresh()

    def _refresh(self, progress: ProgressFn | None, cancel: threading.Event | None) -> None:
        revision, characters = self.gallery.revision, list(self.gallery.characters)
        refs = [r for c in characters for r in c.references]
        keys = [r.key for r in refs]
        self._use_views_for(len(refs))
        self._read_cache()
        missing = {k: r for k, r in zip(keys, refs) if k not in self._known}
        try:
            self._embed_missing(list(missing.values()), progress, cancel)
        finally:
            if missing:
                self._write_cache(keys)
        dim = self.loaded.model.config.embedding_dim
        emb = (torch.stack([self._known[k] for k in keys]).reshape(-1, dim) if keys
               else torch.zeros(0, dim, device=self._device))
        self._index = ReferenceIndex(self.loaded.model, emb, [len(c.references) for c in characters],
                                     [c.name for c in characters], self._rows)
        self._revision = revision

    def _embed_missing(self, refs: list, progress: ProgressFn | None, cancel: threading.Event | None) -> None:
        total = len(refs)
        for start in range(0, total, EMBED_CHUNK):
            chunk = refs[start:start + EMBED_CHUNK]
            pixels = np.stack([r.pixels for r in chunk])
            views = self.encoder.embed(pixels, self._stored.reference_views, self._stored.seed, self._stored.center,
                                       batch_size=EMBED_CHUNK, cancel=cancel)
            for r, e in zip(chunk, reference_rows(views, self._stored)):
                self._known[r.key] = e  # (rows per reference, D)
            self.embedded_count += len(chunk)
            if progress:
                progress(start + len(chunk), total)

    @property
    def _rows(self) -> int:
        return self._stored.rows_per_reference

    @property
    def _cache_tag(self) -> str:
        tag = self._stored.tag()
        return self.fingerprint if tag == "plain" else f"{self.fingerprint}-{tag}"

    def _read_cache(self) -> None:
        if self._cache_read or self.gallery.path is None:
            return
        self._cache_read = True
        dim = self.loaded.model.config.embedding_dim
        keys, emb = read_embeddings(cache_path(self.gallery.path, self._cache_tag), self._cache_tag,
                                    dim * self._rows)
        rows = torch.from_numpy(emb).to(self._device).view(len(keys), self._rows, dim)
        for k, row in zip(keys, rows):
            self._known.setdefault(k, row)

    def _write_cache(self, keys: list[str]) -> None:
        if self.gallery.path is None:
            return
        # Only what the gallery uses now: embeddings of deleted references are not kept forever.
        keep = [k for k in dict.fromkeys(keys) if k in self._known]
        width = self.loaded.model.config.embedding_dim * self._rows
        emb = (torch.stack([self._known[k] for k in keep]).reshape(len(keep), width).cpu().numpy() if keep
               else np.zeros((0, width), np.float32))
        write_embeddings(cache_path(self.gallery.path, self._cache_tag), self._cache_tag, keep, emb)

    def use_index(self, index: ReferenceIndex) -> None:
        """Rank against a prepared index instead of the gallery's (benchmarks: synthetic embeddings)."""
        self._index, self._revision = index, self.gallery.revision

    def _current_index(self) -> ReferenceIndex:
        index = self._index
        if index is not None and self._revision == self.gallery.revision:
            return index
        # Changed gallery: update now, unless a refresh is already running elsewhere (then use the old state).
        if self._lock.acquire(blocking=index is None):
            try:
                if self._index is None or self._revision != self.gallery.revision:
                    self._refresh(None, None)
            finally:
                self._lock.release()
        return self._index

    @property
    def index(self) -> ReferenceIndex:
        """Return the reference index, refreshing it first if the gallery changed."""
        return self._current_index()

    # -- ranking

    def query_inputs(self, pixels: np.ndarray) -> torch.Tensor:
        """Return glyph pixels (n, 105, 105) as the encoder gets them (`GlyphEncoder.inputs`: ink centred when
        the views say so)."""
        return self.encoder.inputs(pixels, self.views.center)

    @torch.inference_mode()
    def embed_queries(self, pixels: np.ndarray) -> torch.Tensor:
        """Return embeddings (n, 1 + query views, D) of glyph pixels (n, 105, 105), as references are embedded."""
        return self.encoder.embed_inputs(self.query_inputs(pixels), self.views.query_views, self.views.seed)

    def rank(self, glyph: Glyph | np.ndarray, k: int | None = 5) -> RankResult:
        """Return the `k` best characters for a glyph (all if k is None), best first.

        No ink: `RankResult(no_ink=True, ...)` without running the model. Empty gallery: no matches.
        """
        return self.rank_many([glyph], k)[0]

    @torch.inference_mode()
    def rank_many(self, glyphs: Sequence[Glyph | np.ndarray], k: int | None = 5, batch_size: int = 64,
                  keep_inputs: bool = False) -> list[RankResult]:
        """Return a RankResult per glyph, like `rank`, embedding the queries in one forward pass per
        `batch_size` glyphs. With `keep_inputs`, each ranked result's `model_input` is its glyph as the encoder
        got it (off by default: 44 KB a glyph)."""
        queries = [query_pixels(g) for g in glyphs]
        results: list[RankResult | None] = [RankResult(True, True, [], self.threshold) if no_ink else None
                                            for _, no_ink in queries]
        todo = [i for i, r in enumerate(results) if r is None]
        empty = bool(todo) and len(self._current_index()) == 0  # nothing to compare with: the model need not run
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            inputs = self.query_inputs(np.stack([queries[i][0] for i in batch]))
            ranked = ([RankResult(False, True, [], self.threshold) for _ in batch] if empty else
                      self.rank_embeddings(self.encoder.embed_inputs(inputs, self.views.query_views,
                                                                     self.views.seed), k))
            for i, x, result in zip(batch, inputs, ranked):
                results[i] = replace(result, model_input=x.cpu().numpy()) if keep_inputs else result
        return [r or RankResult(False, True, [], self.threshold) for r in results]

    @torch.inference_mode()
    def rank_embeddings(self, embeddings: torch.Tensor, k: int | None = 5) -> list[RankResult]:
        """Return a RankResult per query embedding (n, D), or query views (n, V, D) from `embed_queries`."""
        index = self._current_index()
        if len(index) == 0:
            return [RankResult(False, True, [], self.threshold) for _ in range(len(embeddings))]
        logits = index.logits(embeddings)
        return [self._result(index, index.top(row, k)) for row in logits]

    def _result(self, index: ReferenceIndex, top: list[tuple[int, float, int]]) -> RankResult:
        matches = [Match(index.names[c], _sigmoid(v), ref) for c, v, ref in top]
        confident = bool(matches) and matches[0].score >= self.threshold
        return RankResult(False, not confident, matches, self.threshold)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


# ------------------------------------------------------------------------------------------- convenience

_default_model: LoadedModel | None = None
_recognizers: "weakref.WeakKeyDictionary[Gallery, Recognizer]" = weakref.WeakKeyDictionary()


def default_model() -> LoadedModel:
    """Return the shipped model on the CPU, loaded once per process."""
    global _default_model
    if _default_model is None:
        _default_model = load_weights()
    return _default_model


def rank(glyph: Glyph | np.ndarray, gallery: Gallery, k: int | None = 5,
         loaded: LoadedModel | None = None) -> RankResult:
    """Return the ranking of `glyph` against `gallery` (default model: the shipped one), reusing a
    Recognizer per gallery so that reference embeddings are computed once."""
    loaded = loaded or default_model()
    rec = _recognizers.get(gallery)
    if rec is None or rec.loaded is not loaded:
        rec = Recognizer(loaded, gallery)
        _recognizers[gallery] = rec
    return rec.rank(glyph, k)
