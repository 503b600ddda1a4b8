"""Embedding many glyphs in batches, on any device, without gradients."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import torch

from .cancel import Cancelled  # noqa: F401 - raised here, and imported from here by callers
from .centering import center_ink
from .device import autocast
from .model import SiameseNet
from .views import embed_views


@torch.no_grad()
def embed_glyphs(model: SiameseNet, glyphs: np.ndarray | torch.Tensor, batch_size: int = 512,
                 progress: Callable[[int, int], None] | None = None,
                 cancel: threading.Event | None = None) -> torch.Tensor:
    """Return float32 embeddings (n, dim) on the model's device for glyphs (n, H, W) with 1 = ink.

    Glyphs may be uint8 0/1 or float in [0, 1]; they are resized to the model's input size. The model is put
    in eval mode for the duration and restored afterwards.
    """
    return embed_glyph_views(model, glyphs, 0, batch_size=batch_size, progress=progress, cancel=cancel)[:, 0]


@torch.no_grad()
def embed_glyph_views(model: SiameseNet, glyphs: np.ndarray | torch.Tensor, views: int, seed: int = 0,
                      batch_size: int = 512, progress: Callable[[int, int], None] | None = None,
                      cancel: threading.Event | None = None, center: bool = False) -> torch.Tensor:
    """Return float32 embeddings (n, 1 + views, dim) of glyphs (n, H, W) and `views` fixed distortions of each
    (engine.views), like `embed_glyphs`; with `center`, of the glyphs with their ink centred (engine.centering)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    n = len(glyphs)
    step = max(1, batch_size // (1 + views))
    out = []
    try:
        for start in range(0, n, step):
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled")
            chunk = torch.as_tensor(np.asarray(glyphs[start:start + step]) if not torch.is_tensor(glyphs)
                                    else glyphs[start:start + step])
            x = chunk.to(device, non_blocking=True).float()
            x = model.prepare(center_ink(x.unsqueeze(1)) if center else x)
            with autocast(device):
                out.append(embed_views(model.embed, x, views, seed))
            if progress:
                progress(min(start + step, n), n)
    finally:
        model.train(was_training)
    if not out:
        return torch.zeros(0, 1 + views, model.config.embedding_dim, device=device)
    return torch.cat(out)
