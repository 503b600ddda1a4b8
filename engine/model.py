"""The siamese network (Koch, Zemel & Salakhutdinov 2015): twin encoders sharing weights, a weighted-L1 head.

similarity(a, b) = sigmoid(sum_j alpha_j * |h(a)_j - h(b)_j| + bias)

`embed` and `score` are separate so that a gallery embeds each reference once and a query is one forward pass
plus one vectorised comparison. The head is symmetric by construction: score(a, b) == score(b, a).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .units import GLYPH_SIZE
# What `SiameseNet.prepare` does to a glyph, in words, for model cards.
PREPROCESSING = "105x105 glyph, 1 = ink, 0 = background; resized to input_size (bilinear, antialiased)"


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the encoder; travels with the weights (preset name and input size included)."""

    preset: str
    input_size: int
    kind: str  # "koch" (the paper's net) or "vgg" (conv-BN blocks)
    widths: tuple[int, ...] = ()
    embedding_dim: int = 512

    def to_dict(self) -> dict:
        """Return the config as JSON-ready data."""
        return asdict(self)

    @staticmethod
    def from_dict(data: dict) -> "ModelConfig":
        """Return a config rebuilt from `to_dict` output."""
        data = dict(data)
        data["widths"] = tuple(data.get("widths", ()))
        return ModelConfig(**data)


PRESETS: dict[str, ModelConfig] = {
    # The paper's network: 105x105 input, 64@10x10, 128@7x7, 128@4x4, 256@4x4, fc 4096 sigmoid (~39M params).
    "koch2015": ModelConfig("koch2015", 105, "koch", (64, 128, 128, 256), 4096),
    # The shipped default: full resolution (within-alphabet differences are fine strokes), BN conv blocks, ~2.5M.
    "compact": ModelConfig("compact", 105, "vgg", (32, 64, 128, 256), 512),
    # For training on a laptop CPU: low resolution and narrow, ~0.5M params.
    "tiny": ModelConfig("tiny", 48, "vgg", (32, 64, 128, 128), 256),
}
DEFAULT_PRESET = "compact"


def get_preset(name: str) -> ModelConfig:
    """Return the config of a preset by name, or raise ValueError listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"Unknown preset {name!r}; known: {', '.join(PRESETS)}") from None


def _koch_encoder(cfg: ModelConfig) -> nn.Sequential:
    c1, c2, c3, c4 = cfg.widths
    convs = nn.Sequential(
        nn.Conv2d(1, c1, 10), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 7), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(c2, c3, 4), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(c3, c4, 4), nn.ReLU(inplace=True),
    )
    with torch.no_grad():
        flat = convs(torch.zeros(1, 1, cfg.input_size, cfg.input_size)).numel()
    net = nn.Sequential(convs, nn.Flatten(), nn.Linear(flat, cfg.embedding_dim), nn.Sigmoid())
    _koch_init(net)
    return net


def _koch_init(net: nn.Module) -> None:
    # The paper's initialisation: conv weights N(0, 1e-2), biases N(0.5, 1e-2), fc weights N(0, 2e-1).
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, 1e-2)
            nn.init.normal_(m.bias, 0.5, 1e-2)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 2e-1)
            nn.init.normal_(m.bias, 0.5, 1e-2)


def _conv_bn(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


def _vgg_encoder(cfg: ModelConfig) -> nn.Sequential:
    stem, *stages = cfg.widths
    layers: list[nn.Module] = [*_conv_bn(1, stem), nn.MaxPool2d(2)]
    c = stem
    for width in stages:
        layers += [*_conv_bn(c, width), *_conv_bn(width, width), nn.MaxPool2d(2)]
        c = width
    # Keep a coarse spatial layout: where a stroke sits matters for telling characters apart.
    layers += [nn.AdaptiveAvgPool2d(3), nn.Flatten(), nn.Linear(c * 9, cfg.embedding_dim), nn.Sigmoid()]
    return nn.Sequential(*layers)


class KochHead(nn.Module):
    """Weighted L1 distance followed by a sigmoid; `logits` gives the pre-sigmoid values."""

    def __init__(self, dim: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.randn(dim) * 0.2)
        self.bias = nn.Parameter(torch.zeros(()))

    def logits(self, a: torch.Tensor, b: torch.Tensor, chunk: int = 1 << 26) -> torch.Tensor:
        """Return [len(a), len(b)] logits for every pair, without building the len(a) x len(b) x dim tensor."""
        a, b = a.float(), b.float()
        pos, neg = self.alpha.clamp(min=0), (-self.alpha).clamp(min=0)
        # sum_j alpha_j |a_j - b_j| splits by sign of alpha into two L1 distances of rescaled vectors.
        rows = max(1, chunk // max(1, b.shape[0] * a.shape[1]))
        out = [torch.cdist(a[i:i + rows] * pos, b * pos, p=1) - torch.cdist(a[i:i + rows] * neg, b * neg, p=1)
               for i in range(0, a.shape[0], rows)]
        return torch.cat(out, 0) + self.bias

    def pair_logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Return logits of aligned pairs (a[i], b[i])."""
        return (a.float() - b.float()).abs() @ self.alpha + self.bias


class SiameseNet(nn.Module):
    """Twin encoder + Koch head. Inputs are glyph batches (n, 1, S, S) with 1 = ink, S = config.input_size."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.encoder = _koch_encoder(config) if config.kind == "koch" else _vgg_encoder(config)
        self.head = KochHead(config.embedding_dim)

    def prepare(self, glyphs: torch.Tensor) -> torch.Tensor:
        """Return glyphs (n, H, W) or (n, 1, H, W), any size, as float (n, 1, S, S) at the model's input size."""
        x = glyphs if glyphs.dim() == 4 else glyphs.unsqueeze(1)
        x = x.to(dtype=torch.float32)
        if x.shape[-1] != self.config.input_size or x.shape[-2] != self.config.input_size:
            x = F.interpolate(x, size=(self.config.input_size,) * 2, mode="bilinear", antialias=True,
                              align_corners=False)
        return x

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Return embeddings (n, embedding_dim) of prepared images (n, 1, S, S)."""
        return self.encoder(images)

    def score(self, emb_a: torch.Tensor, emb_b: torch.Tensor) -> torch.Tensor:
        """Return similarities in [0, 1], shape [len(emb_a), len(emb_b)]."""
        return torch.sigmoid(self.head.logits(emb_a, emb_b))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Return the similarity of aligned image pairs (a[i], b[i])."""
        return torch.sigmoid(self.head.pair_logits(self.embed(a), self.embed(b)))


def build_model(preset: str | ModelConfig) -> SiameseNet:
    """Return a freshly initialised network for a preset name or config."""
    return SiameseNet(get_preset(preset) if isinstance(preset, str) else preset)


def count_parameters(model: nn.Module) -> int:
    """Return the number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_fingerprint(model: SiameseNet) -> str:
    """Return a short hash of the config and every weight: equal fingerprints mean equal embeddings."""
    h = hashlib.sha256(json.dumps(model.config.to_dict(), sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
