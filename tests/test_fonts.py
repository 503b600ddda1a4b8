"""Enrolling characters from a font: choosing, rendering, skipping, the index fields, several fonts, bad files.

Fonts are built in tmp_path by the `make_font` fixture (fontTools' FontBuilder); only the test marked for an
installed font uses one, and it skips when there is none.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from engine.recognition.embedding import Cancelled
from engine.fonts.render import render_codepoints
from engine.gallery import Gallery, GalleryError, import_gallery
from engine.gallery.files import FORMAT_VERSION
from engine.fonts.faces import (BLANK, COMBINING, CONTROL, NOT_IN_FONT, NOTDEF, SPACE, FontError, block_counts,
                                  describe_char, import_font, open_font, parse_range, select_characters)

LATIN = "ABCDEFGH"


def test_font_names_and_map_are_read(make_font):
    face = open_font(make_font(family="Runes Test", style="Bold", version="2.5"))
    assert face.family == "Runes Test" and face.style == "Bold" and face.full_name == "Runes Test Bold"
    assert "2.5" in face.version
    assert ord("ж") in face.cmap and ord("ᚠ") in face.cmap
    counts = block_counts(face.drawable())
    assert counts["Basic Latin"] == len(LATIN) + 1  # A-H and Z (whose glyph is empty: found when rendering)
    assert counts["Cyrillic"] == 2 and counts["Runic"] == 3


@pytest.mark.parametrize("choice, expected", [
    (dict(blocks=["Runic"]), "ᚠᚢᚦ"),
    (dict(blocks=["cyrillic"]), "жщ"),  # names are case-insensitive
    (dict(ranges=["U+0041-U+0043"]), "ABC"),
    (dict(text="щA"), "щA"),  # explicit text keeps its order
    (dict(text="B", blocks=["Runic"]), "Bᚠᚢᚦ"),
])
def test_characters_are_chosen_by_block_range_or_text(make_font, choice, expected):
    selection = select_characters(open_font(make_font()), **choice)
    assert "".join(map(chr, selection.codepoints)) == expected


def test_a_script_name_selects_across_blocks(make_font):
    face = open_font(make_font(chars="AÀᴫж", extras=False))  # ᴫ: Cyrillic script, Phonetic Extensions block
    assert "".join(map(chr, select_characters(face, blocks=["Latin"]).codepoints)) == "AÀ"  # two blocks
    assert "".join(map(chr, select_characters(face, blocks=["Cyrillic"]).codepoints)) == "ж"  # the block first


def test_unknown_block_and_bad_range_are_refused(make_font):
    face = open_font(make_font())
    with pytest.raises(ValueError, match="Cyrillic"):
        select_characters(face, blocks=["Cyrilic"])  # a typo: the message suggests the right name
    for bad in ("U+0041-", "zz", "U+0050-U+0040"):
        with pytest.raises(ValueError):
            parse_range(bad)
    assert parse_range("u+16a0-U+16FF") == (0x16A0, 0x16FF) and parse_range("0416") == (0x416, 0x416)


def test_what_cannot_be_drawn_is_skipped_with_a_reason(make_font, tmp_path):
    result = import_font(make_font(), None, text="A \x01\u0301\u2603Zq", ranges=["U+0020"])
    assert result.gallery.names() == ["A"]
    assert {r: [chr(c) for c in cps] for r, cps in result.skipped.items()} == {
        SPACE: [" "], CONTROL: ["\x01"], COMBINING: ["\u0301"], NOTDEF: ["\u2603"], BLANK: ["Z"], NOT_IN_FONT: ["q"]}
    assert result.n_skipped == 6
    assert "space 1" in result.skipped_summary()


def test_rendered_characters_look_like_omniglot_glyphs(make_font):
    gallery = import_font(make_font(), None, text=LATIN).gallery
    for c in gallery.characters:
        px = c.references[0].pixels
        assert px.shape == (105, 105) and set(np.unique(px)) <= {0.0, 1.0}
        rows, cols = np.flatnonzero(px.any(axis=1)), np.flatnonzero(px.any(axis=0))
        extent = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
        assert 38 <= extent <= 91, c.name  # Omniglot's framing
        assert 0.02 < px.mean() < 0.2, c.name  # drawn with a pen, not filled
    firsts = [c.references[0].pixels for c in gallery.characters]
    assert all(not np.array_equal(a, b) for i, a in enumerate(firsts) for b in firsts[i + 1:])


def test_index_keeps_code_point_unicode_name_and_font(make_font, tmp_path):
    font = make_font("Runes.ttf", family="Runes Test", version="3.1")
    result = import_font(font, tmp_path / "g", blocks=["Cyrillic"])
    assert result.gallery.names() == ["ж", "щ"]
    index = json.loads((tmp_path / "g" / "gallery.json").read_text("utf-8"))
    assert index["format_version"] == FORMAT_VERSION == 2
    zhe = index["characters"][0]
    assert (zhe["name"], zhe["char"], zhe["codepoint"]) == ("ж", "ж", "U+0436")
    assert zhe["unicode_name"] == "CYRILLIC SMALL LETTER ZHE"
    assert zhe["references"][0]["font"] == {"name": "Runes Test Regular", "version": "Version 3.1",
                                            "file": "Runes.ttf"}
    again = Gallery.open(tmp_path / "g")
    assert again.character("ж").char == "ж"
    assert again.character("ж").references[0].font.file == "Runes.ttf"
    assert describe_char("ж") == "U+0436 CYRILLIC SMALL LETTER ZHE"


def test_fields_survive_rename_merge_undo_and_export(make_font, tmp_path):
    gallery = import_font(make_font(), tmp_path / "g", text="AB").gallery
    gallery.rename("A", "letter a")
    assert gallery.character("letter a").char == "A"
    token = gallery.delete("letter a")
    gallery.restore(token)
    restored = Gallery.open(tmp_path / "g").character("letter a")
    assert restored.char == "A" and restored.references[0].font.name == "Test Sans Regular"
    copy = import_gallery(gallery.export(tmp_path / "copy.zip", as_zip=True), tmp_path / "g2")
    assert copy.character("B").char == "B" and copy.character("B").references[0].font is not None
    gallery.merge(["letter a", "B"], "AB")
    assert gallery.character("AB").char is None  # two different characters: no longer one Unicode character


def test_version_1_galleries_still_open(tmp_path):
    folder = tmp_path / "old"
    Gallery.create(folder, "Old").add_character("bar", [np.pad(np.ones((60, 8), np.float32), ((22, 23), (48, 49)))])
    index = json.loads((folder / "gallery.json").read_text())
    index["format_version"] = 1
    (folder / "gallery.json").write_text(json.dumps(index))
    old = Gallery.open(folder)
    assert old.names() == ["bar"] and old.character("bar").char is None
    old.rename("bar", "stick")  # and it is saved in the new format
    assert json.loads((folder / "gallery.json").read_text())["format_version"] == FORMAT_VERSION


def test_a_bad_char_field_is_refused_naming_the_file(make_font, tmp_path):
    import_font(make_font(), tmp_path / "g", text="A")
    index = json.loads((tmp_path / "g" / "gallery.json").read_text("utf-8"))
    index["characters"][0]["char"] = "AB"
    (tmp_path / "g" / "gallery.json").write_text(json.dumps(index))
    with pytest.raises(GalleryError, match="gallery.json"):
        Gallery.open(tmp_path / "g")


def test_several_fonts_give_several_references_of_one_character(make_font, tmp_path):
    first = make_font("One.ttf", family="One")
    second = make_font("Two.ttf", family="Two", shift=1)
    import_font(first, tmp_path / "g", text="ABж")
    result = import_font(second, tmp_path / "g", text="ABC")
    assert (result.added_characters, result.added_references) == (1, 3)
    gallery = Gallery.open(tmp_path / "g")
    assert gallery.names() == ["A", "B", "ж", "C"]
    refs = gallery.character("A").references
    assert [r.font.name for r in refs] == ["One Regular", "Two Regular"]
    assert not np.array_equal(refs[0].pixels, refs[1].pixels)


def test_a_hand_drawn_character_gains_the_fonts_reference(make_font, tmp_path):
    gallery = Gallery.create(tmp_path / "g", "Mine")
    gallery.add_character("A", [np.pad(np.ones((60, 8), np.float32), ((22, 23), (48, 49)))])
    import_font(make_font(), gallery, text="A")
    again = Gallery.open(tmp_path / "g")
    assert again.character("A").char == "A" and len(again.character("A").references) == 2
    assert again.character("A").references[0].font is None


@pytest.mark.parametrize("damage", ["truncated", "not a font", "empty", "nothing drawable"])
def test_a_bad_font_file_gives_a_clear_message_and_writes_nothing(make_font, tmp_path, damage):
    path = make_font()
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    elif damage == "not a font":
        path.write_bytes(b"%PDF-1.4 this is not a font at all" * 10)
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path = make_font("Blank.ttf", chars="", extras=True)  # only a space, a control, a mark, .notdef, a blank
    dest = tmp_path / "g"
    with pytest.raises(FontError, match=str(path.name)) as info:
        import_font(path, dest)
    assert {"truncated": "truncated", "not a font": "not a usable font", "empty": "not a usable font",
            "nothing drawable": "no drawable character"}[damage] in str(info.value)
    assert not dest.exists() and list(tmp_path.iterdir()) == [path.parent]


def test_an_existing_gallery_is_unchanged_by_a_bad_font(make_font, tmp_path):
    import_font(make_font(), tmp_path / "g", text="AB")
    before = (tmp_path / "g" / "gallery.json").read_bytes()
    blank = make_font("Blank.ttf", chars="")
    with pytest.raises(FontError):
        import_font(blank, tmp_path / "g")
    assert (tmp_path / "g" / "gallery.json").read_bytes() == before


def test_cancel_leaves_nothing_and_progress_counts_up(make_font, tmp_path):
    cancel = threading.Event()
    seen = []

    def progress(done, total):
        seen.append((done, total))
        if done >= 3:
            cancel.set()

    with pytest.raises(Cancelled):
        import_font(make_font(), tmp_path / "g", text=LATIN, progress=progress, cancel=cancel)
    assert not (tmp_path / "g").exists() and [p.name for p in tmp_path.iterdir()] == ["fonts"]
    result_progress = []
    import_font(make_font(), tmp_path / "g", text=LATIN, progress=lambda d, t: result_progress.append((d, t)))
    assert result_progress[-1][0] == result_progress[-1][1] and [d for d, _ in result_progress] == sorted(
        d for d, _ in result_progress)


def test_worker_processes_render_exactly_like_the_app(make_font):
    path = make_font(chars="ABCDEFGHIJKLMNOPQRSTUVWXY", extras=False)
    codepoints = [ord(c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXY"]
    alone, blank, _ = render_codepoints(str(path), 0, codepoints, workers=1)
    assert blank == [] and [cp for cp, _ in alone] == codepoints
    # POOL_MIN keeps small selections in-process; force the pool through its private entry point.
    from engine.fonts import render as font_render

    chunks = [codepoints[i:i + 4] for i in range(0, len(codepoints), 4)]
    results = [None] * len(chunks)
    font_render._render_in_pool(str(path), 0, chunks, results, 2, None, None, len(codepoints))
    flat = [px for chunk in results for px in chunk]
    assert all(np.array_equal(a[1], b) for a, b in zip(alone, flat)) and len(flat) == len(alone)


def test_a_collection_face_is_chosen_by_index(make_font, tmp_path):
    from fontTools.ttLib import TTCollection, TTFont

    collection = TTCollection()
    collection.fonts = [TTFont(str(make_font("A.ttf", family="Face A"))),
                        TTFont(str(make_font("B.ttf", family="Face B", chars="XY")))]
    path = tmp_path / "both.ttc"
    collection.save(str(path))
    face = open_font(path, face=1)
    assert face.family == "Face B" and face.n_faces == 2
    assert import_font(path, None, face=1, text="XY").gallery.names() == ["X", "Y"]
    with pytest.raises(FontError, match="2 faces"):
        open_font(path, face=2)


def test_an_installed_font_imports_a_script(installed_font, tmp_path):
    result = import_font(installed_font, None, blocks=["Basic Latin"])
    names = set(result.gallery.names())
    assert set("abcxyzABCXYZ0189") <= names and " " not in names
    assert result.skipped.get(SPACE) == [0x20]


def test_installed_fonts_are_found_in_the_font_folders(make_font, tmp_path, monkeypatch):
    from engine.fonts import files as font_files

    folder = tmp_path / "fonts"
    make_font("Sub/Runes.ttf", family="Runes Test", style="Bold")
    make_font("Plain.ttf", family="Plain Test")
    (folder / "notes.txt").write_text("not a font")
    (folder / "Broken.ttf").write_bytes(b"junk")  # a broken system font is passed over, not reported
    monkeypatch.setattr(font_files, "font_folders", lambda: [folder])
    fonts = font_files.installed_fonts(use_fc_list=False)
    assert [(f.family, f.style, f.path.name) for f in fonts] == [("Plain Test", "Regular", "Plain.ttf"),
                                                                  ("Runes Test", "Bold", "Runes.ttf")]
    assert [f.label for f in fonts] == ["Plain Test", "Runes Test Bold"]
    assert font_files.find_installed("runes test bold", fonts).path.name == "Runes.ttf"
    assert font_files.find_installed("Runes Test", fonts).style == "Bold"  # the family's only face
    assert font_files.find_installed("runes.TTF", fonts).family == "Runes Test"  # a file name found installed
    assert font_files.find_installed("Nothing Like It", fonts) is None


def test_without_fc_list_the_folders_are_searched(make_font, tmp_path, monkeypatch):
    from engine.fonts import files as font_files

    make_font("Plain.ttf", family="Plain Test")
    monkeypatch.setattr(font_files.shutil, "which", lambda _name: None)
    monkeypatch.setattr(font_files, "font_folders", lambda: [tmp_path / "fonts"])
    assert [f.family for f in font_files.installed_fonts()] == ["Plain Test"]


def test_a_folder_that_is_not_a_gallery_is_refused_before_rendering(make_font, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "letter.txt").write_text("mine")
    calls = []
    with pytest.raises(GalleryError, match="neither a gallery nor an empty folder"):
        import_font(make_font(), tmp_path / "busy", progress=lambda d, t: calls.append(d))
    assert calls == [] and [p.name for p in (tmp_path / "busy").iterdir()] == ["letter.txt"]


def test_a_block_the_font_lacks_names_the_installed_fonts_that_have_it(make_font, tmp_path, monkeypatch):
    from engine.fonts import files as font_files

    runic = make_font("Runes.ttf", family="Rune Sans")  # maps ᚠᚢᚦ
    latin = make_font("Plain.ttf", chars="ABC", family="Plain Sans")
    monkeypatch.setattr(font_files, "_from_fc_list", lambda *a: None)  # as without fontconfig: cmaps are read
    monkeypatch.setattr(font_files, "font_folders", lambda: [runic.parent])
    with pytest.raises(FontError) as info:
        import_font(latin, tmp_path / "g", blocks=["Runic"])
    message = str(info.value)
    assert "Plain Sans Regular has none there" in message and "Installed fonts that have Runic: Rune Sans." in message
    assert not (tmp_path / "g").exists()
    with pytest.raises(FontError) as info:
        import_font(latin, tmp_path / "g", blocks=["Ogham"])
    assert "No installed font has Ogham (\u1681 U+1681)" in str(info.value)


def test_fontconfig_finds_the_installed_fonts_drawing_a_character():
    from engine.fonts.files import find_installed, fonts_drawing

    sans = find_installed("DejaVu Sans")
    if sans is None:
        pytest.skip("DejaVu Sans is not installed")
    assert sans.path in {f.path for f in fonts_drawing(ord("→"))}
    assert sans.path not in {f.path for f in fonts_drawing(0x16A0)}  # DejaVu Sans 2.37 has no Runic
