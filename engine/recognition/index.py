"""Scoring one query against many references at once: the gallery's index, also used by the benchmarks.

A character scores the MAXIMUM over its references and their views (the drawing only has to look like one way
of writing it; averaging would punish a character for having varied examples).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..model import SiameseNet


class ReferenceIndex:
    """Reference embeddings prepared for scoring queries against all of them at once.

    The store keeps the references as the head prepares them (`WeightedL1Head.split`: rescaled by |alpha| and
    split by its sign; the same memory as the raw embeddings), so a query costs the head's `split_logits`: one
    or two `torch.cdist(p=1)` sweeps with nothing of the store's size allocated. (Rescaling every reference on
    every call would be about 10x slower at 100,000.)

    Why not a cheaper blocked loop (|Q - R| = Q + R - 2 min(Q, R): a `minimum` and a matrix-vector product
    per cache-sized block): it saves ~25-45% of CPU time on one thread, but makes hundreds of parallel
    regions per query, and on a busy 2-core machine each waits for a descheduled thread: measured 10-20x
    slower there with 2 threads, against cdist's two regions.

    Rows are grouped by character (`starts[c]:starts[c+1]` are character c's rows, in order), each reference
    as `rows_per_reference` consecutive rows (its views, engine.recognition.views).
    """

    @torch.no_grad()
    def __init__(self, model: SiameseNet, embeddings: torch.Tensor, counts: Sequence[int], names: Sequence[str],
                 rows_per_reference: int = 1):
        self.head = model.head
        self.store = tuple(t.contiguous() for t in self.head.split(embeddings.float()))
        self.names = list(names)
        self.rows_per_reference = rows_per_reference  # a reference's views (engine.recognition.views) are rows side by side
        counts_t = torch.as_tensor(list(counts), dtype=torch.long) * rows_per_reference
        self.starts = torch.zeros(len(self.names) + 1, dtype=torch.long)
        self.starts[1:] = torch.cumsum(counts_t, 0) if len(counts_t) else counts_t
        self.owner = torch.repeat_interleave(torch.arange(len(self.names)), counts_t).to(embeddings.device)
        self.single = bool(len(counts_t) and int(counts_t.max()) == 1 and int(counts_t.min()) == 1)

    def __len__(self) -> int:
        return self.store[0].shape[0]

    @property
    def nbytes(self) -> int:
        """Return the memory held by the scaled embeddings and the character map."""
        return sum(t.numel() * t.element_size() for t in (*self.store, self.owner, self.starts))

    @torch.no_grad()
    def logits(self, query: torch.Tensor) -> torch.Tensor:
        """Return the logits (q, rows) of queries (q, D), or of query views (q, V, D) averaged over their
        views, against every row."""
        views = query.reshape(len(query), -1, query.shape[-1]).float().to(self.store[0].device)
        flat = self.head.split_logits(self.head.split(views.flatten(0, 1)), self.store)
        return flat.view(views.shape[0], views.shape[1], -1).mean(dim=1)

    def character_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Return each character's logit (q, characters): the best over its rows (sigmoid is monotonic)."""
        if self.single:
            return logits
        best = torch.full((len(logits), len(self.names)), -torch.inf, device=logits.device)
        return best.scatter_reduce_(1, self.owner.expand_as(logits), logits, reduce="amax")

    def top(self, logits: torch.Tensor, k: int | None) -> list[tuple[int, float, int]]:
        """Return [(character, logit, reference within it)] of the best `k` characters (all if None), best first.

        A character's logit is the max over its references (sigmoid is monotonic, so max of scores).
        """
        n_chars = len(self.names)
        best = self.character_logits(logits[None])[0]
        k = n_chars if k is None or k <= 0 else min(k, n_chars)
        values, chars = torch.topk(best, k)
        out = []
        for v, c in zip(values.tolist(), chars.tolist()):
            s, e = int(self.starts[c]), int(self.starts[c + 1])
            ref = 0 if e - s == 1 else int(torch.argmax(logits[s:e])) // self.rows_per_reference
            out.append((c, v, ref))
        return out


def score_characters(model: SiameseNet, references: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """Return each query's logit for each character (n, characters): references (characters, rows, D) are each
    character's rows (its references' views), queries (n, views, D) or (n, D)."""
    n_chars, rows, dim = references.shape
    index = ReferenceIndex(model, references.reshape(-1, dim), [rows] * n_chars, range(n_chars))
    return index.character_logits(index.logits(queries))
