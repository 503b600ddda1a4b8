"""Hostile files (issue 15, items 12-16), each through the API and the command line: formats that are not
raster images, a gallery whose images/ is a link, a deeply nested index, very large valid inputs, and
temporaries left by crashes."""

from __future__ import annotations

import io
import json
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image, ImageDraw, ImageFile

from engine.atomic import STALE_AFTER_S
from engine.cli import main
from engine.data.omniglot import load_set
from engine.gallery import Gallery, GalleryError, import_gallery, load_gallery, read_glyph
from engine.glyph import GLYPH_SIZE, GlyphError, decode, glyph_from_image, open_image, render, render_strokes
from engine.glyph.thinning import dilate
from engine.strokes import MAX_SAMPLES, Stroke, StrokeFileError, load_omniglot_strokes, parse_omniglot_strokes
from engine.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n"
       b"newpath 10 10 moveto 90 90 lineto stroke showpage\n%%EOF\n")


def ink(kind: str = "cross") -> np.ndarray:
    """Return a (105, 105) glyph (1 = ink) of a simple character."""
    g = np.zeros((GLYPH_SIZE, GLYPH_SIZE), np.float32)
    if kind == "cross":
        g[50:56, 20:85] = 1
        g[20:85, 50:56] = 1
    else:  # "ell"
        g[20:85, 25:31] = 1
        g[79:85, 25:80] = 1
    return g


def encoded(fmt: str, size: int = 300, **kw) -> bytes:
    """Return a drawing of a cross, black on white, encoded in `fmt`."""
    im = Image.new("L", (size, size), 255)
    d = ImageDraw.Draw(im)
    d.line([(size * 0.2, size / 2), (size * 0.8, size / 2)], fill=0, width=max(2, size // 40))
    d.line([(size / 2, size * 0.2), (size / 2, size * 0.8)], fill=0, width=max(2, size // 40))
    buf = io.BytesIO()
    (im.convert("RGB") if fmt in ("JPEG", "PDF") else im).save(buf, fmt, **kw)
    return buf.getvalue()


def huge_png(width: int, height: int) -> bytes:
    """Return a valid 1-bit white PNG of the given size (small on disk: every row compresses to nothing)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def stroke_text(points: np.ndarray, per_stroke: int) -> str:
    """Return an Omniglot stroke file (y up) of `points` (y down), `per_stroke` samples a stroke."""
    lines = ["START"]
    for i, (x, y) in enumerate(points):
        lines.append(f"{x:.4f},{-y:.4f},{i * 10}")
        if i % per_stroke == per_stroke - 1 or i == len(points) - 1:
            lines.append("BREAK")
    return "\n".join(lines) + "\n"


def spiral(n: int) -> np.ndarray:
    """Return `n` points along a spiral inside the 105-px square (y down)."""
    theta = np.linspace(0, 6 * np.pi, n)
    r = 8 + theta * 2
    return np.column_stack([52 + r * np.cos(theta), 52 + r * np.sin(theta)])


def age(path: Path, seconds: float) -> None:
    """Make `path` look last written `seconds` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


@pytest.fixture
def no_postscript_reader(monkeypatch):
    """Fail the test if Pillow's EPS reader (which runs Ghostscript) is ever asked to open anything."""
    def refuse(*args, **kwargs):
        pytest.fail("Pillow's EPS reader was reached")
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", refuse)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", refuse)


@pytest.fixture
def cross_gallery(tmp_path) -> Gallery:
    g = Gallery.create(tmp_path / "g", "Crosses")
    g.add_character("cross", [ink("cross")])
    g.add_character("ell", [ink("ell")])
    return g


# ------------------------------------------------------------------------ 12: only raster formats are read


def test_postscript_named_png_never_reaches_ghostscript(tmp_path, no_postscript_reader, capsys):
    evil = tmp_path / "drawing.png"
    evil.write_bytes(EPS)
    for read in (glyph_from_image, read_glyph, open_image):
        with pytest.raises(GlyphError, match=r"drawing\.png.*PostScript"):
            read(evil)
    folder = tmp_path / "alphabet"
    folder.mkdir()
    (folder / "alpha.png").write_bytes(encoded("PNG"))
    (folder / "beta.png").write_bytes(EPS)
    with pytest.raises(GalleryError, match=r"beta\.png.*PostScript"):
        import_gallery(folder, tmp_path / "imported")
    assert not (tmp_path / "imported").exists()

    assert main(["embed", str(evil), "--out", str(tmp_path / "e.npy")]) == 1
    assert main(["gallery", "import", str(folder), str(tmp_path / "imported"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "drawing.png" in err and "beta.png" in err and "PostScript" in err and "Traceback" not in err
    assert not (tmp_path / "e.npy").exists() and not (tmp_path / "imported").exists()
    # `rank` (the shipped model) reports the file as an error of its own and ranks the others.
    (folder / "beta.png").unlink()
    good = tmp_path / "good.png"
    good.write_bytes(encoded("PNG"))
    assert main(["rank", "--gallery", str(folder), "--device", "cpu", "--quiet", "--json", str(evil),
                 str(good)]) == 1
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert "PostScript" in first["error"] and first["results"] == []
    assert second["results"][0]["name"] == "alpha"


def test_the_raster_formats_are_read_and_every_other_format_is_refused_by_content(tmp_path, no_postscript_reader):
    reference = glyph_from_image(encoded("PNG")).pixels
    for fmt in ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF"):
        path = tmp_path / "char.png"  # the name does not matter, the content does
        path.write_bytes(encoded(fmt))
        g = read_glyph(path)
        assert not g.no_ink, fmt
        assert ((g.pixels >= 0.5) & (reference >= 0.5)).sum() / ((g.pixels >= 0.5) | (reference >= 0.5)).sum() > 0.8
    for fmt, words in (("PPM", "reads PNG, JPEG"), ("PCX", "reads PNG, JPEG"), ("ICO", "reads PNG, JPEG"),
                       ("PDF", "PDF"), ("EPS", "PostScript")):
        data = EPS if fmt == "EPS" else encoded(fmt)
        with pytest.raises(GlyphError, match=words):
            glyph_from_image(data)
    # An image object whose file was a refused format is refused too, before its pixels are asked for.
    with pytest.raises(GlyphError, match="PCX"):
        glyph_from_image(Image.open(io.BytesIO(encoded("PCX"))))


def test_every_reader_of_images_refuses_postscript(tmp_path, cross_gallery, no_postscript_reader):
    from engine.data.omniglot import DataError, load_set
    from engine.evaluation.evaluate import load_raw_glyph

    reference = cross_gallery.path / cross_gallery.character("ell").references[0].file
    reference.write_bytes(EPS)
    with pytest.raises(GalleryError, match="PostScript"):
        _ = Gallery.open(cross_gallery.path).character("ell").references[0].pixels
    omniglot = tmp_path / "images_background" / "Alphabet" / "character01"
    omniglot.mkdir(parents=True)
    (omniglot / "0001_01.png").write_bytes(EPS)
    with pytest.raises(DataError, match="0001_01.png.*PostScript"):
        load_set(tmp_path / "images_background", "background", cache=False)
    with pytest.raises(GlyphError, match="PostScript"):
        load_raw_glyph(omniglot / "0001_01.png")


# ------------------------------------------------------------- 13: never delete through a link, only our files


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_symlinked_images_folder_loses_nothing(cross_gallery, tmp_path):
    photos = tmp_path / "photos"
    (cross_gallery.path / "images").rename(photos)
    (cross_gallery.path / "images").symlink_to(photos, target_is_directory=True)
    (photos / "holiday.png").write_bytes(encoded("PNG"))
    (photos / "cross-7.png").write_bytes(encoded("PNG"))  # named like a gallery file, but not in its index
    (photos / ".notes.txt.abcdefgh.tmp").write_text("mine")
    for p in photos.iterdir():
        age(p, 2 * STALE_AFTER_S)
    before = files_under(photos)

    g = Gallery.open(cross_gallery.path)
    g.add_character("plus", [ink("cross")])
    g.delete("ell")
    g.rename("cross", "kreuz")
    g.collect_garbage()

    assert before <= files_under(photos)  # the deleted character's PNG stays too: it lies behind the link
    assert Gallery.open(cross_gallery.path).names() == ["kreuz", "plus"]


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_garbage_collection_deletes_only_files_the_gallery_wrote(cross_gallery, tmp_path):
    images = cross_gallery.path / "images"
    outside = tmp_path / "outside.png"
    outside.write_bytes(encoded("PNG"))
    (images / "photo.png").write_bytes(encoded("PNG", size=GLYPH_SIZE))
    (images / "scan.PNG").write_bytes(encoded("PNG"))
    (images / "readme.txt").write_text("notes")
    (images / "link-3.png").symlink_to(outside)
    (images / "ell-9.png").write_bytes(encoded("PNG"))  # an orphan of the gallery's own naming
    for p in images.iterdir():  # older than the index, as a crash's orphans are (newer: tests/test_gallery_writers.py)
        age(p, 60)

    removed = Gallery.open(cross_gallery.path).collect_garbage()

    assert removed == ["ell-9.png"]
    assert {"photo.png", "scan.PNG", "readme.txt", "link-3.png"} <= {p.name for p in images.iterdir()}
    assert outside.is_file() and (images / "link-3.png").is_symlink()
    # Deleting a character whose index entry points at a file the gallery did not name itself keeps the file.
    g = Gallery.open(cross_gallery.path)
    g.add_reference("ell", ink("ell"))
    index = (cross_gallery.path / "gallery.json").read_text().replace(g.character("ell").references[1].file,
                                                                       "images/photo.png")
    (cross_gallery.path / "gallery.json").write_text(index)
    Gallery.open(cross_gallery.path).delete("ell")
    assert (images / "photo.png").is_file()


# ---------------------------------------------------------------------------------- 14: a deeply nested index


def test_a_deeply_nested_index_is_a_gallery_error_naming_the_file(cross_gallery, tmp_path, capsys):
    index = cross_gallery.path / "gallery.json"
    index.write_text("[" * 100_000 + "]" * 100_000)
    for open_it in (Gallery.open, load_gallery):
        with pytest.raises(GalleryError, match=r"gallery\.json.*nests too deeply"):
            open_it(cross_gallery.path)
    nested = tmp_path / "export"
    nested.mkdir()
    (nested / "gallery.json").write_text('{"format": ' * 100_000 + "1" + "}" * 100_000)
    (nested / "a.png").write_bytes(encoded("PNG"))
    with pytest.raises(GalleryError, match=r"gallery\.json.*nests too deeply"):
        import_gallery(nested, None)

    assert main(["gallery", "list", str(cross_gallery.path)]) == 1
    assert main(["gallery", "export", str(cross_gallery.path), str(tmp_path / "copy.zip")]) == 1
    err = capsys.readouterr().err
    assert err.count("gallery.json") >= 2 and "nests too deeply" in err and "Traceback" not in err
    assert not (tmp_path / "copy.zip").exists()


# ------------------------------------------------------------------------------------- 15: large valid inputs


def test_an_image_over_the_pixel_bound_is_refused_from_its_header_without_decoding(tmp_path, monkeypatch,
                                                                                  capsys):
    big = tmp_path / "poster.png"
    big.write_bytes(huge_png(13_000, 13_000))
    assert big.stat().st_size < 1_000_000

    def no_decoding(self):
        pytest.fail("the image was decoded")
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    for read in (glyph_from_image, read_glyph):
        with pytest.raises(GlyphError, match=r"poster\.png.*13,000x13,000 pixels \(169 megapixels\).*scale it down"):
            read(big)
    folder = tmp_path / "posters"
    folder.mkdir()
    (folder / "poster.png").write_bytes(big.read_bytes())
    with pytest.raises(GalleryError, match="megapixels"):
        import_gallery(folder, tmp_path / "g")
    assert main(["embed", str(big), "--out", str(tmp_path / "e.npy")]) == 1
    assert "169 megapixels" in capsys.readouterr().err


def test_large_jpegs_are_decoded_reduced_and_large_images_are_shrunk_before_glyph_work(monkeypatch):
    jpeg, png, mid = encoded("JPEG", size=1600, quality=90), encoded("PNG", size=1600), encoded("PNG", size=700)
    full = [glyph_from_image(data).pixels >= 0.5 for data in (jpeg, mid)]
    monkeypatch.setattr(decode, "MAX_DECODE_PIXELS", 700_000)  # as if 1,600 x 1,600 were huge
    monkeypatch.setattr(decode, "WORKING_SIDE", 400)
    assert open_image(jpeg).size == (800, 800)  # decoded at half scale: under the bound, no refusal
    with pytest.raises(GlyphError, match="megapixels"):
        open_image(png)  # PNG has no reduced decoding
    for data, whole in zip((jpeg, mid), full):
        shrunk = glyph_from_image(data).pixels >= 0.5
        # The same character, to within a pixel, as from the image at full size.
        assert not (shrunk & ~dilate(whole, 1)).any() and not (whole & ~dilate(shrunk, 1)).any()


def test_a_dense_200000_sample_stroke_file_is_downsampled_and_drawn(tmp_path):
    path = tmp_path / "spiral.txt"
    path.write_text(stroke_text(spiral(200_000), per_stroke=50_000))
    strokes = load_omniglot_strokes(path)
    assert sum(len(s) for s in strokes) <= MAX_SAMPLES and len(strokes) == 4
    full = parse_omniglot_strokes(path.read_text(), max_samples=None)
    for kept, every in zip(strokes, full):  # each stroke keeps its ends
        np.testing.assert_array_equal(kept.points[[0, -1]], every.points[[0, -1]])
    g = read_glyph(path).pixels >= 0.5
    expected = render_strokes([Stroke(spiral(2_000))]).pixels >= 0.5
    assert (g & expected).sum() / (g | expected).sum() > 0.9


def test_a_drawing_too_long_to_draw_is_refused_with_a_clear_message(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "scribble.txt"
    path.write_text(stroke_text(rng.uniform(0, 105, (200_000, 2)), per_stroke=1_000))
    with pytest.raises(GlyphError, match=r"scribble\.txt: the drawing is too large to draw"):
        read_glyph(path)
    assert main(["embed", str(path), "--out", str(tmp_path / "e.npy")]) == 1
    assert "too large to draw" in capsys.readouterr().err
    # A drawing with more points than any person draws keeps its shape when thinned (the canvas's path).
    dense = render_strokes([Stroke(spiral(3 * render.DENSE_POINTS))]).pixels >= 0.5
    sparse = render_strokes([Stroke(spiral(2_000))]).pixels >= 0.5
    assert (dense & sparse).sum() / (dense | sparse).sum() > 0.9


def test_oversized_stroke_files_and_too_many_strokes_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "dots.txt"
    path.write_text("START\n" + "1,-1,0\nBREAK\n" * 10_001)
    with pytest.raises(StrokeFileError, match=r"dots\.txt: 10,001 strokes"):
        load_omniglot_strokes(path)
    monkeypatch.setattr("engine.strokes.MAX_STROKE_FILE_BYTES", 1_000)
    with pytest.raises(StrokeFileError, match=r"dots\.txt: .* too large for an Omniglot stroke file"):
        load_omniglot_strokes(path)


# -------------------------------------------------------------------------- 16: temporaries left by crashes


def test_opening_a_gallery_removes_its_stale_temporaries_only(cross_gallery, tmp_path, capsys):
    root, images = cross_gallery.path, cross_gallery.path / "images"
    (root / ".embeddings").mkdir()
    stale = [root / ".gallery.json.abcd1234.tmp", images / ".cross-2.png.x_9yz0ab.tmp",
             root / ".embeddings" / ".0123abcd.npz.qwertyui.tmp", tmp_path / ".g.0badf00d.tmp"]
    live = [root / ".gallery.json.live1234.tmp", tmp_path / ".g.12345678.tmp"]
    foreign = [root / ".notes.txt.abcd1234.tmp", root / "draft.tmp", images / ".holiday.jpg.abcd1234.tmp",
               tmp_path / ".other.0badf00d.tmp"]
    for p in stale + live + foreign:
        if p.name.startswith((".g.", ".other.")):
            (p / "images").mkdir(parents=True)
            (p / "images" / "a-1.png").write_bytes(b"half an import")
            for q in (p / "images" / "a-1.png", p / "images", p):
                age(q, 2 * STALE_AFTER_S if p not in live else 0)
        else:
            p.write_bytes(b"half a write")
            age(p, 2 * STALE_AFTER_S if p not in live else 0)

    assert main(["gallery", "list", str(root)]) == 0
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in live + foreign)
    assert Gallery.open(root).names() == ["cross", "ell"]
    capsys.readouterr()


def test_an_import_clears_stale_staging_folders_of_its_destination(tmp_path):
    folder = tmp_path / "flat"
    folder.mkdir()
    (folder / "alpha.png").write_bytes(encoded("PNG"))
    crashed = tmp_path / ".shapes.deadbeef.tmp"
    (crashed / "images").mkdir(parents=True)
    for q in (crashed / "images", crashed):
        age(q, 2 * STALE_AFTER_S)
    import_gallery(folder, tmp_path / "shapes")
    assert not crashed.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_loading_omniglot_removes_stale_cache_temporaries_only(synthetic_omniglot, private_user_folders):
    cache = private_user_folders["cache"] / "omniglot"
    cache.mkdir(parents=True, exist_ok=True)
    stale = [cache / ".background-0123456789abcdef.npz.abcdefgh.tmp", cache / ".evaluation-feed.npz.a_b_c_d_.tmp"]
    kept = [cache / ".background-live.npz.livelive.tmp", cache / ".notes.txt.abcdefgh.tmp", cache / "mine.tmp"]
    for p in stale + kept:
        p.write_bytes(b"\0" * 1000)
        age(p, 0 if p == kept[0] else 2 * STALE_AFTER_S)
    load_set(synthetic_omniglot.zip("background"), "background")
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)


def test_resuming_a_run_removes_its_stale_checkpoint_temporaries(tmp_path, capsys):
    run = tmp_path / "run"
    save_checkpoint(run / "checkpoint.pt", {"step": 3})  # lacks the model: resuming then fails, after cleaning
    stale = [run / ".checkpoint.pt.abcdefgh.tmp", run / ".last.safetensors.12345678.tmp",
             run / ".best.json.a1b2c3d4.tmp"]
    kept = [run / ".best.safetensors.livelive.tmp", run / ".data.bin.abcdefgh.tmp", run / "notes.tmp"]
    for p in stale + kept:
        p.write_bytes(b"\0" * 1000)
        age(p, 0 if p == kept[0] else 2 * STALE_AFTER_S)
    with pytest.raises(CheckpointError, match="lacks"):
        load_checkpoint(run)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)

    (run / ".checkpoint.pt.zzzzzzzz.tmp").write_bytes(b"\0")
    age(run / ".checkpoint.pt.zzzzzzzz.tmp", 2 * STALE_AFTER_S)
    assert main(["train", "--resume", "--out", str(run), "--device", "cpu"]) == 1
    assert not (run / ".checkpoint.pt.zzzzzzzz.tmp").exists()
    assert "checkpoint.pt" in capsys.readouterr().err
