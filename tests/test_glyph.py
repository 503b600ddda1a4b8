"""Tests for engine.glyph: the Glyph type, the stroke renderer and images -> glyphs."""

from __future__ import annotations

import io
import itertools
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image, ImageDraw

from engine import glyph as G
from engine.glyph import GLYPH_SIZE, Glyph, GlyphError, glyph_from_image, glyph_from_omniglot_png, render_strokes
from engine.glyph.thinning import stroke_width
from engine.strokes import Stroke, iter_omniglot_stroke_pairs

SHAPE = (GLYPH_SIZE, GLYPH_SIZE)


# --------------------------------------------------------------------------------------------------- helpers


def omniglot_file(name: str) -> Path:
    """Return the official zip `name` in $OMNIGLOT_DIR, or skip the test."""
    folder = os.environ.get("OMNIGLOT_DIR")
    if not folder:
        pytest.skip("OMNIGLOT_DIR is not set (a folder holding Omniglot's official zips)")
    path = Path(folder) / name
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a >= 0.5, b >= 0.5
    return float((a & b).sum() / max((a | b).sum(), 1))


def bbox(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """Return the ink's (x0, y0, x1, y1), pixel-edge coordinates."""
    ys, xs = np.nonzero(pixels >= 0.5)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def assert_valid(g: Glyph) -> None:
    assert isinstance(g, Glyph)
    assert g.pixels.shape == SHAPE and g.pixels.dtype == np.float32
    assert np.all(np.isfinite(g.pixels)) and g.pixels.min() >= 0.0 and g.pixels.max() <= 1.0
    assert isinstance(g.no_ink, bool)


def drawing(size: int = 400, width: int = 3, ink: int = 0, paper: int = 255, mode: str = "L") -> Image.Image:
    """Return a test character (a cross with a hook), drawn with lines `width` px wide on a size x size page."""
    im = Image.new(mode, (size, size), paper if mode == "L" else (paper,) * 3)
    d = ImageDraw.Draw(im)
    fill = ink if mode == "L" else (ink,) * 3
    s = size / 100
    d.line([(25 * s, 30 * s), (75 * s, 30 * s)], fill=fill, width=width)
    d.line([(50 * s, 20 * s), (50 * s, 80 * s), (35 * s, 70 * s)], fill=fill, width=width, joint="curve")
    return im


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------ Glyph type


def test_glyph_validates_and_is_read_only():
    px = np.zeros(SHAPE, np.float64)
    px[10:20, 10:20] = 1
    g = Glyph(px, no_ink=False)
    assert g.pixels.dtype == np.float32
    assert g.ink_pixels == 100
    assert g.ink_fraction == pytest.approx(100 / GLYPH_SIZE**2)
    px[0, 0] = 1  # the caller's array is not shared
    assert g.pixels[0, 0] == 0
    with pytest.raises(ValueError):
        g.pixels[0, 0] = 1.0
    for bad in (np.zeros((104, 105)), np.full(SHAPE, 1.5), np.full(SHAPE, np.nan)):
        with pytest.raises(ValueError):
            Glyph(bad, no_ink=False)
    # In Omniglot's colours: ink black on white.
    im = g.to_image()
    assert im.size == SHAPE and im.getpixel((15, 15)) == 0 and im.getpixel((50, 50)) == 255


# ----------------------------------------------------------------------------------------------- rendering


def test_nothing_drawn_is_no_ink():
    for g in (render_strokes([]), render_strokes([], area=500)):
        assert_valid(g)
        assert g.no_ink and g.pixels.max() == 0


def test_a_dot_shows_a_round_pen_sized_mark_where_it_was_put():
    g = render_strokes([Stroke(np.array([[30.0, 70.0]]))])
    assert not g.no_ink
    # A disc of the calibrated radius: about pi * r^2 pixels, centred on the point (plus the calibrated offset).
    assert abs(g.ink_pixels - np.pi * G.PEN_RADIUS**2) < 6
    ys, xs = np.nonzero(g.pixels)
    assert abs(xs.mean() + 0.5 - (30 + G.STROKE_OFFSET[0])) < 0.6
    assert abs(ys.mean() + 0.5 - (70 + G.STROKE_OFFSET[1])) < 0.6


def test_a_line_has_omniglots_stroke_width_and_binary_pixels():
    g = render_strokes([Stroke(np.array([[20.0, 50.0], [80.0, 50.0]]))])
    assert set(np.unique(g.pixels)) == {0.0, 1.0}
    column = g.pixels[:, 50]
    assert column.sum() == 5  # 2 * 2.475 px across
    x0, _, x1, _ = bbox(g.pixels)
    assert 64 <= x1 - x0 <= 66  # 60 units long plus the round caps


def test_the_drawing_area_is_scaled_to_the_glyph():
    pts = np.array([[10.0, 15.0], [60.0, 90.0], [95.0, 20.0]])
    small = render_strokes([Stroke(pts)], area=105)
    big = render_strokes([Stroke(pts * 4)], area=420)
    np.testing.assert_array_equal(small.pixels, big.pixels)


def test_ink_outside_the_area_is_cut_off_and_far_away_points_are_cheap():
    g = render_strokes([Stroke(np.array([[200.0, 200.0], [300.0, 250.0]]))], area=105)
    assert g.no_ink
    # A stroke dragged far off the canvas renders its visible part only, quickly.
    g = render_strokes([Stroke(np.array([[50.0, 50.0], [1e9, 50.0]]))], area=105)
    assert not g.no_ink and g.pixels[50, 104] == 1 and g.pixels[50, 30] == 0


def test_antialias_gives_soft_edges_around_the_same_ink():
    strokes = [Stroke(np.array([[20.0, 30.0], [80.0, 70.0]]))]
    hard, soft = render_strokes(strokes), render_strokes(strokes, antialias=True)
    assert np.any((soft.pixels > 0) & (soft.pixels < 1))
    assert iou(hard.pixels, soft.pixels) > 0.9


def test_frame_brings_a_tiny_corner_drawing_into_omniglots_framing():
    tiny = [Stroke(np.array([[5.0, 5.0], [15.0, 5.0], [15.0, 12.0]]))]
    assert bbox(render_strokes(tiny).pixels)[0] < 10  # as drawn: in the corner
    x0, y0, x1, y1 = bbox(render_strokes(tiny, frame=True).pixels)
    lo, hi = G.FRAME_EXTENT_RANGE
    assert lo - 1.5 <= max(x1 - x0, y1 - y0) <= hi + 1.5
    assert G.FRAME_CENTER_X_RANGE[0] - 1 <= (x0 + x1) / 2 <= G.FRAME_CENTER_X_RANGE[1] + 1
    assert G.FRAME_CENTER_Y_RANGE[0] - 1 <= (y0 + y1) / 2 <= G.FRAME_CENTER_Y_RANGE[1] + 1
    # A drawing already framed like Omniglot's is left alone.
    typical = [Stroke(np.array([[25.0, 30.0], [80.0, 35.0], [50.0, 85.0]]))]
    np.testing.assert_array_equal(render_strokes(typical).pixels, render_strokes(typical, frame=True).pixels)


def test_bad_area_is_refused():
    for area in (0, -5, float("nan")):
        with pytest.raises(ValueError):
            render_strokes([Stroke(np.zeros((1, 2)))], area=area)


finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(st.lists(hnp.arrays(np.float64, st.tuples(st.integers(1, 30), st.just(2)), elements=finite), max_size=5),
       st.floats(1.0, 5000.0), st.booleans(), st.booleans())
def test_render_strokes_always_returns_a_valid_glyph(points, area, frame, antialias):
    g = render_strokes([Stroke(p) for p in points], area=area, frame=frame, antialias=antialias)
    assert_valid(g)
    assert g.no_ink == (g.ink_pixels < G.MIN_INK_PIXELS)
    if not antialias:
        assert set(np.unique(g.pixels)) <= {0.0, 1.0}


@pytest.mark.realdata
def test_rendered_strokes_match_omniglots_own_images():
    folder = omniglot_file("strokes_background_subset.zip").parent
    every_14th = itertools.islice(iter_omniglot_stroke_pairs(folder), 0, None, 14)  # ~150 of the 2,120
    scores = [iou(render_strokes(strokes).pixels, glyph_from_omniglot_png(png).pixels)
              for _name, strokes, png in every_14th]
    assert len(scores) > 140
    # Measured over all 2,120 drawings: mean 0.925, median 0.935 (benchmarks/stroke_renderer_fit.py).
    assert np.mean(scores) > 0.90
    assert np.median(scores) > 0.91


# ---------------------------------------------------------------------------------------- images -> glyphs


def test_an_omniglot_like_image_comes_out_unchanged():
    strokes = [Stroke(np.array([[30.0, 30.0], [75.0, 32.0], [52.0, 80.0]])), Stroke(np.array([[40.0, 60.0]]))]
    rendered = render_strokes(strokes)
    png = encode(rendered.to_image().convert("1"), "PNG")  # a 1-bit 105x105 PNG, like Omniglot's
    np.testing.assert_array_equal(glyph_from_image(png).pixels, rendered.pixels)
    np.testing.assert_array_equal(glyph_from_omniglot_png(png).pixels, rendered.pixels)


@pytest.mark.realdata
def test_real_omniglot_images_come_out_nearly_unchanged():
    images_zip = omniglot_file("images_evaluation.zip")
    rng = np.random.default_rng(3)
    same, scores, shifts = 0, [], []
    with zipfile.ZipFile(images_zip) as zi:
        names = sorted(n for n in zi.namelist() if n.endswith(".png"))
        for i in rng.choice(len(names), 200, replace=False):
            data = zi.read(names[i])
            before, after = glyph_from_omniglot_png(data).pixels, glyph_from_image(data).pixels
            same += bool(np.array_equal(before, after))
            scores.append(iou(before, after))
            b0, b1 = np.array(bbox(before)), np.array(bbox(after))
            shifts.append(np.abs((b0[:2] + b0[2:]) / 2 - (b1[:2] + b1[2:]) / 2).max())
    # Inside Omniglot's 2.5-97.5th percentile framing nothing moves (measured: 86% of images, mean IoU 0.94);
    # the rest move or rescale a little.
    assert same / len(scores) > 0.75
    assert np.mean(scores) > 0.88
    assert np.percentile(shifts, 95) <= 6


def test_every_format_and_source_kind_gives_the_same_glyph(tmp_path):
    im = drawing(size=300, width=12)
    reference = glyph_from_image(im)
    assert not reference.no_ink
    path = tmp_path / "char.png"
    im.save(path)
    sources = {
        "path": path, "str path": str(path), "png": encode(im, "PNG"), "bmp": encode(im, "BMP"),
        "gif": encode(im, "GIF"), "webp lossless": encode(im, "WEBP", lossless=True),
        "numpy": np.asarray(im), "rgb numpy": np.asarray(im.convert("RGB")), "bool numpy": np.asarray(im) > 128,
        "float numpy": np.asarray(im) / 255.0, "bytearray": bytearray(encode(im, "PNG")),
    }
    for label, source in sources.items():
        np.testing.assert_array_equal(glyph_from_image(source).pixels, reference.pixels, err_msg=label)
    for label, data in {"jpeg": encode(im.convert("RGB"), "JPEG", quality=75),
                        "webp lossy": encode(im, "WEBP", quality=60)}.items():
        assert iou(glyph_from_image(data).pixels, reference.pixels) > 0.85, label


def test_sixteen_bit_and_colour_images():
    im = drawing(size=200, width=8)
    reference = glyph_from_image(im)
    a16 = (np.asarray(im).astype(np.uint16) * 257)
    png16 = encode(Image.fromarray(a16), "PNG")
    assert Image.open(io.BytesIO(png16)).mode.startswith("I")  # really 16-bit
    np.testing.assert_array_equal(glyph_from_image(png16).pixels, reference.pixels)
    np.testing.assert_array_equal(glyph_from_image(a16).pixels, reference.pixels)
    # 12-bit sensor data and 8-bit values in 16-bit containers are not mistaken for a dark blank page.
    np.testing.assert_array_equal(glyph_from_image(a16 // 16).pixels, reference.pixels)
    np.testing.assert_array_equal(glyph_from_image(Image.fromarray(a16 // 257)).pixels, reference.pixels)
    # Blue ink on yellowish paper.
    rgb = np.where(np.asarray(im)[..., None] < 128, [20, 30, 160], [250, 240, 200]).astype(np.uint8)
    np.testing.assert_array_equal(glyph_from_image(rgb).pixels, reference.pixels)


def test_photos_stored_sideways_are_turned_upright_by_their_exif_note():
    upright = drawing(size=200, width=8)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    sideways = encode(upright.transpose(Image.Transpose.ROTATE_90), "PNG", exif=exif)
    np.testing.assert_array_equal(glyph_from_image(sideways).pixels, glyph_from_image(upright).pixels)


def test_light_ink_on_dark_background_is_inverted():
    dark_on_light = glyph_from_image(drawing(width=10))
    light_on_dark = glyph_from_image(drawing(width=10, ink=240, paper=20))
    np.testing.assert_array_equal(light_on_dark.pixels, dark_on_light.pixels)
    assert not light_on_dark.no_ink and light_on_dark.ink_fraction < 0.3


def test_transparent_backgrounds_are_composited_either_way():
    reference = glyph_from_image(drawing(width=10))
    ink = np.asarray(drawing(width=10)) < 128
    for colour in (0, 255):  # black ink or white ink, on a fully transparent (black) background
        rgba = np.zeros(ink.shape + (4,), np.uint8)
        rgba[ink, :3] = colour
        rgba[..., 3] = np.where(ink, 255, 0)
        png = encode(Image.fromarray(rgba, "RGBA"), "PNG")
        np.testing.assert_array_equal(glyph_from_image(png).pixels, reference.pixels, err_msg=str(colour))
    la = np.stack([np.zeros(ink.shape, np.uint8), np.where(ink, 255, 0).astype(np.uint8)], axis=-1)
    np.testing.assert_array_equal(glyph_from_image(la).pixels, reference.pixels)


def test_thin_strokes_of_a_large_image_survive_and_get_omniglots_width():
    g = glyph_from_image(drawing(size=3000, width=2))
    assert not g.no_ink
    x0, y0, x1, y1 = bbox(g.pixels)
    # The horizontal bar is continuous across its whole length, not dotted or gone.
    bar_row = np.argmax(g.pixels[:, x0:x1].sum(axis=1))
    assert g.pixels[bar_row, x0 + 3:x1 - 3].min() == 1
    assert G.WIDTH_RANGE[0] <= stroke_width(g.pixels >= 0.5) <= G.WIDTH_RANGE[1]


def test_thick_marker_strokes_are_slimmed_to_omniglots_width():
    g = glyph_from_image(drawing(size=300, width=40))
    assert not g.no_ink
    assert G.WIDTH_RANGE[0] <= stroke_width(g.pixels >= 0.5) <= G.WIDTH_RANGE[1]
    # Still the same character: both the bar and the stem are there.
    assert g.pixels.sum(axis=1).max() > 35 and g.pixels.sum(axis=0).max() > 35


def test_a_tiny_image_is_scaled_up_with_strokes_of_the_right_width():
    im = Image.new("L", (16, 16), 255)
    ImageDraw.Draw(im).line([(2, 2), (13, 13)], fill=0, width=1)
    g = glyph_from_image(im)
    assert not g.no_ink
    x0, y0, x1, y1 = bbox(g.pixels)
    assert max(x1 - x0, y1 - y0) >= G.FRAME_EXTENT_RANGE[0] - 1
    assert G.WIDTH_RANGE[0] <= stroke_width(g.pixels >= 0.5) <= G.WIDTH_RANGE[1]


def test_a_small_character_in_a_corner_is_framed_like_omniglot():
    page = Image.new("L", (1000, 600), 255)
    page.paste(drawing(size=120, width=4), (20, 460))
    x0, y0, x1, y1 = bbox(glyph_from_image(page).pixels)
    assert G.FRAME_EXTENT_RANGE[0] - 2 <= max(x1 - x0, y1 - y0) <= G.FRAME_EXTENT_RANGE[1] + 2
    assert G.FRAME_CENTER_X_RANGE[0] - 1 <= (x0 + x1) / 2 <= G.FRAME_CENTER_X_RANGE[1] + 1
    assert G.FRAME_CENTER_Y_RANGE[0] - 1 <= (y0 + y1) / 2 <= G.FRAME_CENTER_Y_RANGE[1] + 1


def test_a_tightly_cropped_large_character_is_shrunk_into_the_frame():
    im = drawing(size=100, width=3).crop((20, 15, 80, 85))  # ink touching the borders
    x0, y0, x1, y1 = bbox(glyph_from_image(im).pixels)
    assert max(x1 - x0, y1 - y0) <= G.FRAME_EXTENT_RANGE[1] + 2
    assert x0 > 0 and y0 > 0 and x1 < GLYPH_SIZE and y1 < GLYPH_SIZE


def test_blank_pages_and_specks_have_no_ink():
    blank_jpeg = encode(Image.new("RGB", (640, 480), (235, 235, 225)), "JPEG", quality=70)
    speck = np.full((105, 105), 255, np.uint8)
    speck[40:43, 60:62] = 0
    big_speck = np.full((2000, 2000), 255, np.uint8)
    big_speck[900:930, 900:930] = 0  # 30 px in a 2000-px image: under 2 px at 105
    faint = np.full((100, 100), 128, np.uint8)
    faint[30:70, 48:52] = 138  # 4% contrast: paper texture, not ink
    for label, source in {"white": np.ones((50, 50)), "black": np.zeros((50, 50), np.uint8),
                          "jpeg": blank_jpeg, "speck": speck, "big speck": big_speck, "faint": faint,
                          "transparent": np.zeros((30, 30, 4), np.uint8), "1x1": np.zeros((1, 1))}.items():
        g = glyph_from_image(source)
        assert_valid(g)
        assert g.no_ink, label
    # A short but real mark is ink.
    mark = np.full((105, 105), 255, np.uint8)
    mark[50:55, 40:60] = 0
    assert not glyph_from_image(mark).no_ink


def test_unreadable_sources_raise_glyph_error_naming_them(tmp_path):
    png = encode(drawing(), "PNG")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(png[: len(png) // 2])
    not_image = tmp_path / "notes.txt"
    not_image.write_text("hello")
    for source, name in ((corrupt, "corrupt.png"), (not_image, "notes.txt"), (tmp_path / "missing.png", "missing.png"),
                         (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "bytes")):
        with pytest.raises(GlyphError, match=name) as info:
            glyph_from_image(source)
        assert isinstance(info.value, ValueError)
    for bad in (np.zeros((10, 10, 5)), np.zeros((0, 10)), np.zeros((2, 3, 4, 5)), np.full((9, 9), np.nan),
                np.zeros((9, 9), complex), 42, None):
        with pytest.raises(GlyphError):
            glyph_from_image(bad)
    with pytest.raises(GlyphError, match="105x105"):
        glyph_from_omniglot_png(np.zeros((50, 50), np.uint8))


dtypes = st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.bool_])


@st.composite
def random_images(draw):
    h, w = draw(st.integers(1, 80)), draw(st.integers(1, 80))
    channels = draw(st.sampled_from([None, 1, 2, 3, 4]))
    shape = (h, w) if channels is None else (h, w, channels)
    dtype = np.dtype(draw(dtypes))
    kind = draw(st.sampled_from(["noise", "strokes", "constant"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "noise":
        unit = rng.random(shape)
    elif kind == "constant":
        unit = np.full(shape, rng.random())
    else:  # a few random lines on a random background: the realistic case
        unit = np.full(shape, rng.random())
        for _ in range(rng.integers(1, 4)):
            r, c = rng.integers(0, h), rng.integers(0, w)
            unit[r, :] = rng.random()
            unit[:, c] = rng.random()
    if dtype == np.bool_:
        return unit > 0.5
    if dtype.kind == "u":
        return np.round(unit * np.iinfo(dtype).max).astype(dtype)
    scale = draw(st.sampled_from([1.0, 255.0, -3.0]))  # 0..1 floats, 0..255 floats, and anything else
    return (unit * scale).astype(dtype)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_images())
def test_any_array_gives_a_valid_binary_glyph(arr):
    g = glyph_from_image(arr)
    assert_valid(g)
    assert set(np.unique(g.pixels)) <= {0.0, 1.0}
    if not g.no_ink:
        assert g.ink_pixels >= G.MIN_INK_PIXELS


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_images(), st.sampled_from(["PNG", "JPEG", "BMP", "GIF", "WEBP"]))
def test_any_encoded_image_gives_a_valid_glyph(arr, fmt):
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype != np.uint8:
        lo, hi = float(arr.min()), float(arr.max())
        arr = np.round((arr.astype(np.float64) - lo) / max(hi - lo, 1e-9) * 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if fmt in ("JPEG", "BMP", "GIF") and arr.ndim == 3 and arr.shape[2] in (2, 4):
        arr = arr[:, :, :1].repeat(3, axis=2) if arr.shape[2] == 2 else arr[:, :, :3]
    if arr.ndim == 3 and arr.shape[2] == 2:
        im = Image.fromarray(arr, "LA")
    else:
        im = Image.fromarray(arr)
    try:
        data = encode(im, fmt)
    except (OSError, ValueError, KeyError):
        return  # PIL cannot write this combination; nothing to read back
    assert_valid(glyph_from_image(data))
