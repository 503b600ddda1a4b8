"""Fixed distorted views: each reference (and, as an option, each query) is embedded with a few fixed
distortions of itself, so a drawing matches a reference that was written a little rotated, slanted or scaled.

The distortions are Koch et al.'s affine family (engine.augment), drawn once from a fixed seed: view 0 is the
glyph itself, view i > 0 applies the same matrix to every glyph, so a gallery's cached embeddings stay valid and
two runs give the same scores. How a reference's views combine into its score (`ViewConfig.rule`):

- "max": each view is a reference of its own, and a character scores the best logit over all its views (a
  drawing has only to look like one plausible variant of the reference). Costs (1 + views) rows per reference.
- "prototype": the mean of the views' embeddings is the reference (one row; no cost at query time).

Query views (an option: each costs a forward pass) are combined by the mean of their logits, which averages out
the one distortion that happens to fit a wrong character.

`ViewConfig` also says whether each glyph's ink is centred before any of this (`center`, engine.recognition.centering): it is
part of how a model is used, so it travels with the views in model cards and names the embedding cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import torch

from ..augment import AffineConfig, identity_matrices, random_affine_matrices, warp

RULES = ("max", "prototype")
# Above this many references a gallery's references get no views: each view is a forward pass when a reference
# is enrolled and a row every query is compared with, and a gallery that size (a whole font for symbol search)
# needs enrolment in seconds and queries within 15 ms more than the point or so the views add (bench_fonts.py:
# DejaVu Sans whole, 5,681 characters: 346 s to embed and 16 ms a query with 8 views).
MAX_VIEWED_REFERENCES = 2000
QUERY_VIEWS_OPTION = 4  # query views when a person turns them on (benchmarks/bench_accuracy.py measures it)
CARD_VIEWS_KEY = "views"  # a model card's chosen ViewConfig (chosen on its validation alphabets)


@dataclass(frozen=True)
class ViewConfig:
    """How many fixed distortions of each reference and of each query are embedded beside the glyph itself."""

    reference_views: int = 0
    query_views: int = 0
    rule: str = "max"
    seed: int = 0
    center: bool = False  # move each glyph's ink box to the middle first (engine.recognition.centering)

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f"Unknown view rule {self.rule!r}; known: {', '.join(RULES)}")
        if not (0 <= self.reference_views <= 64 and 0 <= self.query_views <= 64):
            raise ValueError("views per glyph must be within 0-64")

    @property
    def rows_per_reference(self) -> int:
        """Return how many embeddings a reference keeps in the index."""
        return 1 if self.rule == "prototype" else 1 + self.reference_views

    def for_gallery(self, references: int) -> "ViewConfig":
        """Return the views a gallery of this many references uses: these, without reference views above
        MAX_VIEWED_REFERENCES."""
        return self if references <= MAX_VIEWED_REFERENCES else replace(self, reference_views=0)

    def tag(self) -> str:
        """Return a short name of what a reference's stored embeddings depend on (for cache file names)."""
        views = "plain" if not self.reference_views else f"v{self.reference_views}{self.rule[0]}{self.seed}"
        return ("c" if views == "plain" else f"{views}c") if self.center else views

    def to_dict(self) -> dict:
        """Return the config as JSON-ready data."""
        return asdict(self)

    @staticmethod
    def from_dict(data: dict | None) -> "ViewConfig":
        """Return a config from `to_dict` output (unknown keys ignored; None gives the plain pipeline)."""
        data = data or {}
        keys = ("reference_views", "query_views", "rule", "seed", "center")
        return ViewConfig(**{k: data[k] for k in keys if k in data})


def view_matrices(count: int, seed: int = 0, device="cpu") -> torch.Tensor:
    """Return (1 + count, 2, 3) affine matrices: the identity, then `count` fixed draws of Koch's distortions.

    View i is drawn from its own seed, so it is the same matrix whatever `count` is: the first 4 of 8 views
    are the 4 views, and a reference's cached views serve queries that use fewer.
    """
    drawn = [random_affine_matrices(1, AffineConfig(), torch.Generator().manual_seed(seed * 1009 + i), "cpu")
             for i in range(1, count + 1)]
    return torch.cat([identity_matrices(1, "cpu"), *drawn]).to(device)


def expand_views(x: torch.Tensor, count: int, seed: int = 0) -> torch.Tensor:
    """Return prepared images (n, 1, S, S) as (n * (1 + count), 1, S, S): each image followed by its views."""
    if count == 0:
        return x
    mats = view_matrices(count, seed, x.device)
    n = x.shape[0]
    rep = x.repeat_interleave(count + 1, dim=0)
    return warp(rep, mats.repeat(n, 1, 1))


def embed_views(encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, count: int,
                seed: int = 0) -> torch.Tensor:
    """Return embeddings (n, 1 + count, D) of prepared images (n, 1, S, S) and their fixed views."""
    emb = encode(expand_views(x, count, seed)).float()
    return emb.view(x.shape[0], count + 1, -1)


def reference_rows(views_emb: torch.Tensor, config: ViewConfig) -> torch.Tensor:
    """Return the index rows (n, rows_per_reference, D) of references' view embeddings (n, 1 + views, D)."""
    if config.rule == "prototype":
        return views_emb.mean(dim=1, keepdim=True)
    return views_emb


def card_views(card: dict | None) -> ViewConfig:
    """Return the views a model's card asks for (the plain pipeline when it names none)."""
    return ViewConfig.from_dict((card or {}).get(CARD_VIEWS_KEY))


def describe_views(views: ViewConfig) -> str:
    """Return the views in words, e.g. "8 reference views (max), no query views"."""
    refs = f"{views.reference_views} reference views ({views.rule})" if views.reference_views else "no reference views"
    queries = f"{views.query_views} query views" if views.query_views else "no query views"
    return f"{refs}, {queries}{', ink centred' if views.center else ''}"
