"""The one path from glyph pixels to embeddings: references, queries, evaluation and the CLI all take it.

`GlyphEncoder` does, in this order and in this one place: each glyph's ink centred on the 105-px glyph when the
model's views say so (engine.recognition.centering), the resize to the network's input (`SiameseNet.prepare`), the fixed
views (engine.recognition.views), then the inference encoder (`fast_encoder`: batch norm folded into the convolutions,
channels-last), in the network's own dtype (float32) on every device.

Why one precision everywhere: a siamese score compares two embeddings, so a reference embedded in bf16 and a query
in float32 would differ by the rounding of one side only; the threshold is calibrated in float32; and reference
embeddings are cached beside the gallery per model, not per device, so a cache written on a GPU serves the CPU.
Embedding a gallery in float32 on a GPU costs little (a few thousand small glyphs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import torch

from ..cancel import Cancelled  # noqa: F401 - raised here; callers catch it from engine.cancel or from here
from .centering import center_ink
from ..model import SiameseNet, fast_encoder
from .views import embed_views

ProgressFn = Callable[[int, int], None]


class GlyphEncoder:
    """Embeds glyphs (n, H, W), 1 = ink, with one model: the same steps for references and queries.

    The encoder is a folded copy of the model's, made here: build a new GlyphEncoder after the weights change.
    """

    def __init__(self, model: SiameseNet) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.encode: Callable[[torch.Tensor], torch.Tensor] = fast_encoder(model)

    def inputs(self, glyphs: np.ndarray | torch.Tensor, center: bool) -> torch.Tensor:
        """Return glyphs (n, H, W) as the encoder gets them before the resize to its input size: float32 on the
        model's device, each one's ink centred when `center`."""
        if torch.is_tensor(glyphs):
            x = glyphs
        else:
            px = np.ascontiguousarray(glyphs, dtype=np.float32)
            x = torch.from_numpy(px if px.flags.writeable else px.copy())
        x = x.to(self.device, non_blocking=True).float()
        return center_ink(x.unsqueeze(1))[:, 0] if center else x

    @torch.no_grad()
    def embed_inputs(self, inputs: torch.Tensor, views: int = 0, seed: int = 0) -> torch.Tensor:
        """Return float32 embeddings (n, 1 + views, D) of `inputs` (from `inputs`) and `views` fixed distortions
        of each (engine.recognition.views)."""
        was_training = self.model.training
        self.model.eval()  # only matters when `fast_encoder` fell back to the model's own encoder
        try:
            return embed_views(self.encode, self.model.prepare(inputs), views, seed).float()
        finally:
            self.model.train(was_training)

    def embed(self, glyphs: np.ndarray | torch.Tensor, views: int = 0, seed: int = 0, center: bool = False,
              batch_size: int = 512, progress: ProgressFn | None = None,
              cancel: threading.Event | None = None) -> torch.Tensor:
        """Return float32 embeddings (n, 1 + views, D) of glyphs (n, H, W), in batches of about `batch_size`
        images (views included); `progress(done, total)` after each, `cancel` raises `Cancelled` between them."""
        n = len(glyphs)
        step = max(1, batch_size // (1 + views))
        out = []
        for start in range(0, n, step):
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled")
            out.append(self.embed_inputs(self.inputs(glyphs[start:start + step], center), views, seed))
            if progress:
                progress(min(start + step, n), n)
        if not out:
            return torch.zeros(0, 1 + views, self.model.config.embedding_dim, device=self.device)
        return torch.cat(out)


def embed_glyphs(model: SiameseNet, glyphs: np.ndarray | torch.Tensor, batch_size: int = 512,
                 progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> torch.Tensor:
    """Return float32 embeddings (n, dim) on the model's device for glyphs (n, H, W) with 1 = ink.

    Glyphs may be uint8 0/1 or float in [0, 1]; they are resized to the model's input size. The model's mode
    (train or eval) is restored afterwards.
    """
    return embed_glyph_views(model, glyphs, 0, batch_size=batch_size, progress=progress, cancel=cancel)[:, 0]


def embed_glyph_views(model: SiameseNet, glyphs: np.ndarray | torch.Tensor, views: int, seed: int = 0,
                      batch_size: int = 512, progress: ProgressFn | None = None,
                      cancel: threading.Event | None = None, center: bool = False) -> torch.Tensor:
    """Return float32 embeddings (n, 1 + views, dim) of glyphs (n, H, W) and `views` fixed distortions of each
    (engine.recognition.views), like `embed_glyphs`; with `center`, of the glyphs with their ink centred (engine.recognition.centering)."""
    return GlyphEncoder(model).embed(glyphs, views, seed, center, batch_size, progress, cancel)
