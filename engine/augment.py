"""Koch et al.'s affine distortions, random per image and batched on the training device.

Each image gets T = rotation * shear * scale plus a translation, where each of the four components is
switched on with probability `p` (0.5 in the paper): rotation +-10 degrees, shear +-0.3, scale 0.8-1.2 (x and y
independently), translation +-2 px (in 105-px glyph units, whatever the model's input size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AffineConfig:
    """Ranges of the random affine distortion; `p` is each component's probability of being applied."""

    rotation_deg: float = 10.0
    shear: float = 0.3
    scale: tuple[float, float] = (0.8, 1.2)
    translate_px: float = 2.0
    p: float = 0.5


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator, device) -> torch.Tensor:
    return torch.rand(n, generator=gen, device=device) * (hi - lo) + lo


def random_affine_matrices(n: int, cfg: AffineConfig, gen: torch.Generator, device) -> torch.Tensor:
    """Return (n, 2, 3) affine matrices in the normalised coordinates that `F.affine_grid` uses."""
    def on() -> torch.Tensor:
        return (torch.rand(n, generator=gen, device=device) < cfg.p).float()

    theta = _uniform(n, -1, 1, gen, device) * math.radians(cfg.rotation_deg) * on()
    shear = torch.stack([_uniform(n, -cfg.shear, cfg.shear, gen, device) for _ in range(2)], 1) * on()[:, None]
    scale_on = on()[:, None]
    scale = 1 + (torch.stack([_uniform(n, *cfg.scale, gen, device) for _ in range(2)], 1) - 1) * scale_on
    # Normalised coordinates span 2 units over the image width, so 1 px of a 105-px glyph is 2/105.
    shift = torch.stack([_uniform(n, -1, 1, gen, device) for _ in range(2)], 1) * (2 * cfg.translate_px / 105)
    shift = shift * on()[:, None]

    cos, sin = torch.cos(theta), torch.sin(theta)
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    one = torch.ones_like(theta)
    sh = torch.stack([torch.stack([one, shear[:, 0]], -1), torch.stack([shear[:, 1], one], -1)], -2)
    sc = torch.diag_embed(scale)
    linear = rot @ sh @ sc
    return torch.cat([linear, shift[:, :, None]], dim=2)


def quarter_turns(matrices: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Return affine matrices (n, 2, 3) composed with turns[i] quarter turns (exact on a square pixel grid)."""
    angle = turns.to(matrices.dtype) * (math.pi / 2)
    cos, sin = torch.cos(angle).round(), torch.sin(angle).round()
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    return torch.cat([rot @ matrices[:, :, :2], matrices[:, :, 2:]], dim=2)


def identity_matrices(n: int, device) -> torch.Tensor:
    """Return n identity affine matrices (n, 2, 3)."""
    return torch.eye(2, 3, device=device).expand(n, 2, 3).clone()


def warp(images: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Return images (n, 1, S, S) resampled through their affine matrices (bilinear, zeros outside)."""
    grid = F.affine_grid(matrices.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_affine(images: torch.Tensor, cfg: AffineConfig, gen: torch.Generator) -> torch.Tensor:
    """Return images (n, 1, S, S), 1 = ink, each warped by its own random affine distortion (zeros outside)."""
    return warp(images, random_affine_matrices(images.shape[0], cfg, gen, images.device))


# --- style distortions: what other pens, scanners and hands do that Koch's affine family does not -------------------


@dataclass(frozen=True)
class StyleConfig:
    """Stroke-width changes and smooth non-rigid (elastic) warps, each applied per image with its probability.

    Amounts are in 105-px glyph units whatever the model's input size. `stroke_px`: the stroke's half-width
    changes by a uniform amount in this range (negative thins, positive thickens). `elastic_px`: the typical
    displacement of a smooth random field whose `elastic_grid` x `elastic_grid` control points are interpolated
    bicubically over the glyph.
    """

    stroke_p: float = 0.5
    stroke_px: tuple[float, float] = (-0.7, 1.5)
    elastic_p: float = 0.5
    elastic_px: float = 2.0
    elastic_grid: int = 4


def elastic_fields(n: int, size: int, cfg: StyleConfig, gen: torch.Generator, device) -> torch.Tensor:
    """Return smooth random displacement fields (n, size, size, 2) in `F.grid_sample`'s normalised units,
    zero for the images that do not get one (probability 1 - `cfg.elastic_p`)."""
    coarse = torch.randn(n, 2, cfg.elastic_grid, cfg.elastic_grid, generator=gen, device=device)
    on = (torch.rand(n, generator=gen, device=device) < cfg.elastic_p).float()
    coarse = coarse * on[:, None, None, None] * (2 * cfg.elastic_px / 105)
    fine = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True)
    return fine.permute(0, 2, 3, 1)


def warp_with_fields(images: torch.Tensor, matrices: torch.Tensor, fields: torch.Tensor | None) -> torch.Tensor:
    """Return images resampled through their affine matrices plus displacement fields (one resampling)."""
    if fields is None:
        return warp(images, matrices)
    grid = F.affine_grid(matrices.to(images.dtype), list(images.shape), align_corners=False) + fields
    return F.grid_sample(images, grid.to(images.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)


def _dilate(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, 3, stride=1, padding=1)


def _erode(x: torch.Tensor) -> torch.Tensor:
    return -F.max_pool2d(-x, 3, stride=1, padding=1)


def stroke_width(images: torch.Tensor, cfg: StyleConfig, gen: torch.Generator) -> torch.Tensor:
    """Return images (n, 1, S, S), 1 = ink, with each stroke thickened or thinned by its own random amount.

    A fractional change blends the image with its one-pixel dilation or erosion (grey edges, as a scanner or
    an antialiased renderer gives); changes over a pixel dilate again.
    """
    n, size = images.shape[0], images.shape[-1]
    amount = torch.rand(n, generator=gen, device=images.device) * (cfg.stroke_px[1] - cfg.stroke_px[0])
    amount = (amount + cfg.stroke_px[0]) * (size / 105)  # in this input's pixels
    amount = amount * (torch.rand(n, generator=gen, device=images.device) < cfg.stroke_p).float()
    out, grown = images, images
    for step in range(int(math.ceil(max(0.0, float(amount.max()))))):
        grown = _dilate(grown)
        t = (amount - step).clamp(0, 1)[:, None, None, None]
        out = torch.where(t > 0, out + t * (grown - out), out)
    thin = (-amount).clamp(0, 1)[:, None, None, None]
    return out + thin * (_erode(images) - images)


def style_distort(images: torch.Tensor, matrices: torch.Tensor, cfg: StyleConfig | None,
                  gen: torch.Generator) -> torch.Tensor:
    """Return images warped by their affine matrices and, with `cfg`, an elastic field and a stroke-width change."""
    if cfg is None:
        return warp(images, matrices)
    fields = elastic_fields(images.shape[0], images.shape[-1], cfg, gen, images.device) if cfg.elastic_p else None
    out = warp_with_fields(images, matrices, fields)
    return stroke_width(out, cfg, gen) if cfg.stroke_p else out


def distort_batch(images: torch.Tensor, gen: torch.Generator, affine: AffineConfig | None = None,
                  style: StyleConfig | None = None, turns: torch.Tensor | None = None,
                  random_turns: bool = False) -> torch.Tensor:
    """Return a training batch (n, 1, S, S) distorted as one resampling: each image's random affine distortion,
    its quarter turns (`turns`, or drawn here after the affine draws with `random_turns`) and the style
    distortions; the images themselves when none is asked for. The one place training batches are distorted."""
    n, device = images.shape[0], images.device
    if random_turns:
        mats = random_affine_matrices(n, affine, gen, device) if affine else identity_matrices(n, device)
        turns = torch.randint(4, (n,), generator=gen, device=device)
    elif affine is None and turns is None and style is None:
        return images
    else:
        mats = random_affine_matrices(n, affine, gen, device) if affine else identity_matrices(n, device)
    if turns is not None:
        mats = quarter_turns(mats, turns.to(device))
    return style_distort(images, mats, style, gen)
