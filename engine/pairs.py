"""Batches for the all-pairs loss: a batch of B images gives B(B-1)/2 labelled pairs.

Batches are built alphabet by alphabet (A alphabets x C characters x K drawers), so most negative pairs are
hard ones from the same alphabet, like the within-alphabet one-shot test. Optionally each character rotated by
90, 180 and 270 degrees counts as a new character of a new alphabet, which quadruples the training classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


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


class AlphabetBatchSampler:
    """Draws batches from the training characters; all randomness comes from one seeded torch.Generator."""

    def __init__(self, char_alphabet: np.ndarray, char_images: list[np.ndarray], config: BatchConfig,
                 generator: torch.Generator):
        self.config = config
        self.gen = generator
        self.char_images = [torch.as_tensor(ix, dtype=torch.long) for ix in char_images]
        alphabets = np.unique(char_alphabet)
        self.alphabet_chars = [torch.as_tensor(np.flatnonzero(char_alphabet == a)) for a in alphabets]
        self.n_rot = 4 if config.class_rotations else 1

    def sample(self) -> Batch:
        """Return the next batch of image indices with labels (distinct per character and rotation)."""
        cfg = self.config
        n_virtual = len(self.alphabet_chars) * self.n_rot
        picks = torch.randperm(n_virtual, generator=self.gen)[: cfg.alphabets]
        index, label, rotation = [], [], []
        for virtual in picks.tolist():
            alphabet, rot = divmod(virtual, self.n_rot)
            chars = self.alphabet_chars[alphabet]
            chosen = chars[torch.randperm(len(chars), generator=self.gen)[: cfg.characters]]
            for c in chosen.tolist():
                images = self.char_images[c]
                take = images[torch.randperm(len(images), generator=self.gen)[: cfg.drawers]]
                index.append(take)
                label.append(torch.full((len(take),), c * 4 + rot))
                rotation.append(torch.full((len(take),), rot))
        return Batch(torch.cat(index), torch.cat(label), torch.cat(rotation))


def apply_rotations(images: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """Return images (n, 1, S, S) each turned by rotation[i] quarter turns."""
    if not bool((rotation != 0).any()):
        return images
    out = images.clone()
    for k in (1, 2, 3):
        sel = rotation == k
        if bool(sel.any()):
            out[sel] = torch.rot90(images[sel], k, dims=(2, 3))
    return out


def pair_labels(label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (i, j, same) over all B(B-1)/2 pairs i < j of a batch: same is 1.0 where the classes match."""
    i, j = torch.triu_indices(len(label), len(label), offset=1, device=label.device)
    return i, j, (label[i] == label[j]).float()


def balanced_pair_loss(logits: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (loss, balanced pair accuracy) over all pairs of a batch from its [B, B] logits.

    Positives are rare (about K-1 of B-1 partners), so the loss is the mean of the positive-pair and
    negative-pair cross-entropies: both classes weigh the same whatever the batch composition.
    """
    i, j, same = pair_labels(label)
    pair = logits[i, j]
    bce = F.binary_cross_entropy_with_logits(pair, same, reduction="none")
    pos, neg = same > 0.5, same < 0.5
    loss = 0.5 * (bce[pos].mean() + bce[neg].mean()) if pos.any() else bce[neg].mean()
    correct = (pair > 0) == pos
    acc = 0.5 * (correct[pos].float().mean() + correct[neg].float().mean()) if pos.any() else correct.float().mean()
    return loss, acc.detach()
