"""Batches and losses for all-pairs training: a batch of B images gives B(B-1)/2 labelled pairs.

Batches are built alphabet by alphabet (A alphabets x C characters x K drawers), so most negative pairs are
hard ones from the same alphabet, like the within-alphabet one-shot test. Optionally each character turned by
90, 180 or 270 degrees counts as a new character of a new alphabet, which quadruples the training classes.
Sampling is vectorised (a few tensor ops a batch) and draws from one seeded torch.Generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

_UNUSED = 2.0  # sort key for padding slots: after every uniform draw in [0, 1)


@dataclass(frozen=True)
class BatchConfig:
    """Batch composition: `alphabets` x `characters` per alphabet x `drawers` per character images."""

    alphabets: int = 4
    characters: int = 8
    drawers: int = 4
    class_rotations: bool = False

    @property
    def size(self) -> int:
        return self.alphabets * self.characters * self.drawers


@dataclass
class Batch:
    """Image indices into the training images, each with its class label and quarter-turn rotation."""

    index: torch.Tensor
    label: torch.Tensor
    rotation: torch.Tensor


def _padded(rows: list[np.ndarray]) -> torch.Tensor:
    table = torch.full((len(rows), max(len(r) for r in rows)), -1, dtype=torch.long)
    for i, r in enumerate(rows):
        table[i, : len(r)] = torch.as_tensor(r, dtype=torch.long)
    return table


def _pick(table: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """Return k entries drawn without replacement from each row of a -1-padded table (-1 where a row is short)."""
    keys = torch.rand(table.shape, generator=gen).masked_fill(table < 0, _UNUSED)
    order = keys.argsort(dim=1)[:, :k]
    return table.gather(1, order)


class AlphabetBatchSampler:
    """Draws batches from the training characters; all randomness comes from one seeded torch.Generator."""

    def __init__(self, char_alphabet: np.ndarray, char_images: list[np.ndarray], config: BatchConfig,
                 generator: torch.Generator):
        self.config = config
        self.gen = generator
        self.char_table = _padded(char_images)
        self.alphabet_table = _padded([np.flatnonzero(char_alphabet == a) for a in np.unique(char_alphabet)])
        self.n_rot = 4 if config.class_rotations else 1

    def sample(self) -> Batch:
        """Return the next batch of image indices with labels (distinct per character and rotation)."""
        cfg = self.config
        picks = torch.randperm(len(self.alphabet_table) * self.n_rot, generator=self.gen)[: cfg.alphabets]
        alphabet, rot = picks // self.n_rot, picks % self.n_rot
        chars = _pick(self.alphabet_table[alphabet], cfg.characters, self.gen)
        rot = rot[:, None].expand_as(chars)[chars >= 0]
        chars = chars[chars >= 0]
        images = _pick(self.char_table[chars], cfg.drawers, self.gen)
        valid = images >= 0
        label = (chars * 4 + rot)[:, None].expand_as(images)
        return Batch(images[valid], label[valid], rot[:, None].expand_as(images)[valid])


def pair_labels(label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (i, j, same) over all B(B-1)/2 pairs i < j of a batch: same is 1.0 where the classes match."""
    i, j = torch.triu_indices(len(label), len(label), offset=1, device=label.device)
    return i, j, (label[i] == label[j]).float()


def balanced_pair_loss(logits: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (loss, balanced pair accuracy) over all pairs of a batch from its [B, B] logits.

    Positives are rare (about K-1 of B-1 partners), so the loss is the mean of the positive-pair and
    negative-pair cross-entropies: both classes weigh the same whatever the batch composition. Written without
    data-dependent branches so the GPU never waits for the host.
    """
    i, j, same = pair_labels(label)
    pair = logits[i, j]
    bce = F.binary_cross_entropy_with_logits(pair, same, reduction="none")
    n_pos, n_neg = same.sum().clamp(min=1), (1 - same).sum().clamp(min=1)
    loss = 0.5 * ((bce * same).sum() / n_pos + (bce * (1 - same)).sum() / n_neg)
    correct = ((pair > 0).float() == same).float()
    acc = 0.5 * ((correct * same).sum() / n_pos + (correct * (1 - same)).sum() / n_neg)
    return loss, acc.detach()


def ranking_loss(logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Return the mean over images of -log P(a same-class partner scores highest among all batch partners).

    This is the decision an N-way one-shot test makes (the right character must outscore the others), taken
    over the whole batch through the same Koch head; images without a same-class partner do not count.
    """
    eye = torch.eye(len(label), dtype=torch.bool, device=label.device)
    same = (label[:, None] == label[None, :]) & ~eye
    # A large finite fill, not -inf: rows without positives must keep finite gradients.
    masked = logits.masked_fill(eye, -1e4)
    lse_all = torch.logsumexp(masked, dim=1)
    lse_pos = torch.logsumexp(masked.masked_fill(~same, -1e4), dim=1)
    has = same.any(dim=1)
    per_image = torch.where(has, lse_all - lse_pos, torch.zeros_like(lse_all))
    return per_image.sum() / has.sum().clamp(min=1)


def training_loss(logits: torch.Tensor, label: torch.Tensor, rank_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (loss, pair accuracy) of the all-pairs `logits` (B, B) of a batch with labels `label`: the balanced
    pair loss plus `rank_weight` times the ranking term (the Trainer's loss, and a refit head's)."""
    loss, acc = balanced_pair_loss(logits, label)
    if rank_weight:
        loss = loss + rank_weight * ranking_loss(logits, label)
    return loss, acc
