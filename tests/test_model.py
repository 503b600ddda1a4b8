"""The siamese network: presets, sizes, and the properties of its similarity score."""

from __future__ import annotations

import pytest
import torch

from engine.model import (PRESETS, KochHead, ModelConfig, SiameseNet, build_model, count_parameters, get_preset,
                          model_fingerprint)


def glyphs(n: int, size: int = 105, seed: int = 0) -> torch.Tensor:
    """Random binary glyph-like images (n, 1, size, size), 1 = ink."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, size, size, generator=gen) > 0.85).float()


@pytest.fixture(scope="module")
def tiny() -> SiameseNet:
    torch.manual_seed(0)
    model = build_model("tiny").eval()
    # Give BatchNorm non-trivial running statistics, as a trained model has.
    model.train()
    with torch.no_grad():
        model.embed(model.prepare(glyphs(16, seed=1)))
    return model.eval()


def test_every_preset_builds_with_its_input_size():
    for name, config in PRESETS.items():
        assert get_preset(name) is config
        assert config.preset == name
    with pytest.raises(ValueError, match="koch2015"):
        get_preset("no-such-preset")


def test_koch2015_is_the_papers_network():
    model = build_model("koch2015")
    assert model.config.input_size == 105 and model.config.embedding_dim == 4096
    n = count_parameters(model)
    assert 38.9e6 <= n <= 39.0e6, f"{n:,} parameters; the paper's network has about 38.95M"
    convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(64, (10, 10)), (128, (7, 7)), (128, (4, 4)),
                                                                (256, (4, 4))]
    with torch.no_grad():
        assert model.embed(glyphs(2)).shape == (2, 4096)


def test_compact_and_tiny_are_small():
    compact, tiny = build_model("compact"), build_model("tiny")
    assert compact.config.input_size == 105
    assert 0.5e6 < count_parameters(compact) <= 5e6
    assert count_parameters(tiny) <= 1e6
    assert tiny.config.input_size < 105


def test_model_config_round_trips_through_json_data():
    for config in PRESETS.values():
        assert ModelConfig.from_dict(config.to_dict()) == config
    assert build_model(PRESETS["tiny"]).config == PRESETS["tiny"]


def test_prepare_accepts_any_size_and_both_layouts(tiny):
    x = tiny.prepare(torch.rand(3, 105, 105))
    assert x.shape == (3, 1, 48, 48) and x.dtype == torch.float32
    assert tiny.prepare(torch.rand(2, 1, 64, 80)).shape == (2, 1, 48, 48)
    same = torch.rand(2, 1, 48, 48)
    assert torch.equal(tiny.prepare(same), same)  # already the input size: untouched


def test_score_shape_range_and_symmetry(tiny):
    with torch.no_grad():
        a = tiny.embed(tiny.prepare(glyphs(5, seed=2)))
        b = tiny.embed(tiny.prepare(glyphs(7, seed=3)))
        ab, ba = tiny.score(a, b), tiny.score(b, a)
    assert ab.shape == (5, 7) and ba.shape == (7, 5)
    assert (ab >= 0).all() and (ab <= 1).all()
    torch.testing.assert_close(ab, ba.T, rtol=0, atol=1e-6)
    assert ab.std() > 0  # not a constant


def test_score_equals_the_pairwise_forward_on_aligned_pairs(tiny):
    xa, xb = tiny.prepare(glyphs(6, seed=4)), tiny.prepare(glyphs(6, seed=5))
    with torch.no_grad():
        forward = tiny(xa, xb)
        matrix = tiny.score(tiny.embed(xa), tiny.embed(xb))
    assert forward.shape == (6,)
    torch.testing.assert_close(forward, matrix.diagonal(), rtol=0, atol=1e-5)


def test_identical_images_score_like_themselves(tiny):
    x = tiny.prepare(glyphs(4, seed=6))
    with torch.no_grad():
        emb = tiny.embed(x)
        self_scores = tiny.score(emb, emb).diagonal()
    # |h(a) - h(a)| = 0, so the logit is the bias alone.
    torch.testing.assert_close(self_scores, torch.sigmoid(tiny.head.bias).expand(4), rtol=0, atol=1e-6)


def test_batched_embed_and_score_equal_one_by_one(tiny):
    x = tiny.prepare(glyphs(9, seed=7))
    with torch.no_grad():
        batched = tiny.embed(x)
        single = torch.cat([tiny.embed(x[i:i + 1]) for i in range(len(x))])
        torch.testing.assert_close(batched, single, rtol=0, atol=1e-5)
        scores = tiny.score(batched[:4], batched)
        rows = torch.cat([tiny.score(batched[i:i + 1], batched) for i in range(4)])
        cells = torch.tensor([[tiny.score(batched[i:i + 1], batched[j:j + 1]).item() for j in range(9)]
                              for i in range(4)])
    torch.testing.assert_close(scores, rows, rtol=0, atol=1e-6)
    torch.testing.assert_close(scores, cells, rtol=0, atol=1e-6)


def test_head_chunking_does_not_change_the_logits():
    torch.manual_seed(0)
    head = KochHead(32)
    a, b = torch.rand(50, 32), torch.rand(40, 32)
    whole = head.logits(a, b)
    chunked = head.logits(a, b, chunk=32 * 40 * 3)  # three rows at a time
    torch.testing.assert_close(whole, chunked, rtol=0, atol=1e-5)
    reference = (a[:, None, :] - b[None, :, :]).abs() @ head.alpha + head.bias
    torch.testing.assert_close(whole, reference, rtol=1e-5, atol=1e-4)


def test_fingerprint_follows_the_weights():
    torch.manual_seed(0)
    model = build_model("tiny")
    fp = model_fingerprint(model)
    assert fp == model_fingerprint(model)
    with torch.no_grad():
        model.head.bias += 1e-3
    assert model_fingerprint(model) != fp


def test_the_monotone_head_never_scores_a_pair_higher_for_moving_it_apart():
    torch.manual_seed(1)
    model = build_model("tiny")  # every preset trains the monotone head
    head = model.head
    assert model.config.head == "monotone" and bool((head.alpha < 0).all())
    with torch.no_grad():
        head.w.normal_(0, 2)  # any weights at all
        a = torch.rand(64, head.alpha.numel())
        b = torch.rand(64, head.alpha.numel())
        moved = b + torch.sign(b - a) * torch.rand_like(b) * 0.3  # each coordinate further from a, or equal
        assert (head.pair_logits(a, moved) <= head.pair_logits(a, b) + 1e-5).all()
        assert (head.pair_logits(a, a) == head.bias).all()  # identical: the highest score the head gives
        assert (head.pair_logits(a, b) < head.bias).all()


def test_weights_files_of_the_signed_head_keep_their_head_and_fingerprint(tmp_path):
    from engine.weights import load_weights, save_weights

    signed = SiameseNet(ModelConfig("tiny", 48, "vgg", (32, 64, 128, 128), 256, head="signed"))
    assert "head" not in signed.config.to_dict()  # as files written before the monotone head say it
    path = save_weights(signed, tmp_path / "old.safetensors")
    loaded = load_weights(path)
    assert loaded.model.config.head == "signed" and loaded.fingerprint == model_fingerprint(signed)
