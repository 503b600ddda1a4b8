"""Embedding many glyphs in batches, on any device, without gradients."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import torch

from .cancel import Cancelled  # noqa: F401 - raised here, and imported from here by callers
from .device import autocast
from .model import SiameseNet


@torch.no_grad()
def embed_glyphs(model: SiameseNet, glyphs: np.ndarray | torch.Tensor, batch_size: int = 512,
                 progress: Callable[[int, int], None] | None = None,
                 cancel: threading.Event | None = None) -> torch.Tensor:
    """Return float32 embeddings (n, dim) on the model's device for glyphs (n, H, W) with 1 = ink.

    Glyphs may be uint8 0/1 or float in [0, 1]; they are resized to the model's input size. The model is put
    in eval mode for the duration and restored afterwards.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    n = len(glyphs)
    out = []
    try:
        for start in range(0, n, batch_size):
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled")
            chunk = torch.as_tensor(np.asarray(glyphs[start:start + batch_size]) if not torch.is_tensor(glyphs)
                                    else glyphs[start:start + batch_size])
            x = model.prepare(chunk.to(device, non_blocking=True).float())
            with autocast(device):
                out.append(model.embed(x).float())
            if progress:
                progress(min(start + batch_size, n), n)
    finally:
        model.train(was_training)
    if not out:
        return torch.zeros(0, model.config.embedding_dim, device=device)
    return torch.cat(out)
