"""Model weights on disk: safetensors round trips, refusing damaged or foreign files, the shipped model."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save as st_save
from safetensors.torch import save_file

from engine.evaluation.evaluate import OneShotConfig, evaluate_one_shot
from engine.model import build_model, model_fingerprint
from engine.paths import SHIPPED_TEACHER, SHIPPED_V2, SHIPPED_WEIGHTS
from engine.weights import LoadedModel, WeightsError, card_path, load_weights, read_metadata, save_weights


def glyphs(n: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, 105, 105, generator=gen) > 0.85).float()


@pytest.fixture(scope="module")
def model():
    """A tiny network with non-trivial BatchNorm statistics (as after training), in eval mode."""
    torch.manual_seed(0)
    net = build_model("tiny")
    net.train()
    with torch.no_grad():
        net.embed(net.prepare(glyphs(16, seed=1)))
    return net.eval()


def scores(net, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        emb = net.embed(net.prepare(x))
        return net.score(emb, emb)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "model.safetensors"
    return save_weights(model, path, {"name": "test model", "notes": "unit test"})


def tensors_and_metadata(path):
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def test_round_trip_float32_gives_identical_scores(model, saved):
    loaded = load_weights(saved)
    assert isinstance(loaded, LoadedModel) and loaded.path == saved
    assert not loaded.model.training
    assert loaded.model.config == model.config
    assert loaded.fingerprint == model_fingerprint(model)
    x = glyphs(6, seed=2)
    assert torch.equal(scores(loaded.model, x), scores(model, x))
    assert loaded.name == "test model" and loaded.card["notes"] == "unit test"
    assert loaded.card["dtype"] == "float32" and loaded.card["model"]["preset"] == "tiny"
    assert json.loads(card_path(saved).read_text())["name"] == "test model"


def test_round_trip_float16_gives_the_same_scores_at_half_the_size(model, saved, tmp_path):
    half = save_weights(model, tmp_path / "half.safetensors", half=True)
    assert half.stat().st_size < 0.6 * saved.stat().st_size
    loaded = load_weights(half)
    assert loaded.card["dtype"] == "float16"
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())  # computes in float32
    x = glyphs(8, seed=3)
    expected, got = scores(model, x), scores(loaded.model, x)
    torch.testing.assert_close(got, expected, rtol=0, atol=5e-3)
    assert torch.equal(got.argsort(dim=1), expected.argsort(dim=1)) or (got - expected).abs().max() < 1e-3
    assert torch.equal(scores(load_weights(half).model, x), got)  # loading is deterministic


def test_only_the_model_file_is_needed(saved, tmp_path):
    alone = tmp_path / "alone.safetensors"
    alone.write_bytes(saved.read_bytes())
    loaded = load_weights(alone)
    assert loaded.name == "test model"  # the card travels inside the weights file too
    config, card = read_metadata(alone)
    assert config.preset == "tiny" and card["notes"] == "unit test"


def test_the_card_beside_the_weights_is_preferred(saved, tmp_path):
    copy = tmp_path / "copy.safetensors"
    copy.write_bytes(saved.read_bytes())
    card_path(copy).write_text(json.dumps({"name": "renamed by the user"}))
    assert load_weights(copy).name == "renamed by the user"
    card_path(copy).write_text("{ damaged")
    assert load_weights(copy).name == "test model"


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "empty", "missing"])
def test_damaged_files_are_weights_errors(saved, tmp_path, damage):
    path = tmp_path / "bad.safetensors"
    data = saved.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) * 2 // 3])
    elif damage == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif damage == "empty":
        path.write_bytes(b"")
    with pytest.raises(WeightsError, match=str(path)):
        load_weights(path)


def test_a_foreign_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(3, 3)}, str(path))
    with pytest.raises(WeightsError, match="not a Glyphs model"):
        load_weights(path)


def test_damaged_metadata_is_refused(saved, tmp_path):
    tensors, meta = tensors_and_metadata(saved)
    path = tmp_path / "meta.safetensors"
    path.write_bytes(st_save(tensors, metadata={**meta, "model_config": "{not json"}))
    with pytest.raises(WeightsError, match="damaged model description"):
        load_weights(path)


@pytest.mark.parametrize("mismatch", ["missing tensor", "extra tensor", "wrong shape", "other preset"])
def test_mismatched_tensors_are_refused_never_half_loaded(saved, tmp_path, mismatch):
    tensors, meta = tensors_and_metadata(saved)
    if mismatch == "missing tensor":
        tensors.pop(sorted(tensors)[0])
    elif mismatch == "extra tensor":
        tensors["encoder.99.weight"] = torch.zeros(2)
    elif mismatch == "wrong shape":
        tensors["head.alpha"] = torch.zeros(7)
    else:  # the metadata says compact, the tensors are tiny's
        meta = {**meta, "model_config": json.dumps(build_model("compact").config.to_dict())}
    path = tmp_path / "mismatch.safetensors"
    path.write_bytes(st_save(tensors, metadata=meta))
    with pytest.raises(WeightsError, match="does not match"):
        load_weights(path)


def test_a_failed_save_keeps_the_previous_file(model, saved, tmp_path, monkeypatch):
    path = tmp_path / "keep.safetensors"
    path.write_bytes(saved.read_bytes())
    before = path.read_bytes()

    def no_rename(src, dst):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch, pytest.raises(OSError, match="No space"):
        patch.setattr(os, "replace", no_rename)
        save_weights(build_model("tiny"), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.safetensors"]


def test_the_shipped_model_loads_and_recognises(synthetic_data):
    assert SHIPPED_WEIGHTS.is_file(), f"{SHIPPED_WEIGHTS} is missing"
    loaded = load_weights()  # the default
    assert loaded.path == SHIPPED_WEIGHTS and not loaded.model.training
    assert loaded.model.config.input_size == loaded.card["input_size"]
    assert loaded.card["preset"] == loaded.model.config.preset
    x = glyphs(3, seed=4)
    s = scores(loaded.model, x)
    assert s.shape == (3, 3) and (s >= 0).all() and (s <= 1).all()
    # It tells characters it never saw apart: 6-way one-shot on the synthetic alphabets, far above 1/6.
    result = evaluate_one_shot(loaded.model, synthetic_data.evaluation, OneShotConfig(way=6, tasks=6, seed=0))
    assert result.accuracy > 0.6, f"shipped model: {result.accuracy:.0%} on 6-way synthetic tasks"


def test_the_shipped_models_provenance_is_checkable():
    # Each card names the model it was made from, which ships beside it, by fingerprint: v1 -> v2 -> the default.
    shipped, v2, v1 = load_weights(), load_weights(SHIPPED_V2), load_weights(SHIPPED_TEACHER)
    assert v1.model.config.input_size == 105 > v2.model.config.input_size == shipped.model.config.input_size
    assert v2.card["distillation"]["teacher_fingerprint"] == v1.fingerprint
    assert torch.equal(v2.model.head.alpha, v1.model.head.alpha)  # the teacher's head; bias matched
    assert shipped.card["started_from"]["fingerprint"] == v2.fingerprint
    assert shipped.card["split"]["val_alphabets"] == v2.card["split"]["val_alphabets"] == v1.card["split"]["val_alphabets"]
    assert shipped.model.config.head == "monotone" and v2.model.config.head == v1.model.config.head == "signed"


def test_the_shipped_model_scores_an_identical_glyph_highest_and_at_least_99_percent():
    shipped = load_weights()
    x = glyphs(4, seed=2)
    s = scores(shipped.model, x)
    assert torch.equal(s.argmax(dim=1), torch.arange(4))
    assert float(s.diagonal().min()) >= 0.99
