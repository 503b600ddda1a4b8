"""`python -m engine transcribe`: the text, the JSON schema, right to left, galleries as `rank` takes them, bad
input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.cli import COMMANDS, main, transcribe as transcribe_command
from engine.gallery import Gallery
from engine.transcribe.compose import compose_page
from synthetic import page_shapes, shapes_line, write_png

SHAPES = page_shapes()
LINES = [["ring", "cross", "wedge", "zed"], ["ell", "tee", "dotted", "equals"]]


@pytest.fixture
def gallery_dir(tmp_path) -> Path:
    gallery = Gallery.create(tmp_path / "shapes", "Shapes")
    for name, ink in SHAPES.items():
        gallery.add_character(name, [ink.astype(np.float32)])
    return gallery.path


def page_file(path: Path, lines=LINES, rtl: bool = False, seed: int = 0) -> Path:
    composed = compose_page([[(n, SHAPES[n]) for n in line] for line in lines], np.random.default_rng(seed), rtl=rtl)
    Image.fromarray(composed.luminance()).save(path)
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(["transcribe", "--device", "cpu", "--quiet", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_transcribe_is_a_listed_command():
    assert transcribe_command in COMMANDS


def test_the_text_one_line_per_text_line(capsys, gallery_dir, tmp_path):
    code, out, _ = run(capsys, "--gallery", gallery_dir, page_file(tmp_path / "page.png"))
    assert code == 0
    assert out.splitlines() == ["".join(f"[{n}]" for n in line) for line in LINES]


def test_touching_glyphs_are_cut_on_request_and_marked_as_a_best_effort(capsys, gallery_dir, tmp_path):
    page = tmp_path / "touching.png"
    Image.fromarray(shapes_line(["ring", "cross", "wedge", "zed", "tee"], touching={4})).save(page)
    code, out, err = run(capsys, "--gallery", gallery_dir, "--json", page)
    glyphs = json.loads(out)["lines"][0]["glyphs"]
    assert code == 0 and len(glyphs) == 4 and glyphs[3]["best_effort"] == "wide" and "touching" in err
    code, out, err = run(capsys, "--gallery", gallery_dir, "--json", "--split-touching", page)
    glyphs = json.loads(out)["lines"][0]["glyphs"]
    assert code == 0 and [g["name"] for g in glyphs] == ["ring", "cross", "wedge", "zed", "tee"]
    assert [g.get("best_effort") for g in glyphs] == [None, None, None, "split", "split"] and "cut from" in err


def test_json_one_object_per_image_in_the_schema(capsys, gallery_dir, tmp_path):
    a = page_file(tmp_path / "a.png")
    b = page_file(tmp_path / "b.png", lines=[["ring", "ring"]])
    code, out, _ = run(capsys, "--gallery", gallery_dir, "--json", "--top", "3", a, b)
    assert code == 0
    first, second = (json.loads(line) for line in out.splitlines())
    assert set(first) == {"image", "lines", "text"} and first["image"] == str(a)
    assert [[g["name"] for g in line["glyphs"]] for line in first["lines"]] == LINES
    assert first["text"] == "\n".join("".join(f"[{n}]" for n in line) for line in LINES)
    glyph = first["lines"][0]["glyphs"][0]
    assert set(glyph) == {"box", "name", "char", "score", "confident", "alternatives"}
    assert len(glyph["box"]) == 4 and all(isinstance(v, int) for v in glyph["box"])
    assert glyph["confident"] is True and isinstance(glyph["score"], float)
    assert [set(a) for a in glyph["alternatives"]] == [{"name", "score"}] * 3
    assert second["text"] == "[ring][ring]"


def test_right_to_left(capsys, gallery_dir, tmp_path):
    page = page_file(tmp_path / "rtl.png", rtl=True)
    code, out, _ = run(capsys, "--gallery", gallery_dir, "--rtl", page)
    assert code == 0 and out.splitlines() == ["".join(f"[{n}]" for n in line) for line in LINES]


def test_a_folder_of_images_named_by_their_character_is_a_gallery(capsys, tmp_path):
    folder = tmp_path / "images"
    for name, ink in SHAPES.items():
        write_png(folder / f"{name}.png", ink)
    code, out, _ = run(capsys, "--gallery", folder, page_file(tmp_path / "page.png"))
    assert code == 0 and out.splitlines()[0] == "[ring][cross][wedge][zed]"
    assert not (folder / "index.json").exists()  # imported on the fly, nothing written


def test_a_bad_image_is_reported_and_the_others_still_run(capsys, gallery_dir, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    good = page_file(tmp_path / "good.png")
    code, out, _ = run(capsys, "--gallery", gallery_dir, "--json", bad, good)
    assert code == 1
    err_line, ok_line = (json.loads(line) for line in out.splitlines())
    assert err_line["image"] == str(bad) and "not an image" in err_line["error"] and err_line["lines"] == []
    assert ok_line["text"].startswith("[ring]")


def test_a_blank_page_prints_nothing_and_says_why(capsys, gallery_dir, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("L", (400, 300), 255).save(blank)
    code, out, err = run(capsys, "--gallery", gallery_dir, blank)
    assert code == 0 and out == "" and "blank" in err


def test_an_empty_gallery_fails_with_a_clear_message(capsys, tmp_path):
    empty = Gallery.create(tmp_path / "empty", "Empty")
    code, out, err = run(capsys, "--gallery", empty.path, "--json", page_file(tmp_path / "page.png"))
    assert code == 1 and "gallery has no characters" in err
    assert all(g["name"] is None for line in json.loads(out)["lines"] for g in line["glyphs"])


def test_a_missing_gallery_fails_with_a_clear_message(capsys, tmp_path):
    code, out, err = run(capsys, "--gallery", tmp_path / "nowhere", page_file(tmp_path / "page.png"))
    assert code == 1 and out == "" and "cannot use the gallery" in err
