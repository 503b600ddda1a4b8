"""Ranking: correctness on a synthetic gallery, the fast scoring path, thresholds and the embedding cache.

The model is a stand-in with the real interface: a SiameseNet whose encoder averages ink over 15x15 cells
(49 numbers) and whose head has all-negative alpha, so that similar drawings score high: trivially
separable shapes, no training, no shipped weights needed.
"""

from __future__ import annotations

import os
import threading
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from engine.recognition.embedding import Cancelled
from engine.gallery import Gallery
from engine.glyph import Glyph
from engine.model import KochHead, ModelConfig, SiameseNet, build_model, model_fingerprint
from engine.recognition.index import ReferenceIndex
from engine.model import fast_encoder
from engine.recognition.recognize import Recognizer, rank
from engine.weights import LoadedModel

from glyph_shapes import S, shape
KINDS = ["bar", "pole", "box", "ring", "diag", "ell"]


def pooling_model(alpha: float = -2.0, bias: float = 4.0) -> LoadedModel:
    """Return a stand-in model: embedding = mean ink of 7x7 cells; logit = bias + alpha * L1 distance."""
    model = SiameseNet(ModelConfig("test-pool", S, "vgg", (4, 4), 49))
    model.encoder = nn.Sequential(nn.AvgPool2d(15), nn.Flatten())
    model.head = KochHead(49)
    with torch.no_grad():
        model.head.alpha.fill_(alpha)
        model.head.bias.fill_(bias)
    model.eval()
    return LoadedModel(model, {}, model_fingerprint(model), None)


@pytest.fixture
def shapes_gallery(tmp_path) -> Gallery:
    g = Gallery.create(tmp_path / "g", "Shapes")
    for kind in KINDS:
        g.add_character(kind, [shape(kind)])
    return g


# ----------------------------------------------------------------------------------------------- ranking


def test_each_shape_is_recognised_first(shapes_gallery):
    rec = Recognizer(pooling_model(), shapes_gallery)
    for kind in KINDS:
        result = rec.rank(shape(kind, 3, -2), k=3)
        assert not result.no_ink
        assert [m.name for m in result.matches][0] == kind
        scores = [m.score for m in result.matches]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 1.0 for s in scores)
    assert len(rec.rank(shape("bar"), k=None).matches) == len(KINDS)


def test_a_character_scores_the_max_over_its_references(tmp_path):
    loaded = pooling_model()
    both = Gallery.in_memory("both")
    both.add_character("mixed", [shape("box"), shape("ring")])
    both.add_character("bar", [shape("bar")])
    alone = Gallery.in_memory("alone")
    alone.add_character("mixed", [shape("ring")])
    alone.add_character("bar", [shape("bar")])
    query = shape("ring", 2, 2)
    top = Recognizer(loaded, both).rank(query).matches[0]
    assert (top.name, top.reference) == ("mixed", 1)
    assert top.score == pytest.approx(Recognizer(loaded, alone).rank(query).matches[0].score, abs=1e-6)


def test_glyph_objects_and_arrays_rank_the_same(shapes_gallery):
    rec = Recognizer(pooling_model(), shapes_gallery)
    px = shape("ring", 1, 0)
    a, b = rec.rank(px), rec.rank(Glyph(px, no_ink=False))
    assert [(m.name, m.score) for m in a.matches] == [(m.name, m.score) for m in b.matches]


def test_fast_scoring_equals_the_model_score():
    torch.manual_seed(0)
    model = build_model("tiny").eval()  # mixed-sign alpha, as a trained model has
    with torch.no_grad():
        model.head.alpha[:7] = 0.0  # dimensions the head ignores
    emb = torch.rand(300, model.config.embedding_dim)
    query = torch.rand(3, model.config.embedding_dim)
    index = ReferenceIndex(model, emb, [1] * 300, [f"c{i}" for i in range(300)])
    with torch.no_grad():
        expected = model.head.logits(query, emb)
    assert torch.allclose(index.logits(query), expected, atol=1e-4)
    assert torch.allclose(torch.sigmoid(index.logits(query)), model.score(query, emb), atol=1e-5)


def test_fast_encoder_equals_model_embed():
    torch.manual_seed(1)
    model = build_model("tiny").eval()
    with torch.no_grad():  # give batch norm non-trivial statistics so that folding it matters
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    x = model.prepare(torch.from_numpy(np.stack([shape("ring"), shape("ell")])))
    fast = fast_encoder(model)
    assert fast is not model.embed
    with torch.inference_mode():
        assert torch.allclose(fast(x), model.embed(x), atol=1e-5)


def test_no_ink_does_not_run_the_model(shapes_gallery, monkeypatch):
    rec = Recognizer(pooling_model(), shapes_gallery)
    rec.refresh()  # the references are embedded; from now on only a query could run the encoder

    def forbidden(x):
        raise AssertionError("the model ran on a blank glyph")

    monkeypatch.setattr(rec.encoder, "encode", forbidden)
    blank = np.zeros((S, S), np.float32)
    blank[0, 0] = 1  # a speck is still "nothing drawn"
    result = rec.rank(blank)
    assert result.no_ink and result.matches == []


def test_empty_gallery_gives_no_matches(tmp_path):
    result = Recognizer(pooling_model(), Gallery.create(tmp_path / "empty")).rank(shape("bar"))
    assert not result.no_ink and result.no_confident_match and result.matches == []


def test_threshold_decides_confidence(shapes_gallery):
    loaded = pooling_model()
    query = shape("ring", 3, 3)
    best = Recognizer(loaded, shapes_gallery).rank(query).matches[0].score
    assert not Recognizer(loaded, shapes_gallery, threshold=best - 1e-3).rank(query).no_confident_match
    assert Recognizer(loaded, shapes_gallery, threshold=best + 1e-3).rank(query).no_confident_match
    loaded.card["rank_threshold"] = 0.999999
    assert Recognizer(loaded, shapes_gallery).rank(query).no_confident_match


def test_convenience_rank_reuses_embeddings(shapes_gallery):
    loaded = pooling_model()
    first = rank(shape("box", 1, 1), shapes_gallery, k=2, loaded=loaded)
    second = rank(shape("ring"), shapes_gallery, k=2, loaded=loaded)
    assert first.matches[0].name == "box" and second.matches[0].name == "ring"


# ------------------------------------------------------------------------------------------------- cache


def cache_files(gallery: Gallery) -> list[str]:
    folder = gallery.path / ".embeddings"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_embeddings_are_cached_per_model_and_updated_incrementally(shapes_gallery):
    loaded = pooling_model()
    rec = Recognizer(loaded, shapes_gallery)
    rec.refresh()
    assert rec.embedded_count == len(KINDS)
    assert cache_files(shapes_gallery) == [f"{loaded.fingerprint}.npz"]

    reopened = Recognizer(loaded, Gallery.open(shapes_gallery.path))
    assert reopened.rank(shape("pole", 2, 0)).matches[0].name == "pole"
    assert reopened.embedded_count == 0  # all from the cache

    shapes_gallery.add_reference("bar", shape("bar", 0, 4))
    shapes_gallery.rename("ring", "circle")
    rec.on_gallery_changed()
    assert rec.embedded_count == len(KINDS) + 1  # only the new reference
    assert rec.rank(shape("ring", 1, 1)).matches[0].name == "circle"


def test_changing_the_model_recomputes_the_embeddings(shapes_gallery):
    old = pooling_model(alpha=-2.0)
    Recognizer(old, shapes_gallery).refresh()
    new = pooling_model(alpha=-3.0)
    assert new.fingerprint != old.fingerprint
    rec = Recognizer(new, Gallery.open(shapes_gallery.path))
    rec.refresh()
    assert rec.embedded_count == len(KINDS)
    assert cache_files(shapes_gallery) == sorted([f"{old.fingerprint}.npz", f"{new.fingerprint}.npz"])


def test_damaged_cache_is_ignored_and_rebuilt(shapes_gallery):
    loaded = pooling_model()
    Recognizer(loaded, shapes_gallery).refresh()
    cache = shapes_gallery.path / ".embeddings" / f"{loaded.fingerprint}.npz"
    cache.write_bytes(cache.read_bytes()[: os.path.getsize(cache) // 2])  # truncated
    rec = Recognizer(loaded, Gallery.open(shapes_gallery.path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert rec.rank(shape("box")).matches[0].name == "box"
    assert rec.embedded_count == len(KINDS)
    assert any("embedding cache" in str(w.message) for w in caught)
    again = Recognizer(loaded, Gallery.open(shapes_gallery.path))
    again.refresh()
    assert again.embedded_count == 0  # the rebuilt cache is whole again


def test_refresh_reports_progress_and_can_be_cancelled(shapes_gallery):
    rec = Recognizer(pooling_model(), shapes_gallery)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        rec.refresh(cancel=cancel)
    seen = []
    rec.refresh(progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(KINDS), len(KINDS))


# ------------------------------------------------------------------------------------------------ real data


@pytest.mark.realdata
def test_shipped_model_recognises_a_real_alphabet():
    data_dir = os.environ.get("OMNIGLOT_DIR")
    if not data_dir:
        pytest.skip("set OMNIGLOT_DIR to the folder holding images_background.zip to run real-data tests")
    from engine.data import load_omniglot
    from engine.gallery import import_omniglot_alphabet
    from engine.weights import load_weights

    data = load_omniglot(data_dir, with_evaluation=False).background
    gallery = import_omniglot_alphabet(data, "Latin", None, drawers=[1])
    rec = Recognizer(load_weights(), gallery)
    a = data.alphabets.index("Latin")
    queries = [np.flatnonzero((data.char == c) & (data.drawer == 20))[0] for c in data.alphabet_characters(a)]
    results = rec.rank_many(list(data.pixels(np.asarray(queries)).astype(np.float32)), k=1)
    truth = [data.char_names[c] for c in data.alphabet_characters(a)]
    accuracy = np.mean([r.matches[0].name == t for r, t in zip(results, truth)])
    assert accuracy >= 0.8  # 26-way one-shot; the shipped model is ~90% on 20-way validation tasks
