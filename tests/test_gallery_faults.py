"""Hostile and faulty gallery files (issue 23, items 3, 6, 7, 9 and 11-14): an embedding-cache folder that is a
link, an embedding cache that decompresses to gigabytes, a reference PNG replaced by hand, a huge file in a
folder import, file names with undecodable bytes, a lone surrogate in an index, names too long or empty, a
5 MB path in an index, and terminal escapes in a gallery's name."""

from __future__ import annotations

import io
import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.gallery import Gallery, GalleryError, import_gallery
from engine.gallery.cache import cache_path, read_embeddings, write_embeddings
from engine.gallery.files import encode_png
from engine.recognition.recognize import Recognizer
from engine.weights import load_weights

from glyph_shapes import shape

posix_only = pytest.mark.skipif(os.name != "posix", reason="symbolic links and undecodable file names")


@pytest.fixture
def shapes(tmp_path) -> Gallery:
    g = Gallery.create(tmp_path / "g", "Shapes")
    for kind in ("bar", "ring", "box"):
        g.add_character(kind, [shape(kind)])
    return g


def write_png(path: Path, kind: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(shape(kind)))


# ------------------------------------------------------------------------------ 3: no deletion through links


@posix_only
def test_an_embeddings_folder_that_is_a_link_loses_nothing_behind_it(shapes, tmp_path, exact_match_weights, capsys):
    mine = tmp_path / "my-arrays"
    mine.mkdir()
    for i in range(5):
        np.savez(mine / f"{i:040x}.npz", x=np.arange(3))
    before = {p.name: p.read_bytes() for p in mine.iterdir()}
    (shapes.path / ".embeddings").symlink_to(mine, target_is_directory=True)

    query = tmp_path / "q.png"
    write_png(query, "ring")
    assert main(["rank", "--gallery", str(shapes.path), "--weights", str(exact_match_weights), "--device", "cpu",
                 "--quiet", "--json", str(query)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["results"][0]["name"] == "ring"
    assert {p.name: p.read_bytes() for p in mine.iterdir()} == before  # nothing deleted, nothing written
    assert (shapes.path / ".embeddings").is_symlink()


@posix_only
def test_pruning_old_caches_never_follows_a_link_named_like_one(shapes, tmp_path):
    folder = shapes.path / ".embeddings"
    folder.mkdir()
    outside = tmp_path / "precious.npz"
    outside.write_bytes(b"mine")
    (folder / ("0" * 40 + ".npz")).symlink_to(outside)
    for i in range(1, 6):
        write_embeddings(cache_path(shapes.path, f"{i:040x}"), f"{i:040x}", ["k"], np.zeros((1, 2), np.float32))
    assert outside.read_bytes() == b"mine" and (folder / ("0" * 40 + ".npz")).is_symlink()
    assert len([p for p in folder.glob("*.npz") if not p.is_symlink()]) == 3  # KEEP_MODELS of its own


# ----------------------------------------------------------------------------------------- 7: bounded caches


def test_an_embedding_cache_that_unpacks_to_gigabytes_is_refused_from_its_headers(shapes, monkeypatch):
    fp = "f" * 40
    path = cache_path(shapes.path, fp)
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:  # 80 MiB of zeros, a few hundred kB on disk
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.zeros((80 << 20) // 4, np.float32))
        zf.writestr("embeddings.npy", buf.getvalue())
    assert path.stat().st_size < 1 << 20

    def never(*args, **kwargs):
        pytest.fail("the cache was loaded before its member sizes were checked")
    monkeypatch.setattr(np, "load", never)
    with pytest.warns(UserWarning, match=r"embedding cache .*unpacks to"):
        assert read_embeddings(path, fp, 2)[0] == []

    # Stored (as numpy writes it) but declaring far more than it holds: refused from the header alone.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (1 << 30, 512)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("embeddings.npy", header.getvalue() + b"\0" * 64)
    with pytest.warns(UserWarning, match=r"declares 2,199,023,255,552 bytes"):
        assert read_embeddings(path, fp, 2)[0] == []


# ---------------------------------------------------------------------------- 9: a PNG replaced by hand


def test_a_reference_png_replaced_by_hand_is_embedded_anew(shapes, exact_match_weights):
    loaded = load_weights(exact_match_weights)
    Recognizer(loaded, Gallery.open(shapes.path)).refresh()
    ring = shapes.path / shapes.character("ring").references[0].file
    write_png(ring, "pole")  # the "ring" reference is now a drawing of a pole
    later = (shapes.path / "gallery.json").stat().st_mtime + 2
    os.utime(ring, (later, later))

    rec = Recognizer(loaded, Gallery.open(shapes.path))
    rec.refresh()
    assert rec.embedded_count == 1  # the others come from the cache
    assert rec.rank(shape("pole")).matches[0].name == "ring"
    # The next edit writes the new digest, and later openings trust it again.
    g = Gallery.open(shapes.path)
    g.rename("ring", "square")
    again = Recognizer(loaded, Gallery.open(shapes.path))
    again.refresh()
    assert again.embedded_count == 0


def test_a_touched_but_unchanged_png_costs_no_embedding(shapes, exact_match_weights):
    loaded = load_weights(exact_match_weights)
    Recognizer(loaded, Gallery.open(shapes.path)).refresh()
    later = (shapes.path / "gallery.json").stat().st_mtime + 2
    for p in (shapes.path / "images").iterdir():
        os.utime(p, (later, later))
    rec = Recognizer(loaded, Gallery.open(shapes.path))
    rec.refresh()
    assert rec.embedded_count == 0


# ------------------------------------------------------------------------------- 6: bounded folder imports


def test_a_huge_file_in_a_folder_import_is_refused_before_it_is_read(tmp_path, capsys):
    folder = tmp_path / "alphabet"
    write_png(folder / "ring.png", "ring")
    with open(folder / "x.png", "wb") as f:  # sparse: 100 MB that take no disk
        f.truncate(100 << 20)
    with pytest.raises(GalleryError, match=r"x\.png holds 104,857,600 bytes.*64 MiB"):
        import_gallery(folder, tmp_path / "g")
    assert not (tmp_path / "g").exists()
    assert main(["gallery", "import", str(folder), str(tmp_path / "g"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "x.png" in err and "Traceback" not in err


# --------------------------------------------------------------------- 11: undecodable names, lone surrogates


@posix_only
def test_a_file_name_with_invalid_utf8_imports_and_the_gallery_stays_editable(tmp_path, capsys):
    folder = tmp_path / "alphabet"
    write_png(folder / "ring.png", "ring")
    raw = os.fsencode(folder) + b"/caf\xe9.png"
    with open(raw, "wb") as f:
        f.write(encode_png(shape("box")))
    assert main(["gallery", "import", str(folder), str(tmp_path / "g"), "--quiet"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    g = Gallery.open(tmp_path / "g")
    assert sorted(g.names()) == ["caf\ufffd", "ring"]
    g.rename("caf\ufffd", "café")
    g.add_character("bar", [shape("bar")])
    assert Gallery.open(tmp_path / "g").names() == ["café", "ring", "bar"]
    assert main(["gallery", "list", str(tmp_path / "g")]) == 0


def test_a_lone_surrogate_in_an_index_name_is_repaired_and_the_gallery_stays_editable(shapes, capsys):
    index = shapes.path / "gallery.json"
    data = json.loads(index.read_text())
    data["characters"][1]["name"] = "ri\ud800ng"
    index.write_text(json.dumps(data))  # ensure_ascii: "\ud800" escaped, as a hand edit might write it

    g = Gallery.open(shapes.path)
    assert g.names() == ["bar", "ri\ufffdng", "box"]
    assert len(g.warnings) == 1 and "gallery.json, character 2" in g.warnings[0] and "surrogate" in g.warnings[0]
    g.add_character("pole", [shape("pole")])  # used to fail: "surrogates not allowed", for good
    assert Gallery.open(shapes.path).names() == ["bar", "ri\ufffdng", "box", "pole"]
    assert Gallery.open(shapes.path).warnings == []  # the index is valid again
    assert main(["gallery", "list", str(shapes.path)]) == 0


# --------------------------------------------------------------------------- 12: names too long or empty


def test_files_whose_name_cannot_name_a_character_are_skipped_with_the_reason(tmp_path, capsys):
    folder = tmp_path / "alphabet"
    write_png(folder / "ring.png", "ring")
    write_png(folder / ("x" * 240 + ".png"), "box")
    write_png(folder / "  .png", "bar")
    g = import_gallery(folder, tmp_path / "g")
    assert g.names() == ["ring"]
    assert len(g.import_skipped) == 2
    long_file = str(folder / ("x" * 240 + ".png"))
    assert "limited to 200 characters" in g.skip_reasons[long_file]
    assert "cannot be empty" in g.skip_reasons[str(folder / "  .png")]

    assert main(["gallery", "import", str(folder), str(tmp_path / "g2"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "2 file(s) skipped" in err and "  .png" in err and "x" * 100 in err and "Traceback" not in err


# ----------------------------------------------------------------------------- 13: an over-long index path


def test_a_5_mb_path_in_the_index_gives_a_short_message_naming_the_index(shapes, capsys):
    index = shapes.path / "gallery.json"
    data = json.loads(index.read_text())
    data["characters"][0]["references"][0]["file"] = "images/" + "a" * 5_000_000 + ".png"
    index.write_text(json.dumps(data))
    with pytest.raises(GalleryError, match=r"gallery\.json, character 1: the file name images/aaa.*too long") as exc:
        Gallery.open(shapes.path)
    assert len(str(exc.value)) < 400
    assert main(["gallery", "list", str(shapes.path)]) == 1
    err = capsys.readouterr().err
    assert "gallery.json" in err and len(err) < 1000 and "Errno" not in err


# ------------------------------------------------------------------------- 14: escaped names in `list`


def test_gallery_list_escapes_terminal_controls_and_cuts_huge_names(shapes, capsys):
    index = shapes.path / "gallery.json"
    data = json.loads(index.read_text())
    data["name"] = "\x1b[2J\x1b]0;pwned\x07" + "N" * 2_000_000
    index.write_text(json.dumps(data))
    assert main(["gallery", "list", str(shapes.path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\\x1b[2J" in out
    assert len(out) < 1000 and "more characters" in out
    assert out.splitlines()[1:] == ["  bar\t1", "  ring\t1", "  box\t1"]
