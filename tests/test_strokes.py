"""Tests for engine.strokes: the Stroke type and Omniglot's stroke files."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.strokes import Stroke, StrokeFileError, load_omniglot_strokes, parse_omniglot_strokes

SAMPLE = """START
10.5,-20.25,0
12.0,-21.0,16
14.0,-23.5,33
BREAK
50,-60,500
BREAK
"""


def omniglot_dir() -> Path:
    """Return $OMNIGLOT_DIR if it holds the stroke subset, else skip the test."""
    folder = os.environ.get("OMNIGLOT_DIR")
    if not folder:
        pytest.skip("OMNIGLOT_DIR is not set (a folder holding Omniglot's official zips)")
    path = Path(folder) / "strokes_background_subset.zip"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return Path(folder)


def test_parse_flips_y_and_keeps_times_and_dots():
    strokes = parse_omniglot_strokes(SAMPLE)
    assert len(strokes) == 2
    np.testing.assert_allclose(strokes[0].points, [[10.5, 20.25], [12.0, 21.0], [14.0, 23.5]])
    np.testing.assert_allclose(strokes[0].t, [0, 16, 33])
    assert strokes[0].pressure is None
    # A one-sample stroke is a dot, not dropped.
    np.testing.assert_allclose(strokes[1].points, [[50.0, 60.0]])
    assert len(strokes[1]) == 1


def test_parse_tolerates_windows_line_ends_blank_lines_and_spaces():
    text = "\r\n".join(["START", " 1,-2,3 ", "", "4,-5,6", "BREAK", ""])
    strokes = parse_omniglot_strokes(text)
    np.testing.assert_allclose(strokes[0].points, [[1, 2], [4, 5]])


def test_start_without_strokes_is_an_empty_drawing():
    assert parse_omniglot_strokes("START\n") == []


@pytest.mark.parametrize("text, fragment", [
    ("", "must begin with a START"),
    ("1,2,3\nBREAK\n", "must begin with a START"),
    ("START\n1,2\nBREAK\n", "line 2"),
    ("START\n1,2,3,4\nBREAK\n", "line 2"),
    ("START\n1,x,3\nBREAK\n", "line 2"),
    ("START\n1,nan,3\nBREAK\n", "non-finite"),
    ("START\nBREAK\n", "no samples"),
    ("START\n1,2,3\nBREAK\nSTART\n1,2,3\nBREAK\n", "second START"),
    ("START\n1,-2,3\n4,-5,6\n", "no closing BREAK"),
])
def test_malformed_text_raises_a_value_error_that_says_where(text, fragment):
    with pytest.raises(StrokeFileError, match=fragment) as info:
        parse_omniglot_strokes(text, source="drawing.txt")
    assert isinstance(info.value, ValueError)
    assert "drawing.txt" in str(info.value)


def test_load_names_the_file_in_errors(tmp_path):
    bad = tmp_path / "0001_01.txt"
    bad.write_text("START\n1,2,3\nhello\nBREAK\n")
    with pytest.raises(StrokeFileError, match=r"0001_01\.txt, line 3"):
        load_omniglot_strokes(bad)
    binary = tmp_path / "0001_02.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(StrokeFileError, match="0001_02.txt"):
        load_omniglot_strokes(binary)


def test_load_reads_a_file(tmp_path):
    path = tmp_path / "0002_03.txt"
    path.write_text(SAMPLE)
    strokes = load_omniglot_strokes(path)
    assert [len(s) for s in strokes] == [3, 1]
    assert load_omniglot_strokes(str(path))[0].points[2, 1] == pytest.approx(23.5)


def test_stroke_validates_and_protects_its_arrays():
    buf = np.array([[1.0, 2.0], [3.0, 4.0]])
    s = Stroke(buf, t=[0, 10], pressure=np.array([0.5, 0.7]))
    buf[0, 0] = 99  # the caller reusing its buffer must not change the stroke
    assert s.points[0, 0] == 1.0
    with pytest.raises(ValueError):
        s.points[0, 0] = 5.0  # read-only
    assert s.scaled(2.0).points[1, 1] == 8.0
    for bad in (np.zeros((0, 2)), np.zeros((3,)), np.zeros((2, 3)), [[0.0, np.inf]]):
        with pytest.raises(ValueError):
            Stroke(np.asarray(bad))
    with pytest.raises(ValueError, match="t"):
        Stroke(np.zeros((3, 2)), t=[1, 2])
    with pytest.raises(ValueError, match="pressure"):
        Stroke(np.zeros((2, 2)), pressure=[0.1, 0.2, 0.3])


coords = st.floats(-200, 200, allow_nan=False, width=32)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.tuples(coords, coords, st.integers(0, 10**6)), min_size=1, max_size=12),
                max_size=6))
def test_written_files_parse_back_to_the_same_strokes(drawing):
    lines = ["START"]
    for stroke in drawing:
        lines += [f"{x!r},{-y!r},{t}" for x, y, t in stroke] + ["BREAK"]
    parsed = parse_omniglot_strokes("\n".join(lines) + "\n")
    assert len(parsed) == len(drawing)
    for got, want in zip(parsed, drawing):
        np.testing.assert_array_equal(got.points, np.array([(x, y) for x, y, _ in want], dtype=np.float64))
        np.testing.assert_array_equal(got.t, [t for _, _, t in want])


@pytest.mark.realdata
def test_every_real_stroke_file_parses_into_the_drawing_area():
    folder = omniglot_dir()
    n_files = 0
    all_points = []
    with zipfile.ZipFile(folder / "strokes_background_subset.zip") as zf:
        for name in zf.namelist():
            if not name.endswith(".txt"):
                continue
            text = zf.read(name).decode("ascii")
            strokes = parse_omniglot_strokes(text, source=name)
            # Every sample line is kept, one stroke per BREAK.
            assert len(strokes) == text.count("BREAK") > 0, name
            assert sum(len(s) for s in strokes) == len(text.split()) - 1 - len(strokes), name
            all_points.append(np.concatenate([s.points for s in strokes]))
            n_files += 1
    pts = np.concatenate(all_points)
    assert n_files == 2120
    # After the flip, y grows down inside the 105-unit area like image rows (a few samples stray off it).
    inside = np.mean((pts >= 0) & (pts <= 105), axis=0)
    assert inside.min() > 0.99
    assert 30 < np.median(pts[:, 1]) < 75
