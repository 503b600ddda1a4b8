"""Galleries: saving, editing, crash safety, hostile input, import and export (tiny synthetic data)."""

from __future__ import annotations

import io
import json
import os
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.recognition.embedding import Cancelled
from engine.gallery import Gallery, GalleryError, import_gallery, import_omniglot_alphabet, load_gallery
from engine.gallery.files import FORMAT_VERSION, pixels_digest
from engine.data.omniglot import OmniglotSet

from glyph_shapes import S, shape


def png_bytes(pixels: np.ndarray, mode: str = "1", size: int | None = None, fmt: str = "PNG") -> bytes:
    """Return an image file of glyph pixels, ink black on white (optionally resized, other formats)."""
    img = Image.fromarray(((1 - pixels) * 255).astype(np.uint8), "L")
    if size:
        img = img.resize((size, size), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    (img.convert(mode) if mode != "L" else img).save(buf, format=fmt)
    return buf.getvalue()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Return every file under `folder` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def indexed_files(folder: Path) -> set[str]:
    data = json.loads((folder / "gallery.json").read_text())
    return {r["file"] for c in data["characters"] for r in c["references"]}


@pytest.fixture
def gallery(tmp_path) -> Gallery:
    g = Gallery.create(tmp_path / "g", "Shapes")
    g.add_character("bar", [shape("bar")])
    g.add_character("ring", [shape("ring"), shape("ring", 2, 1)])
    g.add_character("box", [shape("box")])
    return g


# ----------------------------------------------------------------------------------------- saving, editing


def test_saved_gallery_reopens_with_same_characters_and_pixels(gallery):
    again = Gallery.open(gallery.path)
    assert again.name == "Shapes"
    assert again.names() == ["bar", "ring", "box"]
    assert len(again) == 3 and again.n_references == 4
    assert np.array_equal(again.character("ring").references[1].pixels, shape("ring", 2, 1))
    index = json.loads((gallery.path / "gallery.json").read_text())
    assert index["format"] == "glyphs-gallery" and index["format_version"] == FORMAT_VERSION
    # Each reference is an Omniglot-like PNG: 105x105, ink black on white.
    png = np.asarray(Image.open(gallery.path / again.character("bar").references[0].file).convert("L"))
    assert png.shape == (S, S) and png[52, 50] == 0 and png[0, 0] == 255


def test_soft_edges_survive_within_png_precision(tmp_path):
    soft = shape("ring") * 0.5 + shape("bar") * 0.5 + shape("bar") * 0.25
    g = Gallery.create(tmp_path / "g")
    g.add_character("soft", [np.clip(soft, 0, 1)])
    ref = Gallery.open(tmp_path / "g").character("soft").references[0]
    assert np.abs(ref.pixels - np.clip(soft, 0, 1)).max() <= 0.5 / 255 + 1e-6
    # Read back from the PNG, the pixels are the very ones saved: same digest, same cached embedding.
    assert ref.digest == pixels_digest(ref.pixels) == g.character("soft").references[0].digest


def test_create_refuses_an_existing_gallery_or_a_non_empty_folder(gallery, tmp_path):
    with pytest.raises(GalleryError, match="already"):
        Gallery.create(gallery.path, "again")
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("mine")
    with pytest.raises(GalleryError, match="not an empty folder"):
        Gallery.create(tmp_path / "stuff", "x")
    assert (tmp_path / "stuff" / "notes.txt").read_text() == "mine"


def test_suggest_name_follows_omniglot_numbering(tmp_path):
    g = Gallery.create(tmp_path / "g")
    assert g.suggest_name() == "character01"
    g.add_character(None, [shape("bar")])
    g.add_character("character07", [shape("ring")])
    assert g.names() == ["character01", "character07"]
    assert g.suggest_name() == "character08"


def test_edits_are_saved_and_undo_restores(gallery):
    path = gallery.path
    gallery.add_reference("bar", shape("bar", 3, 0))
    assert len(Gallery.open(path).character("bar").references) == 2

    removed = gallery.remove_reference("bar", 0)
    assert np.array_equal(removed.pixels, shape("bar"))
    assert np.array_equal(Gallery.open(path).character("bar").references[0].pixels, shape("bar", 3, 0))
    with pytest.raises(GalleryError, match="only"):
        gallery.remove_reference("bar", 0)

    gallery.rename("bar", "dash")
    with pytest.raises(GalleryError, match="already"):
        gallery.rename("dash", "ring")
    assert Gallery.open(path).names() == ["dash", "ring", "box"]

    deleted = gallery.delete("ring")
    assert Gallery.open(path).names() == ["dash", "box"]
    assert indexed_files(path) == {p.relative_to(path).as_posix() for p in (path / "images").iterdir()}
    gallery.restore(deleted)
    again = Gallery.open(path)
    assert again.names() == ["dash", "ring", "box"]
    assert np.array_equal(again.character("ring").references[1].pixels, shape("ring", 2, 1))

    gallery.merge(["box", "dash"], "square-ish")
    again = Gallery.open(path)
    assert again.names() == ["square-ish", "ring"]
    merged = again.character("square-ish").references
    assert [np.array_equal(r.pixels, p) for r, p in zip(merged, [shape("box"), shape("bar", 3, 0)])] == [True, True]
    with pytest.raises(GalleryError):
        gallery.merge(["ring"], "square-ish")
    gallery.merge(["square-ish", "ring"], "ring")
    assert Gallery.open(path).names() == ["ring"] and gallery.n_references == 4


def test_bad_glyphs_and_names_are_refused(gallery):
    with pytest.raises(GalleryError, match="no ink"):
        gallery.add_character("blank", [np.zeros((S, S))])
    with pytest.raises(GalleryError, match="105x105"):
        gallery.add_character("small", [np.ones((20, 20))])
    with pytest.raises(GalleryError, match="empty"):
        gallery.add_character("  ", [shape("bar")])
    with pytest.raises(GalleryError, match="already"):
        gallery.add_character("bar", [shape("bar")])
    assert Gallery.open(gallery.path).names() == ["bar", "ring", "box"]


# ------------------------------------------------------------------------------------------ crash safety


def test_interrupted_index_write_leaves_the_old_gallery(gallery, monkeypatch):
    before = snapshot(gallery.path)
    real_replace = os.replace

    def crash_on_index(src, dst):
        if Path(dst).name == "gallery.json":
            raise OSError("simulated crash before the rename")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_index)
    with pytest.raises(OSError, match="simulated"):
        gallery.add_character("pole", [shape("pole")])
    with pytest.raises(OSError, match="simulated"):
        gallery.delete("bar")
    monkeypatch.setattr(os, "replace", real_replace)

    assert gallery.names() == ["bar", "ring", "box"]  # the object did not change either
    again = Gallery.open(gallery.path)
    assert again.names() == ["bar", "ring", "box"]
    assert (gallery.path / "gallery.json").read_bytes() == before["gallery.json"]
    assert all((gallery.path / f).is_file() for f in indexed_files(gallery.path))
    # PNGs orphaned by a real crash are harmless and swept by the next edit once an index newer than them is
    # on disk (a PNG newer than the index may be another writer's work in progress: test_gallery_writers.py).
    orphan = gallery.path / "images" / "pole-1.png"
    orphan.write_bytes(png_bytes(shape("pole")))
    then = (gallery.path / "gallery.json").stat().st_mtime - 60
    os.utime(orphan, (then, then))
    reopened = Gallery.open(gallery.path)
    reopened.add_character("pole", [shape("pole")])
    assert indexed_files(gallery.path) == {p.relative_to(gallery.path).as_posix()
                                           for p in (gallery.path / "images").iterdir()}
    assert Gallery.open(gallery.path).names() == ["bar", "ring", "box", "pole"]


def test_interrupted_png_write_leaves_the_old_gallery(gallery, monkeypatch):
    before = snapshot(gallery.path)
    def disk_full(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="disk full"):
        gallery.add_reference("bar", shape("bar", 1, 1))
    monkeypatch.undo()
    assert snapshot(gallery.path) == before
    assert len(Gallery.open(gallery.path).character("bar").references) == 1


# ----------------------------------------------------------------------------------- corrupt and hostile


def test_bad_json_index_gives_a_clear_error_and_touches_nothing(gallery):
    (gallery.path / "gallery.json").write_text('{"format": "glyphs-gallery", "characters": [')
    before = snapshot(gallery.path)
    with pytest.raises(GalleryError, match="gallery.json.*not valid JSON"):
        Gallery.open(gallery.path)
    assert snapshot(gallery.path) == before


def test_missing_png_is_named_and_can_be_dropped(gallery):
    lost = gallery.character("box").references[0].file
    (gallery.path / lost).unlink()
    before = snapshot(gallery.path)
    with pytest.raises(GalleryError, match=lost):
        Gallery.open(gallery.path)
    partial = Gallery.open(gallery.path, drop_missing=True)
    assert partial.names() == ["bar", "ring"] and partial.import_skipped == [lost]
    assert snapshot(gallery.path) == before


def test_directory_named_like_a_png_is_not_a_reference(gallery):
    file = gallery.character("bar").references[0].file
    (gallery.path / file).unlink()
    (gallery.path / file).mkdir()
    with pytest.raises(GalleryError, match="not a file"):
        Gallery.open(gallery.path)


@pytest.mark.parametrize("file", ["../outside.png", "/etc/passwd", "images/../../x.png", "C:/x.png"])
def test_index_paths_leaving_the_folder_are_refused(gallery, file):
    data = json.loads((gallery.path / "gallery.json").read_text())
    data["characters"][0]["references"][0]["file"] = file
    (gallery.path / "gallery.json").write_text(json.dumps(data))
    with pytest.raises(GalleryError, match="leaves the gallery folder|invalid"):
        Gallery.open(gallery.path)


def test_index_from_a_newer_version_says_so(gallery):
    data = json.loads((gallery.path / "gallery.json").read_text())
    data["format_version"] = 99
    (gallery.path / "gallery.json").write_text(json.dumps(data))
    with pytest.raises(GalleryError, match="newer"):
        Gallery.open(gallery.path)


# ------------------------------------------------------------------------------------------------- import


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def zip_tree(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for rel, data in files.items():
            zf.writestr(rel, data)
    return path


# An Omniglot image whose ink sits off-centre: normalisation would move it, import must not.
OFF_CENTRE = shape("ell", 15, -12)
OMNIGLOT_ALPHABET = {
    "character01/0001_01.png": png_bytes(shape("bar")),
    "character01/0001_02.png": png_bytes(shape("bar", 1, 2)),
    "character02/0002_01.png": png_bytes(OFF_CENTRE),
    "character10/0010_01.png": png_bytes(shape("ring")),
}


def test_omniglot_style_folder_imports_pixel_for_pixel(tmp_path):
    src = write_tree(tmp_path / "Shapes_alphabet", OMNIGLOT_ALPHABET)
    g = import_gallery(src, tmp_path / "out")
    assert g.name == "Shapes_alphabet"
    assert g.names() == ["character01", "character02", "character10"]  # natural order
    assert len(g.character("character01").references) == 2
    assert np.array_equal(Gallery.open(tmp_path / "out").character("character02").references[0].pixels, OFF_CENTRE)


def test_generic_folder_of_any_images_is_normalised(tmp_path):
    src = write_tree(tmp_path / "src", {
        "alpha/big.jpg": png_bytes(shape("ring"), mode="L", size=300, fmt="JPEG"),
        "alpha/small.bmp": png_bytes(shape("ring"), mode="L", size=40, fmt="BMP"),
        "beta/one.png": png_bytes(shape("pole"), mode="RGB", size=210),
        "beta/readme.txt": b"not an image",
        ".DS_Store": b"junk",
    })
    g = import_gallery(src, None)
    assert g.names() == ["alpha", "beta"] and len(g.character("alpha").references) == 2
    for c in g.characters:
        for r in c.references:
            assert r.pixels.shape == (S, S) and r.pixels.sum() > 100


def test_flat_folder_one_character_per_file_and_png_named_directory(tmp_path):
    src = write_tree(tmp_path / "flat", {"a.png": png_bytes(shape("bar")), "b.gif": png_bytes(shape("box"), mode="L",
                                                                                                   fmt="GIF")})
    (src / "c.png").mkdir()  # a directory that looks like an image
    g = import_gallery(src, None)
    assert g.names() == ["a", "b"]


def test_zip_imports_like_the_folder_it_holds(tmp_path):
    archive = zip_tree(tmp_path / "shapes.zip", {f"Shapes/{k}": v for k, v in OMNIGLOT_ALPHABET.items()})
    g = import_gallery(archive, None)
    assert g.name == "Shapes" and g.names() == ["character01", "character02", "character10"]
    assert np.array_equal(g.character("character02").references[0].pixels, OFF_CENTRE)


def test_zip_slip_is_refused_and_nothing_is_written(tmp_path):
    archive = zip_tree(tmp_path / "evil.zip", {"a/0001_01.png": png_bytes(shape("bar")),
                                               "../../evil.png": png_bytes(shape("ring"))})
    with pytest.raises(GalleryError, match="zip slip"):
        import_gallery(archive, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.zip"]


def test_unreadable_image_names_the_file_and_writes_nothing(tmp_path):
    src = write_tree(tmp_path / "src", {"a/1.png": png_bytes(shape("bar")), "b/2.png": b"\x89PNG broken"})
    with pytest.raises(GalleryError, match="2.png"):
        import_gallery(src, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_blank_images_are_skipped_and_reported(tmp_path):
    src = write_tree(tmp_path / "src", {"a.png": png_bytes(shape("bar")), "blank.png": png_bytes(np.zeros((S, S)))})
    g = import_gallery(src, None)
    assert g.names() == ["a"] and any("blank.png" in s for s in g.import_skipped)


def test_cancelled_import_reports_progress_and_leaves_nothing(tmp_path):
    src = write_tree(tmp_path / "src", OMNIGLOT_ALPHABET)
    cancel, seen = threading.Event(), []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        cancel.set()

    with pytest.raises(Cancelled):
        import_gallery(src, tmp_path / "out", progress=progress, cancel=cancel)
    assert seen == [(1, 4)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_import_without_dest_writes_nothing(tmp_path):
    src = write_tree(tmp_path / "src", OMNIGLOT_ALPHABET)
    archive = zip_tree(tmp_path / "a.zip", OMNIGLOT_ALPHABET)
    before = snapshot(tmp_path)
    assert len(load_gallery(src)) == 3 and len(load_gallery(archive)) == 3
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------------------------------------- export


@pytest.mark.parametrize("as_zip", [False, True])
def test_export_and_import_back_round_trip(gallery, tmp_path, as_zip):
    dest = tmp_path / ("copy.zip" if as_zip else "copy")
    assert gallery.export(dest, as_zip=as_zip) == dest
    back = import_gallery(dest, tmp_path / "back")
    assert back.name == "Shapes" and back.names() == gallery.names()
    for a, b in zip(gallery.characters, back.characters):
        assert all(np.array_equal(x.pixels, y.pixels) for x, y in zip(a.references, b.references))
    assert not (tmp_path / "back" / ".embeddings").exists()


def test_export_refuses_a_non_empty_folder(gallery, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep")
    with pytest.raises(GalleryError):
        gallery.export(tmp_path / "full")
    assert (tmp_path / "full" / "x").read_text() == "keep"


def test_in_memory_gallery_exports_to_a_real_one(tmp_path):
    g = import_gallery(write_tree(tmp_path / "src", OMNIGLOT_ALPHABET), None)
    g.export(tmp_path / "saved")
    assert Gallery.open(tmp_path / "saved").names() == g.names()


# ----------------------------------------------------------------------------------------------- Omniglot


def fake_omniglot() -> OmniglotSet:
    """Two alphabets: 'Shapes' (3 characters) and 'Other' (1), 4 drawers each; pixel value encodes the drawer."""
    kinds = ["bar", "ring", "box", "pole"]
    images, chars, drawers = [], [], []
    for c, kind in enumerate(kinds):
        for d in range(1, 5):
            images.append(np.packbits(shape(kind, d, 0).astype(np.uint8), axis=-1))
            chars.append(c)
            drawers.append(d)
    return OmniglotSet("background", np.stack(images), np.asarray(chars, np.int32), np.asarray(drawers, np.int16),
                       np.asarray([0, 0, 0, 1], np.int32), ["character01", "character02", "character03",
                                                            "character01"], ["Shapes", "Other"])


def test_import_omniglot_alphabet_picks_drawers(tmp_path):
    data = fake_omniglot()
    g = import_omniglot_alphabet(data, "Shapes", tmp_path / "g", references_per_character=2)
    assert g.name == "Shapes" and g.names() == ["character01", "character02", "character03"]
    refs = Gallery.open(tmp_path / "g").character("character02").references
    assert [np.array_equal(r.pixels, shape("ring", d, 0)) for r, d in zip(refs, [1, 2])] == [True, True]

    chosen = import_omniglot_alphabet(data, "Shapes", None, drawers=[4])
    assert np.array_equal(chosen.character("character01").references[0].pixels, shape("bar", 4, 0))
    seeded = [import_omniglot_alphabet(data, "Shapes", None, 2, drawers=7) for _ in range(2)]
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(seeded[0].characters[0].references,
                                                                  seeded[1].characters[0].references))
    with pytest.raises(GalleryError, match="Shapes, Other"):
        import_omniglot_alphabet(data, "Klingon", None)
