"""Fitting a new head on a trained encoder's frozen embeddings (seconds on a CPU).

Used when training continues from weights whose head is of another kind than the one asked for (the shipped
models before the monotone head had the paper's signed head): the encoder's embeddings of training-alphabet
images are computed once, then only the head learns, over within-alphabet batches with the trainer's losses.
The encoder then fine-tunes with a head that already agrees with it, instead of one that starts from nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..recognition.embedding import embed_glyphs
from ..model import MonotoneHead, SiameseNet, WeightedL1Head
from ..pairs import AlphabetBatchSampler, BatchConfig, training_loss


@dataclass(frozen=True)
class HeadFitConfig:
    """How a head is refit: `images` training images embedded once, then `steps` Adam steps on batches."""

    images: int = 8000
    steps: int = 400
    lr: float = 0.02
    rank_weight: float = 1.0
    batch: BatchConfig = BatchConfig(alphabets=4, characters=8, drawers=4)
    seed: int = 0


def fit_head(model: SiameseNet, images: torch.Tensor, char: np.ndarray, char_alphabet: np.ndarray,
             config: HeadFitConfig = HeadFitConfig()) -> WeightedL1Head:
    """Return `model.head` fitted (in place) to the model's frozen embeddings of a sample of `images`.

    `images` (n, 1, S, S) at the model's input size; `char` gives each image's character (0..C-1) and
    `char_alphabet` each character's alphabet. A monotone head starts from the magnitudes of the head it
    replaces where they are negative, which is the weights' own evidence of what matters.
    """
    gen = torch.Generator().manual_seed(config.seed)
    pick = torch.randperm(len(images), generator=gen)[: config.images].numpy()
    emb = embed_glyphs(model, images[pick]).detach()
    chars = char[pick]
    sampler = AlphabetBatchSampler(char_alphabet, [np.flatnonzero(chars == c) for c in range(len(char_alphabet))],
                                   config.batch, gen)
    head = model.head
    optimizer = torch.optim.Adam(head.parameters(), lr=config.lr)
    for _ in range(config.steps):
        batch = sampler.sample()
        x = emb[batch.index.to(emb.device)]
        # The embeddings are constants here: all |a - b| once, then a matrix-vector product per step is far
        # cheaper to differentiate than the L1 sweeps (cdist) the trainer needs for its encoder's gradients.
        logits = (x[:, None] - x[None]).abs() @ head.alpha + head.bias
        loss, _ = training_loss(logits, batch.label.to(emb.device), config.rank_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return head


def monotone_from(head: WeightedL1Head) -> MonotoneHead:
    """Return a monotone head starting from another head's weights (its positive weights made tiny)."""
    new = MonotoneHead(head.alpha.numel())
    new.set_alpha(head.alpha.detach())
    new.bias.data.copy_(head.bias.detach())
    return new
