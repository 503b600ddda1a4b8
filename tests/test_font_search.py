"""Symbol search over a whole font: ranked against what is ready while the rest renders and embeds, cached per
font file and model, saved as a gallery that opens without embedding anything."""

from __future__ import annotations

import os
import threading

import pytest

from engine.recognition.embedding import Cancelled
from engine.fonts.search import FontSearch, spread_order
from engine.gallery import Gallery
from engine.fonts.faces import block_of, open_font
from engine.recognition.recognize import Recognizer
from engine.weights import load_weights

CHARS = "ABCDEFGHжщᚠᚢᚦ"


@pytest.fixture
def loaded(exact_match_weights):
    return load_weights(exact_match_weights)


def test_spread_order_gives_every_prefix_a_share_of_each_block():
    latin, cyrillic, runic = list(range(0x41, 0x41 + 20)), list(range(0x410, 0x410 + 10)), [0x16A0, 0x16A1]
    order = spread_order(latin + cyrillic + runic)
    assert sorted(order) == sorted(latin + cyrillic + runic)
    first = [block_of(cp) for cp in order[:10]]  # under a third of the way in
    assert {"Basic Latin", "Cyrillic", "Runic"} <= set(first)
    assert order.index(0x41) < order.index(0x42)  # Unicode order within a block


def test_ranks_against_what_is_ready_then_everything(make_font, loaded, tmp_path):
    face = open_font(make_font())
    with FontSearch(loaded, face, cache_folder=tmp_path / "cache") as search:
        assert search.ready == 0 and search.total == len(CHARS) + 2  # a blank and a .notdef still count here
        while search.ready < 3:
            search.step(batch=3)
        ready = {chr(cp) for cp in search.codepoints}
        assert search.ready < search.total
        target = next(iter(ready))
        result = search.rank(search.pixels(ord(target)), k=None)
        assert result.matches[0].name == target and {m.name for m in result.matches} == ready
        search.build()
        assert search.complete and search.total == len(CHARS)  # the blank and the .notdef box drop out
        assert sorted(map(chr, search.codepoints)) == sorted(CHARS)
        for c in "Aжᚦ":
            assert search.rank(search.pixels(ord(c)), k=1).matches[0].name == c


def test_a_second_search_of_the_same_font_and_model_is_ready_at_once(make_font, loaded, tmp_path, monkeypatch):
    path = make_font()
    FontSearch(loaded, open_font(path), cache_folder=tmp_path / "cache").build().close()
    import engine.fonts.search as fs

    monkeypatch.setattr(fs, "RenderStream", lambda *a, **k: pytest.fail("rendered again"))
    again = FontSearch(loaded, open_font(path), cache_folder=tmp_path / "cache")
    assert again.complete and again.ready == len(CHARS)
    assert again.rank(again.pixels(ord("ж")), k=1).matches[0].name == "ж"
    monkeypatch.undo()
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))  # the font file changed
    changed = FontSearch(loaded, open_font(path), cache_folder=tmp_path / "cache")
    assert changed.ready == 0 and changed.cache != again.cache


def test_a_cancelled_search_keeps_what_is_ready_and_resumes_there(make_font, loaded, tmp_path):
    path, cancel = make_font(), threading.Event()
    search = FontSearch(loaded, open_font(path), cache_folder=tmp_path / "cache")
    while search.ready < 4:
        search.step(batch=4)
    cancel.set()
    with pytest.raises(Cancelled):
        search.step(cancel)
    search.close()
    resumed = FontSearch(loaded, open_font(path), cache_folder=tmp_path / "cache")
    assert resumed.ready == search.ready and not resumed.complete
    assert resumed.build().complete and sorted(map(chr, resumed.codepoints)) == sorted(CHARS)


def test_the_saved_gallery_opens_without_embedding_and_ranks_the_same(make_font, loaded, tmp_path):
    search = FontSearch(loaded, open_font(make_font()), cache_folder=tmp_path / "cache").build()
    query = search.pixels(ord("щ"))
    expected = [(m.name, m.score) for m in search.rank(query).matches]
    saved = search.save_gallery(tmp_path / "g", "Test symbols")
    assert saved.names() == sorted(CHARS) and saved.character("щ").char == "щ"
    recognizer = Recognizer(loaded, Gallery.open(tmp_path / "g"))
    recognizer.refresh()
    assert recognizer.embedded_count == 0
    assert [(m.name, m.score) for m in recognizer.rank(query).matches] == expected


def test_the_search_embeds_like_a_gallery_of_the_same_characters(make_font, loaded, tmp_path):
    # Its faster encoder (conv and batch norm folded) ranks as the recogniser's own embeddings of the references do.
    from engine.fonts.faces import import_font

    font = make_font()
    search = FontSearch(loaded, open_font(font), cache_folder=tmp_path / "cache").build()
    recognizer = Recognizer(loaded, import_font(font, tmp_path / "g").gallery)
    recognizer.refresh()
    assert recognizer.embedded_count == len(CHARS)
    for c in CHARS:
        query = search.pixels(ord(c))
        mine, theirs = search.rank(query, k=None).matches, recognizer.rank(query, k=None).matches
        assert mine[0].name == theirs[0].name == c
        assert abs(mine[0].score - theirs[0].score) < 1e-4


def test_a_failing_renderer_is_an_error_not_a_wait(make_font, loaded, tmp_path, monkeypatch):
    import engine.fonts.search as fs

    class Broken:
        def __init__(self, *_a, **_k):
            pass

        def take(self, *_a, **_k):
            return []

        @property
        def finished(self):
            raise OSError("a font worker failed (exit code 1)")

        def close(self):
            pass

    monkeypatch.setattr(fs, "RenderStream", Broken)
    search = FontSearch(loaded, open_font(make_font()), cache_folder=tmp_path / "cache")
    with pytest.raises(OSError, match="worker failed"):
        search.step(wait=0.01)
