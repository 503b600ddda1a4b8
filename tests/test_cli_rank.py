"""The command line: `rank --json` output, per-image errors, stroke-file queries, and `gallery` subcommands.

Weights: a small untrained SiameseNet saved to tmp_path with all-negative alpha, so a query identical to a
reference always ranks that reference's character first (distance 0 gives the highest possible score).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.cli import main
from engine.gallery import Gallery
from engine.glyph import render_strokes
from engine.strokes import parse_omniglot_strokes

S = 105
# An Omniglot stroke file (y grows upwards in these files): an "L" drawn in two strokes.
STROKES = "START\n30,-20,0\n30,-60,10\n30,-85,20\nBREAK\n30,-85,30\n60,-85,40\n80,-85,50\nBREAK\n"


def bar(row: int) -> np.ndarray:
    g = np.zeros((S, S), np.float32)
    g[row:row + 6, 20:85] = 1
    return g


def pole(col: int) -> np.ndarray:
    return bar(col).T.copy()


def png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(((1 - pixels) * 255).astype(np.uint8), "L").convert("1").save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def weights(exact_match_weights) -> Path:
    return exact_match_weights


@pytest.fixture
def gallery(tmp_path) -> Gallery:
    g = Gallery.create(tmp_path / "gallery", "Lines")
    g.add_character("top", [bar(20)])
    g.add_character("middle", [bar(50)])
    g.add_character("left", [pole(25)])
    g.add_character("ell", [render_strokes(parse_omniglot_strokes(STROKES)).pixels])
    return g


def rank_json(capsys, gallery: str | Path, weights: Path, *images) -> tuple[int, list[dict]]:
    code = main(["rank", "--gallery", str(gallery), "--weights", str(weights), "--device", "cpu", "--quiet",
                 "--top", "3", "--json", *map(str, images)])
    lines = capsys.readouterr().out.splitlines()
    return code, [json.loads(line) for line in lines]


def test_rank_json_gives_one_line_per_image_and_reports_errors_per_image(tmp_path, capsys, gallery, weights):
    (tmp_path / "q1.png").write_bytes(png(bar(50)))
    (tmp_path / "q2.png").write_bytes(png(pole(25)))
    (tmp_path / "blank.png").write_bytes(png(np.zeros((S, S))))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    images = ["q1.png", "broken.png", "blank.png", "missing.png", "q2.png"]
    code, lines = rank_json(capsys, gallery.path, weights, *[tmp_path / n for n in images])

    assert code == 1  # some images failed
    assert [Path(line["image"]).name for line in lines] == images
    q1, broken, blank, missing, q2 = lines
    assert q1["no_ink"] is False and [r["name"] for r in q1["results"]][0] == "middle"
    assert q2["results"][0]["name"] == "left"
    for line in (q1, q2):
        scores = [r["score"] for r in line["results"]]
        assert len(scores) == 3 and scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
        assert set(line["results"][0]) >= {"name", "score"}
    assert blank["no_ink"] is True and blank["results"] == []
    assert "broken.png" in broken["error"] and "missing.png" in missing["error"]


def test_rank_draws_stroke_files_like_the_canvas(tmp_path, capsys, gallery, weights):
    (tmp_path / "drawing.txt").write_text(STROKES)
    code, (line,) = rank_json(capsys, gallery.path, weights, tmp_path / "drawing.txt")
    assert code == 0 and line["results"][0]["name"] == "ell"


def test_rank_imports_a_folder_on_the_fly_without_writing(tmp_path, capsys, weights):
    src = tmp_path / "classes"
    for name, px in {"top": bar(20), "left": pole(25)}.items():
        (src / name).mkdir(parents=True)
        (src / name / "1.png").write_bytes(png(px))
    (tmp_path / "q.png").write_bytes(png(pole(25)))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code, (line,) = rank_json(capsys, src, weights, tmp_path / "q.png")
    assert code == 0 and line["results"][0]["name"] == "left"
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_missing_gallery_is_said_once_naming_the_gallery_not_the_image(tmp_path, capsys, weights):
    (tmp_path / "q.png").write_bytes(png(bar(20)))
    code = main(["rank", "--gallery", str(tmp_path / "nowhere"), "--weights", str(weights), "--device", "cpu",
                 "--quiet", str(tmp_path / "q.png"), str(tmp_path / "q.png")])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot use the gallery {tmp_path / 'nowhere'}")
    assert "q.png" not in captured.err


def test_missing_gallery_is_reported_for_every_image_in_json(tmp_path, capsys, weights):
    (tmp_path / "q.png").write_bytes(png(bar(20)))
    code, lines = rank_json(capsys, tmp_path / "nowhere", weights, tmp_path / "q.png", tmp_path / "q.png")
    assert code == 1 and len(lines) == 2
    assert all("nowhere" in line["error"] and line["results"] == [] for line in lines)


def test_gallery_import_list_and_export(tmp_path, capsys, gallery):
    src = tmp_path / "flat"
    src.mkdir()
    (src / "dash.png").write_bytes(png(bar(40)))
    (src / "stick.png").write_bytes(png(pole(60)))
    assert main(["gallery", "import", str(src), str(tmp_path / "new"), "--quiet"]) == 0
    assert main(["gallery", "list", str(tmp_path / "new"), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert listing["name"] == "flat" and [c["name"] for c in listing["characters"]] == ["dash", "stick"]
    assert main(["gallery", "export", str(gallery.path), str(tmp_path / "lines.zip")]) == 0
    assert Gallery.open(tmp_path / "new").names() == ["dash", "stick"]
    assert main(["gallery", "import", str(tmp_path / "lines.zip"), str(tmp_path / "back"), "--quiet"]) == 0
    assert Gallery.open(tmp_path / "back").names() == ["top", "middle", "left", "ell"]
