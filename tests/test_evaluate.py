"""Lake et al.'s one-shot protocol: episodes, scoring with stand-in models, and the official runs format."""

from __future__ import annotations

import json
import math
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from engine.data import OmniglotSet
from engine.recognition.embedding import Cancelled
from engine.evaluation.evaluate import OneShotConfig, evaluate_one_shot, evaluate_runs, load_raw_glyph, make_episodes
from engine.model import ModelConfig, SiameseNet, build_model
from synthetic import write_png


class OracleNet(SiameseNet):
    """A stand-in network that knows every image's character: its embedding is the character's one-hot, so
    same-character pairs score sigmoid(0) and all others sigmoid(-20). `constant=True` embeds everything alike."""

    def __init__(self, sets: list[OmniglotSet], constant: bool = False):
        self.lookup: dict[bytes, int] = {}
        for s in sets:
            offset = len(set(self.lookup.values()))
            for pixels, c in zip(s.pixels(), s.char):
                key = np.packbits(pixels.astype(bool)).tobytes()
                assert self.lookup.setdefault(key, offset + int(c)) == offset + int(c), "two characters alike"
        dim = len(set(self.lookup.values()))
        super().__init__(ModelConfig("oracle", 105, "vgg", (2,), dim))
        self.constant = constant
        with torch.no_grad():
            self.head.set_alpha(torch.full((dim,), -10.0))
            self.head.bias.zero_()

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(len(images), self.config.embedding_dim)
        if not self.constant:
            for i, img in enumerate(images[:, 0].numpy() > 0.5):
                out[i, self.lookup[np.packbits(img).tobytes()]] = 1.0
        return out


@pytest.fixture(scope="module")
def evaluation(synthetic_data) -> OmniglotSet:
    return synthetic_data.evaluation


def test_episodes_are_within_one_alphabet_with_two_drawers(evaluation):
    episodes = make_episodes(evaluation, OneShotConfig(way=5, shot=1, tasks=60, seed=0))
    assert len(episodes) == 60
    for ep in episodes:
        assert len(set(ep.chars.tolist())) == 5
        assert (evaluation.char_alphabet[ep.chars] == ep.alphabet).all(), "an episode mixes alphabets"
        assert ep.support.shape == (5, 1) and ep.query.shape == (5,)
        # Reference t and test item t show the same character...
        assert np.array_equal(evaluation.char[ep.support[:, 0]], ep.chars)
        assert np.array_equal(evaluation.char[ep.query], ep.chars)
        # ...drawn by two different people: one drawer for all references, another for all test items.
        ref_drawers, test_drawers = set(evaluation.drawer[ep.support[:, 0]]), set(evaluation.drawer[ep.query])
        assert len(ref_drawers) == 1 and len(test_drawers) == 1 and ref_drawers != test_drawers
    assert {ep.alphabet for ep in episodes} == {0, 1}  # both alphabets take part


def test_k_shot_episodes_use_k_reference_drawers(evaluation):
    for ep in make_episodes(evaluation, OneShotConfig(way=4, shot=3, tasks=20, seed=1)):
        assert ep.support.shape == (4, 3)
        ref = evaluation.drawer[ep.support]
        assert all(len(set(row)) == 3 for row in ref.tolist())
        assert (ref == ref[0]).all()  # the same three drawers for every character
        assert evaluation.drawer[ep.query[0]] not in set(ref[0].tolist())
        assert (evaluation.char[ep.support] == ep.chars[:, None]).all()


def test_episodes_are_seeded(evaluation):
    config = OneShotConfig(way=5, tasks=30, seed=7)
    a, b = make_episodes(evaluation, config), make_episodes(evaluation, config)
    assert all(np.array_equal(x.support, y.support) and np.array_equal(x.query, y.query) for x, y in zip(a, b))
    c = make_episodes(evaluation, OneShotConfig(way=5, tasks=30, seed=8))
    assert any(not np.array_equal(x.support, z.support) for x, z in zip(a, c))


def test_episodes_stay_within_the_given_characters(evaluation):
    chars = evaluation.alphabet_characters(1)
    for ep in make_episodes(evaluation, OneShotConfig(way=6, tasks=10), chars=chars):
        assert set(ep.chars.tolist()) <= set(chars.tolist())


def test_impossible_tasks_are_refused(evaluation):
    with pytest.raises(ValueError, match="7 characters"):
        make_episodes(evaluation, OneShotConfig(way=7))
    with pytest.raises(ValueError, match="drawers"):
        make_episodes(evaluation, OneShotConfig(way=3, shot=20, tasks=1))


def test_a_perfect_model_scores_100_percent(synthetic_data, evaluation):
    oracle = OracleNet([evaluation])
    result = evaluate_one_shot(oracle, evaluation, OneShotConfig(way=5, shot=1, tasks=40, seed=0))
    assert result.accuracy == 1.0 and result.ci95 == 0.0
    assert result.n_tasks == 40 and result.n_trials == 200 and result.failures == []
    assert set(result.per_alphabet) == set(evaluation.alphabets)
    assert all(acc == 1.0 for acc, _ in result.per_alphabet.values())
    assert sum(n for _, n in result.per_alphabet.values()) == 200
    summary = json.loads(json.dumps(result.to_dict()))
    assert summary["accuracy"] == 1.0 and summary["way"] == 5 and summary["n_trials"] == 200


@pytest.mark.parametrize("way", [2, 5, 6])
def test_a_constant_model_scores_chance(evaluation, way):
    constant = OracleNet([evaluation], constant=True)
    result = evaluate_one_shot(constant, evaluation, OneShotConfig(way=way, tasks=30, seed=0))
    # All references tie, so one answer is given for every test item: right for exactly one of N.
    assert result.accuracy == pytest.approx(1 / way)
    assert len(result.failures) == 30 * (way - 1)
    failure = result.failures[0]
    assert evaluation.char[failure.chosen] != evaluation.char[failure.correct]
    assert evaluation.char[failure.query] == evaluation.char[failure.correct]
    assert failure.alphabet in evaluation.alphabets


def test_evaluation_is_deterministic_for_a_seed(evaluation):
    torch.manual_seed(0)
    model = build_model(ModelConfig("small", 32, "vgg", (8, 16), 32)).eval()
    config = OneShotConfig(way=5, tasks=15, seed=3)
    a, b = evaluate_one_shot(model, evaluation, config), evaluate_one_shot(model, evaluation, config)
    assert a.accuracy == b.accuracy and a.per_alphabet == b.per_alphabet
    assert 0 <= a.accuracy <= 1 and math.isfinite(a.ci95) and a.ci95 >= 0


# --- the official runs format -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["folder", "zip"])
def test_runs_report_each_runs_error(evaluation, runs_writer, tmp_path, form):
    runs = runs_writer(tmp_path / "all_runs", wrong={"run02": 2}, zip_path=tmp_path / "all_runs.zip")
    (runs / "README.txt").write_text("not a run")
    progress = []
    source = runs if form == "folder" else tmp_path / "all_runs.zip"
    results = evaluate_runs(OracleNet([evaluation]), source, progress=lambda i, n: progress.append((i, n)))
    assert [(r.name, r.error, r.n_items) for r in results] == [("run01", 0.0, 5), ("run02", 0.4, 5)]
    assert len(results[1].wrong) == 2 and all(chosen != right for _, chosen, right in results[1].wrong)
    assert progress == [(1, 2), (2, 2)]
    constant = evaluate_runs(OracleNet([evaluation], constant=True), source)
    assert all(r.error >= 0.6 for r in constant)


def test_runs_evaluation_can_be_cancelled(evaluation, synthetic_runs):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        evaluate_runs(OracleNet([evaluation]), synthetic_runs.zip, cancel=cancel)


def test_runs_format_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="class_labels"):
        evaluate_runs(build_model("tiny"), tmp_path)
    with pytest.raises(FileNotFoundError):
        evaluate_runs(build_model("tiny"), tmp_path / "missing")


def test_raw_glyphs_are_read_with_ink_as_one(tmp_path):
    ink = np.zeros((105, 105), np.uint8)
    ink[30:70, 50:56] = 1
    write_png(tmp_path / "black_on_white.png", ink)
    Image.fromarray((ink * 255).astype(np.uint8), "L").save(tmp_path / "white_on_black.png")
    for name in ("black_on_white.png", "white_on_black.png"):
        glyph = load_raw_glyph(tmp_path / name)
        assert glyph.shape == (105, 105) and glyph.dtype == np.float32
        np.testing.assert_array_equal(glyph, ink.astype(np.float32))
