"""Koch et al.'s affine distortions and the exact quarter turns used for class rotations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.augment import (AffineConfig, identity_matrices, quarter_turns, random_affine, random_affine_matrices,
                            warp)

from synthetic import character_strokes, draw_glyph


def synthetic_glyphs(n: int, seed: int = 0) -> torch.Tensor:
    """Omniglot-like glyphs (n, 1, 105, 105): thick strokes well inside the frame, 1 = ink."""
    rng = np.random.default_rng(seed)
    return torch.tensor(np.stack([draw_glyph(character_strokes(rng), rng) for _ in range(n)]),
                        dtype=torch.float32)[:, None]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_no_distortion_when_p_is_zero():
    x = synthetic_glyphs(8)
    m = random_affine_matrices(8, AffineConfig(p=0.0), gen(), "cpu")
    assert torch.equal(m, identity_matrices(8, "cpu"))
    y = random_affine(x, AffineConfig(p=0.0), gen())
    torch.testing.assert_close(y, x, rtol=0, atol=1e-4)
    assert torch.equal(y.round(), x)


@pytest.mark.parametrize("size", [48, 105])
def test_quarter_turns_equal_rot90(size):
    x = (torch.rand(4, 1, size, size, generator=gen(1)) > 0.7).float()
    identity = identity_matrices(4, "cpu")
    for k in range(4):
        y = warp(x, quarter_turns(identity, torch.full((4,), k)))
        expected = torch.rot90(x, k, dims=(-2, -1))
        torch.testing.assert_close(y, expected, rtol=0, atol=1e-4)
        assert torch.equal(y.round(), expected)
    # Mixed turns in one batch, and four quarter turns compose to the identity exactly.
    turns = torch.tensor([0, 1, 2, 3])
    y = warp(x, quarter_turns(identity, turns))
    for i in range(4):
        assert torch.equal(y[i].round(), torch.rot90(x[i], i, dims=(-2, -1)))
    assert torch.equal(quarter_turns(quarter_turns(identity, turns), 4 - turns), identity)


def test_quarter_turns_keep_a_distortion_exactly_turned():
    m = random_affine_matrices(6, AffineConfig(p=1.0), gen(2), "cpu")
    turned = quarter_turns(m, torch.full((6,), 2))
    # A half turn negates the linear part and keeps the translation.
    torch.testing.assert_close(turned[:, :, :2], -m[:, :, :2], rtol=0, atol=1e-7)
    assert torch.equal(turned[:, :, 2], m[:, :, 2])


def test_distortions_keep_the_ink_inside_the_frame():
    x = synthetic_glyphs(200, seed=3)
    m = random_affine_matrices(200, AffineConfig(p=1.0), gen(3), "cpu")
    y = warp(x, m)
    # The warp samples the input at A p + t, so ink that stays in the frame has area / |det A| afterwards:
    # whatever is missing from that fell outside the image.
    det = torch.linalg.det(m[:, :, :2]).abs()
    kept = y.sum(dim=(1, 2, 3)) * det / x.sum(dim=(1, 2, 3))
    assert kept.min() > 0.95 and kept.mean() > 0.98, f"ink kept: min {kept.min():.3f}, mean {kept.mean():.3f}"
    assert y.min() >= 0 and y.max() <= 1 + 1e-6
    assert not torch.allclose(y, x, atol=0.1)  # it did distort


def test_distortion_ranges_match_the_paper():
    n = 2000
    only = dict(rotation_deg=0.0, shear=0.0, scale=(1.0, 1.0), translate_px=0.0, p=1.0)
    rot = random_affine_matrices(n, AffineConfig(**{**only, "rotation_deg": 10.0}), gen(4), "cpu")
    angle = torch.rad2deg(torch.atan2(rot[:, 1, 0], rot[:, 0, 0]))
    assert angle.abs().max() <= 10.0 + 1e-4 and angle.abs().max() > 9.0
    scale = random_affine_matrices(n, AffineConfig(**{**only, "scale": (0.8, 1.2)}), gen(5), "cpu")
    diag = torch.stack([scale[:, 0, 0], scale[:, 1, 1]], 1)
    assert diag.min() >= 0.8 - 1e-6 and diag.max() <= 1.2 + 1e-6
    shear = random_affine_matrices(n, AffineConfig(**{**only, "shear": 0.3}), gen(6), "cpu")
    assert shear[:, 0, 1].abs().max() <= 0.3 + 1e-6 and shear[:, 1, 0].abs().max() <= 0.3 + 1e-6
    # p = 0.5: each component is on for about half of the images.
    half = random_affine_matrices(n, AffineConfig(p=0.5), gen(7), "cpu")
    moved = (half[:, :, 2].abs().sum(1) > 0).float().mean()
    assert 0.4 < moved < 0.6


@pytest.mark.parametrize("size", [48, 105])
def test_translation_is_in_105_px_glyph_units_at_any_input_size(size):
    n = 64
    cfg = AffineConfig(rotation_deg=0.0, shear=0.0, scale=(1.0, 1.0), translate_px=2.0, p=1.0)
    x = torch.nn.functional.interpolate(synthetic_glyphs(n, seed=8), size=(size, size), mode="bilinear",
                                        antialias=True)
    y = random_affine(x, cfg, gen(8))
    grid = torch.arange(size, dtype=torch.float32)

    def centroid(img):
        mass = img.sum(dim=(1, 2, 3))
        x_mass, y_mass = img.sum(dim=(1, 2)), img.sum(dim=(1, 3))
        return torch.stack([(x_mass * grid).sum(-1) / mass, (y_mass * grid).sum(-1) / mass], 1)

    shift_105px = (centroid(y) - centroid(x)).abs() * 105 / size
    assert shift_105px.max() <= 2.0 + 0.05
    assert shift_105px.max() > 1.5


def test_distortions_are_deterministic_for_a_seed():
    x = synthetic_glyphs(16, seed=9)
    cfg = AffineConfig()
    a, b = random_affine(x, cfg, gen(42)), random_affine(x, cfg, gen(42))
    assert torch.equal(a, b)
    assert not torch.equal(a, random_affine(x, cfg, gen(43)))


def test_stroke_width_thickens_and_thins_ink_and_leaves_blank_images_blank():
    from engine.augment import StyleConfig, stroke_width

    x = torch.zeros(3, 1, 48, 48)
    x[:2, :, 20:23, 8:40] = 1.0  # a 3-px bar
    gen = torch.Generator().manual_seed(0)
    thick = stroke_width(x, StyleConfig(stroke_p=1.0, stroke_px=(2.0, 2.0)), gen)
    thin = stroke_width(x, StyleConfig(stroke_p=1.0, stroke_px=(-1.0, -1.0)), gen)
    assert (thick[:2].sum((1, 2, 3)) > 1.5 * x[:2].sum((1, 2, 3))).all()
    assert (thin[:2].sum((1, 2, 3)) < 0.8 * x[:2].sum((1, 2, 3))).all()
    assert thick[2].abs().sum() == 0 and thin[2].abs().sum() == 0
    assert thick.min() >= 0 and thick.max() <= 1


def test_elastic_warps_are_smooth_seeded_and_off_with_probability_zero():
    from engine.augment import StyleConfig, elastic_fields, identity_matrices, style_distort

    cfg = StyleConfig(elastic_p=1.0, stroke_p=0.0)
    f1 = elastic_fields(2, 48, cfg, torch.Generator().manual_seed(5), "cpu")
    f2 = elastic_fields(2, 48, cfg, torch.Generator().manual_seed(5), "cpu")
    assert f1.shape == (2, 48, 48, 2) and torch.equal(f1, f2)
    assert f1.abs().max() > 0 and (f1[:, 1:] - f1[:, :-1]).abs().max() < 0.02  # no tearing between neighbours
    off = elastic_fields(2, 48, StyleConfig(elastic_p=0.0), torch.Generator().manual_seed(5), "cpu")
    assert off.abs().max() == 0
    x = torch.rand(2, 1, 48, 48)
    same = style_distort(x, identity_matrices(2, "cpu"), StyleConfig(elastic_p=0.0, stroke_p=0.0),
                         torch.Generator().manual_seed(0))
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
