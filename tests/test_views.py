"""Fixed reference and query views (engine.recognition.views): what they are, and that ranking, the cache and evaluation
use them the same way."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.evaluation.evaluate import OneShotConfig, evaluate_one_shot
from engine.gallery import Gallery
from engine.gallery.cache import CACHE_DIR
from engine.model import build_model
from engine.recognition.recognize import Recognizer
from engine.recognition.centering import center_ink, ink_shifts
from engine.recognition.views import ViewConfig, card_views, expand_views, view_matrices
from engine.weights import LoadedModel, load_weights

from glyph_shapes import shape

KINDS = ["bar", "pole", "box", "ring", "diag", "ell"]


def monotone_model() -> LoadedModel:
    torch.manual_seed(0)
    model = build_model("tiny").eval()
    return LoadedModel(model=model, card={}, fingerprint=None, path=None)


def test_view_zero_is_the_glyph_and_each_view_is_the_same_whatever_the_count():
    mats = view_matrices(8, seed=3)
    assert mats.shape == (9, 2, 3)
    assert torch.equal(mats[0], torch.eye(2, 3))
    assert torch.equal(view_matrices(4, seed=3), mats[:5])
    assert not torch.equal(view_matrices(4, seed=4)[1:], mats[1:5])  # another seed, other distortions
    x = torch.rand(3, 1, 48, 48)
    views = expand_views(x, 4).view(3, 5, 1, 48, 48)
    torch.testing.assert_close(views[:, 0], x, atol=1e-5, rtol=0)
    assert not torch.allclose(views[:, 1], x, atol=1e-3)


def test_a_bad_view_setting_is_refused():
    with pytest.raises(ValueError, match="rule"):
        ViewConfig(4, rule="median")
    with pytest.raises(ValueError, match="0-64"):
        ViewConfig(-1)


def test_views_round_trip_through_a_model_card():
    v = ViewConfig(8, 2, "prototype", 1, center=True)
    assert card_views({"views": v.to_dict()}) == v
    assert card_views({}) == ViewConfig() == card_views(None)
    assert not card_views({"views": {"reference_views": 8, "rule": "max"}}).center  # cards made before it
    assert ViewConfig(8).rows_per_reference == 9 and ViewConfig(8, rule="prototype").rows_per_reference == 1


@pytest.mark.parametrize("views", [ViewConfig(), ViewConfig(4), ViewConfig(4, rule="prototype")])
def test_an_enrolled_drawing_ranks_its_own_character_first_with_the_highest_score(views):
    # The monotone head: a glyph compared with itself scores what identical glyphs score, the most any pair can.
    loaded = monotone_model()
    gallery = Gallery.in_memory("shapes")
    for i, kind in enumerate(KINDS):
        gallery.add_character(kind, [shape(kind)])
    rec = Recognizer(loaded, gallery, views=views)
    top_possible = float(torch.sigmoid(loaded.model.head.bias.detach()))
    for i, kind in enumerate(KINDS):
        result = rec.rank(shape(kind), k=3)
        assert result.best.name == kind
        if views.rule == "max":
            assert result.best.score == pytest.approx(top_possible, abs=1e-6)


def test_reference_views_are_cached_beside_the_gallery_and_not_embedded_again(tmp_path):
    loaded = monotone_model()
    gallery = Gallery.create(tmp_path / "g", "shapes")
    for i, kind in enumerate(KINDS):
        gallery.add_character(kind, [shape(kind)])
    first = Recognizer(loaded, gallery, views=ViewConfig(4))
    first.refresh()
    assert first.embedded_count == len(KINDS)
    assert len(first.index) == 5 * len(KINDS)
    again = Recognizer(loaded, Gallery.open(tmp_path / "g"), views=ViewConfig(4))
    again.refresh()
    assert again.embedded_count == 0
    torch.testing.assert_close(again.index.store[1], first.index.store[1])
    plain = Recognizer(loaded, Gallery.open(tmp_path / "g"), views=ViewConfig())
    plain.refresh()  # other views, another cache file: embedded anew, one row a reference
    assert plain.embedded_count == len(KINDS) and len(plain.index) == len(KINDS)


def test_query_views_cost_forward_passes_and_rank_like_the_gallery(monkeypatch):
    loaded = monotone_model()
    gallery = Gallery.in_memory("shapes")
    for i, kind in enumerate(KINDS):
        gallery.add_character(kind, [shape(kind)])
    rec = Recognizer(loaded, gallery, views=ViewConfig(2, 3))
    emb = rec.embed_queries(np.stack([shape("ring", 2, 1)]))
    assert emb.shape == (1, 4, loaded.model.config.embedding_dim)
    assert rec.rank(shape("ring", 2, 1)).matches


def test_evaluation_states_and_uses_its_views(synthetic_data):
    loaded = monotone_model()
    cfg = OneShotConfig(way=5, tasks=4, seed=0)
    plain = evaluate_one_shot(loaded.model, synthetic_data.evaluation, cfg)
    viewed = evaluate_one_shot(loaded.model, synthetic_data.evaluation, cfg, views=ViewConfig(2, 1))
    assert plain.to_dict()["views"] == ViewConfig().to_dict()
    assert viewed.to_dict()["views"]["reference_views"] == 2 and viewed.to_dict()["views"]["query_views"] == 1
    assert plain.n_trials == viewed.n_trials == 20


def test_a_gallery_above_the_size_limit_stores_its_references_without_views(tmp_path, monkeypatch):
    monkeypatch.setattr("engine.recognition.views.MAX_VIEWED_REFERENCES", 4)
    loaded = monotone_model()
    gallery = Gallery.create(tmp_path / "g", "shapes")
    for i, kind in enumerate(KINDS[:4]):
        gallery.add_character(kind, [shape(kind, i)])
    rec = Recognizer(loaded, gallery, views=ViewConfig(3))
    rec.refresh()
    assert len(rec.index) == 4 * 4  # 4 references, each with its 3 views
    for kind in KINDS[4:]:
        gallery.add_character(kind, [shape(kind)])
    rec.refresh()
    assert len(rec.index) == len(KINDS)  # past the limit: one row a reference, all embedded anew
    assert rec.rank(shape("ring")).best.name == "ring"


def test_with_the_ink_centred_a_drawing_ranks_the_same_wherever_it_sits_in_the_box(tmp_path):
    loaded = load_weights()  # the shipped model: what a person's drawing meets
    gallery = Gallery.create(tmp_path / "g", "shapes")
    for kind in KINDS:
        gallery.add_character(kind, [shape(kind)])
    centred, plain = (Recognizer(loaded, gallery, views=ViewConfig(2, center=c)) for c in (True, False))

    def change(rec: Recognizer, kind: str) -> float:  # how far the embedding moves when the drawing does
        here, moved = rec.embed_queries(np.stack([shape(kind), shape(kind, dx=-14, dy=11)]))[:, 0]
        return float((here - moved).abs().sum() / here.abs().sum())

    for kind in ("ell", "ring", "box"):
        assert centred.rank(shape(kind, dx=-14, dy=11)).best.name == kind
        assert change(centred, kind) < 1e-6 < 0.01 < change(plain, kind)  # centred at glyph size: the same image
    # Centred and plain reference embeddings are different things: each has its own cache file.
    plain.refresh()
    caches = sorted(p.stem for p in (tmp_path / "g" / CACHE_DIR).glob("*.npz"))
    assert caches == sorted(f"{loaded.fingerprint}-{ViewConfig(2, center=c).tag()}" for c in (True, False))


def test_centring_moves_the_ink_box_to_the_middle_by_whole_pixels_and_keeps_every_pixel():
    x = torch.zeros(3, 1, 40, 40)
    x[0, 0, 2:9, 30:38] = 1  # a box of ink in the top right corner
    x[0, 0, 5, 33] = 0.25  # grey levels are carried along unchanged
    x[2, 0, 0:40, 0:3] = 1  # as tall as the frame: only moved sideways
    out = center_ink(x)
    assert out[0].sum() == x[0].sum() and out[2].sum() == x[2].sum()
    rows, cols = torch.nonzero(out[0, 0] >= 0.5, as_tuple=True)
    assert (rows.min() + rows.max() + 1) / 2 == pytest.approx(20, abs=0.5)
    assert (cols.min() + cols.max() + 1) / 2 == pytest.approx(20, abs=0.5)
    assert torch.equal(out[0, 0, 16:23, 16:24], x[0, 0, 2:9, 30:38])  # 7 rows: half a pixel off, rounded
    assert torch.equal(out[1], x[1])  # no ink: nothing to move
    assert torch.equal(ink_shifts(out), torch.zeros(3, 2, dtype=torch.long))  # centred stays put
