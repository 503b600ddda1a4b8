"""The siamese network (Koch, Zemel & Salakhutdinov 2015): twin encoders sharing weights, a weighted-L1 head.

similarity(a, b) = sigmoid(sum_j alpha_j * |h(a)_j - h(b)_j| + bias)

The default head is monotone: alpha_j = -softplus(w_j) < 0, so moving two embeddings apart in any coordinate can
only lower their similarity, and a glyph compared with itself gets the highest score the model can give,
sigmoid(bias). The paper's head (any sign of alpha) is the "signed" head: the v1 and v2 weights files in
resources/models use it (v1 teaches the shipped model), so it stays while a shipped or trained file names it.
`embed` and `score` are separate so that a gallery embeds each reference once and a query is one forward pass
plus one vectorised comparison. The head is symmetric by construction: score(a, b) == score(b, a).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .units import GLYPH_SIZE

# What `SiameseNet.prepare` does to a glyph, in words, for model cards.
PREPROCESSING = (f"{GLYPH_SIZE}x{GLYPH_SIZE} glyph, 1 = ink, 0 = background; resized to input_size (bilinear, "
                 f"antialiased)")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the encoder; travels with the weights (preset name and input size included)."""

    preset: str
    input_size: int
    kind: str  # "koch" (the paper's net) or "vgg" (conv-BN blocks)
    widths: tuple[int, ...] = ()
    embedding_dim: int = 512
    head: str = "monotone"  # "monotone" (alpha <= 0) or "signed" (the paper's: v1 and v2's weights files)

    def to_dict(self) -> dict:
        """Return the config as JSON-ready data."""
        data = asdict(self)
        if data["head"] == "signed":  # a config without "head" means signed (v1 and v2's files name none), so
            # a signed config writes none and their fingerprints, computed from this dict, stay what they are
            del data["head"]
        return data

    @staticmethod
    def from_dict(data: dict) -> "ModelConfig":
        """Return a config rebuilt from `to_dict` output."""
        data = dict(data)
        data["widths"] = tuple(data.get("widths", ()))
        data.setdefault("head", "signed")  # no "head" means the paper's (see to_dict)
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


class WeightedL1Head(nn.Module):
    """Weighted L1 distance followed by a sigmoid; subclasses say where the weights `alpha` come from.

    The one implementation of the score: training, evaluation and the gallery index all call it. References
    can be prepared once with `split` (rescaled by |alpha| and split by its sign) and compared with
    `split_logits`, so a query against many references costs one or two L1 sweeps (one for the monotone head)
    and no rescaling of the store.
    """

    alpha: torch.Tensor

    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(()))

    def split(self, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (emb * |alpha| on the dims where alpha > 0, the same on the dims where alpha < 0).

        With w = |alpha|, alpha_j |a_j - b_j| is |w_j a_j - w_j b_j| where alpha_j > 0 and minus that where
        alpha_j < 0, so the weighted L1 sum is L1(a+, b+) - L1(a-, b-) of the split vectors (exact).
        """
        alpha = self.alpha.float().to(emb.device)
        emb = emb.float()
        pos, neg = alpha > 0, alpha < 0
        return emb[:, pos] * alpha[pos], emb[:, neg] * -alpha[neg]

    def split_logits(self, a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor],
                     chunk: int = 1 << 26) -> torch.Tensor:
        """Return [len(a), len(b)] logits of `split` embeddings, in row chunks that bound the memory used."""
        n_a, n_b = len(a[0]), len(b[0])
        rows = max(1, chunk // max(1, n_b * (a[0].shape[1] + a[1].shape[1])))
        out = [_signed_l1(a[0][i:i + rows], a[1][i:i + rows], *b) for i in range(0, n_a, rows)]
        return (torch.cat(out, 0) if out else torch.zeros(0, n_b, device=b[0].device)) + self.bias

    def logits(self, a: torch.Tensor, b: torch.Tensor, chunk: int = 1 << 26) -> torch.Tensor:
        """Return [len(a), len(b)] logits for every pair, without building the len(a) x len(b) x dim tensor."""
        return self.split_logits(self.split(a), self.split(b), chunk)

    def pair_logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Return logits of aligned pairs (a[i], b[i])."""
        return (a.float() - b.float()).abs() @ self.alpha + self.bias


def _signed_l1(a_pos: torch.Tensor, a_neg: torch.Tensor, b_pos: torch.Tensor, b_neg: torch.Tensor) -> torch.Tensor:
    if not b_pos.shape[1]:  # the monotone head: one sweep
        return -torch.cdist(a_neg, b_neg, p=1)
    out = torch.cdist(a_pos, b_pos, p=1)
    return out - torch.cdist(a_neg, b_neg, p=1) if b_neg.shape[1] else out


class KochHead(WeightedL1Head):
    """The paper's head: free weights alpha of either sign (the v1 and v2 weights files use it)."""

    def __init__(self, dim: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.randn(dim) * 0.2)


class MonotoneHead(WeightedL1Head):
    """alpha_j = -softplus(w_j): similarity never rises as embeddings move apart; identical glyphs score highest."""

    def __init__(self, dim: int, alpha0: float = 0.05, bias0: float = 3.0):
        super().__init__()
        self.w = nn.Parameter(torch.full((dim,), math.log(math.expm1(alpha0))))
        self.bias.data.fill_(bias0)

    @property
    def alpha(self) -> torch.Tensor:
        """Return the weights alpha (all negative)."""
        return -F.softplus(self.w)

    def set_alpha(self, alpha: torch.Tensor, floor: float = 1e-4) -> None:
        """Set w so that alpha is as close as allowed to the given weights (positive ones become -floor)."""
        mag = (-alpha.detach().float()).clamp(min=floor)
        self.w.data.copy_(mag + torch.log(-torch.expm1(-mag)))  # softplus^-1


def build_head(kind: str, dim: int) -> WeightedL1Head:
    """Return a fresh head of a kind ("monotone" or "signed")."""
    if kind == "monotone":
        return MonotoneHead(dim)
    if kind == "signed":
        return KochHead(dim)
    raise ValueError(f"Unknown head {kind!r}; known: monotone, signed")


class SiameseNet(nn.Module):
    """Twin encoder + Koch head. Inputs are glyph batches (n, 1, S, S) with 1 = ink, S = config.input_size."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.encoder = _koch_encoder(config) if config.kind == "koch" else _vgg_encoder(config)
        self.head = build_head(config.head, config.embedding_dim)

    def prepare(self, glyphs: torch.Tensor) -> torch.Tensor:
        """Return glyphs (n, H, W) or (n, 1, H, W), any size, as (n, 1, S, S) at the model's input size, in the
        network's floating dtype (float32 unless the model was converted, as a float64 check converts it)."""
        x = glyphs if glyphs.dim() == 4 else glyphs.unsqueeze(1)
        x = x.to(dtype=next(self.parameters()).dtype)
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


# --- inference -----------------------------------------------------------------------------------------------


def fast_encoder(model: SiameseNet) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return a function computing `model.embed` faster for inference: each conv + batch norm folded into one
    conv, run in channels-last layout (oneDNN's native one: no layout conversion around every convolution).

    Together about 12% less CPU time per query than `model.embed` (benchmarks/bench_recognition.py). Checked
    against `model.embed` on a test batch; if they disagree (an encoder this does not understand),
    `model.embed` itself is returned.
    """
    try:
        fast = _ChannelsLast(_fuse(copy.deepcopy(model.encoder)).eval())
        param = next(model.parameters())
        # Its own generator: building the encoder leaves the global random stream (a training run's) untouched.
        x = torch.rand(2, 1, model.config.input_size, model.config.input_size,
                       generator=torch.Generator().manual_seed(0)).to(param.device, param.dtype)
        with torch.inference_mode():
            was = model.training
            model.eval()
            expected = model.embed(x)
            model.train(was)
            if torch.allclose(fast(x), expected, atol=1e-4, rtol=1e-3):
                return fast
    except Exception:  # anything unexpected: the plain path is always correct
        pass
    return model.embed


class _ChannelsLast(nn.Module):
    """Runs a network with its weights and input in channels-last memory layout."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.contiguous(memory_format=torch.channels_last))


def _fuse(module: nn.Module) -> nn.Module:
    """Return `module` with every Conv2d directly followed by BatchNorm2d (inside Sequentials) folded together."""
    if not isinstance(module, nn.Sequential):
        return module
    layers, out, i = list(module), [], 0
    while i < len(layers):
        layer = layers[i]
        if (isinstance(layer, nn.Conv2d) and i + 1 < len(layers) and isinstance(layers[i + 1], nn.BatchNorm2d)
                and layers[i + 1].track_running_stats):
            out.append(fuse_conv_bn_eval(layer.eval(), layers[i + 1].eval()))
            i += 2
        else:
            out.append(_fuse(layer))
            i += 1
    return nn.Sequential(*out)
