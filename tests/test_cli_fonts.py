"""The command line for fonts: `gallery import-font` (choices, listing blocks, bad files) and `rank --json`'s "char"."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from engine.gallery import Gallery


def test_import_font_by_block_and_text_then_another_font_adds_references(make_font, tmp_path, capsys):
    dest = tmp_path / "g"
    assert main(["gallery", "import-font", str(make_font()), str(dest), "--block", "Runic", "--chars", "AB",
                 "--quiet", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["added_characters"] == 5 and out["characters"] == 5 and out["skipped"] == {}
    assert Gallery.open(dest).names() == ["A", "B", "ᚠ", "ᚢ", "ᚦ"]
    other = make_font("Other.ttf", family="Other", shift=3)
    assert main(["gallery", "import-font", str(other), str(dest), "--range", "U+0041-U+0043", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "added 3 references (1 new characters)" in err
    gallery = Gallery.open(dest)
    assert [len(gallery.character(c).references) for c in "ABC"] == [2, 2, 1]


def test_import_font_reports_what_it_skipped(make_font, tmp_path, capsys):
    assert main(["gallery", "import-font", str(make_font()), str(tmp_path / "g"), "--quiet"]) == 0
    err = capsys.readouterr().err
    for reason in ("space 1", "control character 1", "lone combining mark 1", "renders blank 1", ".notdef) 1"):
        assert reason in err


def test_list_blocks_counts_drawable_characters(make_font, tmp_path, capsys):
    assert main(["gallery", "import-font", str(make_font()), "--list-blocks", "--json"]) == 0
    blocks = json.loads(capsys.readouterr().out.splitlines()[-1])["blocks"]
    assert blocks["Runic"] == 3 and blocks["Cyrillic"] == 2
    assert not (tmp_path / "g").exists()


@pytest.mark.parametrize("args, message", [
    (["--block", "Klingon"], "No Unicode block or script called 'Klingon'"),
    (["--range", "U+0100-U+0050"], "not a code-point range"),
])
def test_bad_choices_are_refused_and_nothing_is_written(make_font, tmp_path, capsys, args, message):
    assert main(["gallery", "import-font", str(make_font()), str(tmp_path / "g"), "--quiet", *args]) == 1
    assert message in capsys.readouterr().err and not (tmp_path / "g").exists()


def test_a_bad_font_file_is_refused_and_nothing_is_written(tmp_path, capsys):
    bad = tmp_path / "broken.ttf"
    bad.write_bytes(b"\x00\x01\x00\x00" + b"\x00" * 40)
    assert main(["gallery", "import-font", str(bad), str(tmp_path / "g"), "--quiet"]) == 1
    assert "broken.ttf" in capsys.readouterr().err and not (tmp_path / "g").exists()


def test_an_unknown_font_name_says_so(tmp_path, capsys):
    assert main(["gallery", "import-font", "No Such Font Family 123", str(tmp_path / "g"), "--quiet"]) == 1
    assert "no installed font of that name" in capsys.readouterr().err


def test_rank_json_gives_the_character(make_font, exact_match_weights, tmp_path, capsys):
    dest = tmp_path / "g"
    main(["gallery", "import-font", str(make_font()), str(dest), "--chars", "жAᚠ", "--quiet"])
    gallery = Gallery.open(dest)
    gallery.add_character("drawn", [gallery.character("A").references[0].pixels[::-1].copy()])
    query = dest / gallery.character("ж").references[0].file
    capsys.readouterr()
    assert main(["rank", "--gallery", str(dest), "--weights", str(exact_match_weights), "--device", "cpu",
                 "--quiet", "--top", "4", "--json", str(query)]) == 0
    results = json.loads(capsys.readouterr().out.splitlines()[-1])["results"]
    assert results[0]["name"] == "ж" and results[0]["char"] == "ж"
    assert {r["name"]: r["char"] for r in results} == {"ж": "ж", "A": "A", "ᚠ": "ᚠ", "drawn": None}


def test_argument_errors_print_no_empty_progress_bar(make_font, tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("mine")
    for args in (["--block", "Klingon"], []):
        dest = tmp_path / ("g" if args else "taken")
        assert main(["gallery", "import-font", str(make_font()), str(dest), *args]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error:") and "rendering" not in err and "char/s" not in err


def test_progress_counts_characters_not_steps(make_font, tmp_path, capsys):
    # Greek letters take two bytes each in UTF-8: the count is of characters.
    font = make_font(chars="αβγδεAB")
    assert main(["gallery", "import-font", str(font), str(tmp_path / "g"), "--chars", "αβγδε"]) == 0
    err = capsys.readouterr().err
    assert "5/5" in err and "10/10" not in err


def test_import_font_counts_agree_from_choice_to_gallery(make_font, tmp_path, capsys):
    # The font maps one character that renders blank: chosen (what a preview counts) is one more than made.
    from engine.fonts.faces import open_font

    font = make_font()
    drawable = len(open_font(font).drawable())
    assert main(["gallery", "import-font", str(font), str(tmp_path / "g"), "--quiet", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out.splitlines()[-1])
    assert out["chosen"] == drawable and out["rendered"] == out["characters"] == len(Gallery.open(tmp_path / "g"))
    lost = out["skipped"].get("renders blank", 0) + out["skipped"].get("drawn as the missing-glyph box (.notdef)", 0)
    assert out["chosen"] - out["rendered"] == lost > 0
    assert f"{out['rendered']} of the {out['chosen']} chosen characters (" in captured.err
