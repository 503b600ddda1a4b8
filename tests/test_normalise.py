"""One normalisation for every image: line width, image size and antialiasing do not change what is recognised."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from engine.cli import main
from engine.gallery import read_glyph
from engine.glyph import GLYPH_SIZE, glyph_from_image, glyph_from_omniglot_png
from engine.glyph.normalise import looks_like_omniglot
from engine.glyph.thinning import stroke_width, thin
from glyph_shapes import DRAWN_SHAPES, drawn_shape


def test_every_shape_at_every_line_width_and_size_ranks_its_own_shape_first(tmp_path, capsys):
    refs = tmp_path / "refs"
    refs.mkdir()
    for kind in DRAWN_SHAPES:
        drawn_shape(kind, GLYPH_SIZE, 5, antialias=False).save(refs / f"{kind}.png")
    queries = []
    for size in (GLYPH_SIZE, 320):
        for antialias in (False, True):
            for width in range(1, 13):
                for kind in DRAWN_SHAPES:
                    path = tmp_path / f"{kind}_{size}_{width}_{'aa' if antialias else 'bw'}.png"
                    drawn_shape(kind, size, width, antialias).save(path)
                    queries.append((kind, path))
    assert main(["rank", "--gallery", str(refs), *(str(p) for _, p in queries), "--json", "--quiet",
                 "--device", "cpu"]) == 0  # the shipped model, as `engine rank` runs it
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    wrong = [(p.name, line["results"][0]["name"]) for (kind, p), line in zip(queries, lines)
             if line["results"][0]["name"] != kind]
    assert len(lines) == len(queries) == 240
    assert wrong == []


def test_a_thin_line_drawing_of_omniglots_size_is_redrawn_not_taken_as_it_is():
    thin_triangle = drawn_shape("triangle", GLYPH_SIZE, 2, antialias=False)
    glyph = glyph_from_image(thin_triangle)
    assert not looks_like_omniglot(np.asarray(thin_triangle, np.float32) / 255)
    ink = glyph.pixels >= 0.5
    assert 4.0 <= stroke_width(ink) <= 6.0  # Omniglot's pen, not the 2-px line


def test_an_omniglot_drawing_is_recognised_from_what_it_is_and_kept_pixel_for_pixel(tmp_path):
    drawing = drawn_shape("circle", GLYPH_SIZE, 5, antialias=False)
    lum = np.asarray(drawing, np.float32) / 255
    assert looks_like_omniglot(lum)
    path = tmp_path / "circle.png"
    drawing.save(path)
    np.testing.assert_array_equal(read_glyph(path).pixels, glyph_from_omniglot_png(drawing).pixels)
    small = Image.new("L", (GLYPH_SIZE, GLYPH_SIZE), 255)
    small.paste(drawing.resize((30, 30), Image.Resampling.NEAREST), (10, 10))
    assert not looks_like_omniglot(np.asarray(small, np.float32) / 255)  # one small mark in its box: framed


def test_thinning_keeps_lines_of_every_direction():
    yy, xx = np.mgrid[0:80, 0:80]
    for width in (2, 3, 4):
        drawn = np.asarray(drawn_shape("cross", 80, width, antialias=True)) < 128
        skeleton = thin(drawn)
        # Both strokes of the cross keep their centre lines, end to end (Zhang-Suen alone erased one of them).
        for line in (np.abs(yy - xx) <= 2, np.abs(yy + xx - 79) <= 2):
            assert np.count_nonzero(skeleton & line & (np.abs(yy - 40) > 5)) >= 25, width
