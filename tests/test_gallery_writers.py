"""Several writers on one gallery (issue 23, items 1, 2 and 10): real processes adding characters at once, two
font imports at once, stale objects merging onto the newest index, the orphan sweep sparing another writer's
new files, the lock's timeout, and `changed_on_disk` / `reload` for a reader that must notice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.gallery import Gallery, GalleryError, import_gallery
from engine.gallery.files import LOCK_NAME
from engine.locking import FolderLock

from glyph_shapes import shape

REPO = Path(__file__).resolve().parents[1]

# A child process: waits for the start signal (so both children run their adds at the same time), then adds
# `count` characters named PREFIX0..., printing each name once its add returned (reported done).
ADDER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {repo!r})
    sys.path.insert(0, {tests!r})
    from engine.gallery import Gallery
    from glyph_shapes import shape
    path, prefix, count, reopen, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5]
    kinds = ["bar", "ring", "box", "pole"]
    g = Gallery.open(path)
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.005)
    for i in range(count):
        if reopen:
            g = Gallery.open(path)
        g.add_character(f"{{prefix}}{{i}}", [shape(kinds[i % 4], i % 3, i % 2)])
        print(f"done {{prefix}}{{i}}", flush=True)
""")


def start_adders(gallery: Path, tmp_path: Path, reopen: bool, count: int = 20) -> list[str]:
    """Run two adder processes at once on `gallery`; return the names they reported added."""
    go = tmp_path / "go"
    script = ADDER.format(repo=str(REPO), tests=str(REPO / "tests"))
    procs = [subprocess.Popen([sys.executable, "-c", script, str(gallery), prefix, str(count), "1" if reopen else "0",
                               str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for prefix in ("a", "b")]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    go.touch()
    done = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "Traceback" not in err
        done += [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("done ")]
    return done


def indexed(folder: Path) -> dict[str, list[str]]:
    data = json.loads((folder / "gallery.json").read_text())
    return {c["name"]: [r["file"] for r in c["references"]] for c in data["characters"]}


@pytest.fixture
def shared(tmp_path) -> Gallery:
    g = Gallery.create(tmp_path / "shared", "Shared")
    g.add_character("first", [shape("bar")])
    return g


@pytest.mark.parametrize("reopen", [False, True], ids=["kept-open", "reopened-before-each-add"])
def test_two_processes_adding_20_characters_each_lose_nothing(shared, tmp_path, reopen):
    done = start_adders(shared.path, tmp_path, reopen)

    assert sorted(done) == sorted([f"a{i}" for i in range(20)] + [f"b{i}" for i in range(20)])
    again = Gallery.open(shared.path)
    assert sorted(again.names()) == sorted(["first", *done])
    # Each writer's own characters stay in the order it added them, and every file the index names is there
    # and holds the pixels that were added.
    assert [n for n in again.names() if n.startswith("a")] == [f"a{i}" for i in range(20)]
    kinds = ["bar", "ring", "box", "pole"]
    for i in range(20):
        expected = shape(kinds[i % 4], i % 3, i % 2)
        for prefix in "ab":
            assert np.array_equal(again.character(f"{prefix}{i}").references[0].pixels, expected)
    files = {f for refs in indexed(shared.path).values() for f in refs}
    assert files == {f"images/{p.name}" for p in (shared.path / "images").iterdir()}


def font_with_two_scripts(make_font) -> Path:
    cyrillic = "".join(chr(c) for c in range(0x0410, 0x0450))  # А..я, 64 letters
    greek = "".join(chr(c) for c in range(0x0391, 0x03AA) if c != 0x03A2) + \
        "".join(chr(c) for c in range(0x03B1, 0x03CA))  # Α..Ω and α..ω
    return make_font("TwoScripts.ttf", chars=cyrillic + greek, extras=False)


def run_two_font_imports(font: Path, dest: Path) -> list[subprocess.CompletedProcess]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmds = [[sys.executable, "-m", "engine", "gallery", "import-font", str(font), str(dest), "--block", block,
             "--quiet", "--json"] for block in ("Cyrillic", "Greek and Coptic")]
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
             for c in cmds]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=600), *p.communicate()) for p in procs]


def test_two_font_imports_at_once_into_one_gallery_lose_nothing(make_font, tmp_path):
    font = font_with_two_scripts(make_font)
    dest = tmp_path / "letters"
    Gallery.create(dest, "Letters")

    results = run_two_font_imports(font, dest)

    for r in results:
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr
    added = [json.loads(r.stdout.splitlines()[-1])["added_characters"] for r in results]
    assert added == [64, 49]
    names = Gallery.open(dest).names()
    assert len(names) == 64 + 49
    assert set(names) >= {"ж", "Ω", "α", "я"}


def test_two_font_imports_at_once_into_a_new_folder_lose_nothing_reported_done(make_font, tmp_path):
    font = font_with_two_scripts(make_font)
    dest = tmp_path / "new"

    results = run_two_font_imports(font, dest)

    names = set(Gallery.open(dest).names())
    for r, block in zip(results, (range(0x0410, 0x0450), range(0x0391, 0x03CA))):
        assert "Traceback" not in r.stderr
        if r.returncode == 0:  # reported done: every character of its block is in the gallery
            assert {chr(c) for c in block if c != 0x03A2 and not 0x03AA <= c < 0x03B1} <= names
        else:  # the loser of the race for the new folder says so, naming it, and what to do
            assert r.returncode == 1 and str(dest) in r.stderr and "another" in r.stderr
    assert any(r.returncode == 0 for r in results)


def test_the_losing_import_into_a_new_folder_says_what_happened(tmp_path, monkeypatch):
    """Two imports race for one new folder: the one that finishes second names it and says what to do."""
    source = tmp_path / "source"
    source.mkdir()
    from PIL import Image
    Image.fromarray(((1 - shape("ring")) * 255).astype(np.uint8)).save(source / "ring.png")
    dest = tmp_path / "dest"
    from engine.gallery import importing

    real_finish = importing._Sink.finish

    def finish_after_the_other(self, name, characters, cancel):
        if name == "Loser":  # the other import gets there first
            import_gallery(source, dest, name="Winner")
        return real_finish(self, name, characters, cancel)

    monkeypatch.setattr(importing._Sink, "finish", finish_after_the_other)
    with pytest.raises(GalleryError, match=r"dest.*another .*(import|program).*nothing of this import was kept"):
        import_gallery(source, dest, name="Loser")
    monkeypatch.setattr(importing._Sink, "finish", real_finish)
    assert Gallery.open(dest).name == "Winner"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dest.")]  # its staging folder is gone


# --------------------------------------------------------------------------------------------- stale objects


def test_a_stale_object_merges_its_edit_onto_the_newest_index(shared):
    one, two = Gallery.open(shared.path), Gallery.open(shared.path)
    one.add_character("ring", [shape("ring")])
    two.add_character("box", [shape("box")])  # `two` never saw "ring"
    assert Gallery.open(shared.path).names() == ["first", "ring", "box"]
    assert two.names() == ["first", "ring", "box"] and two.external_changes == 1

    one.rename("ring", "circle")  # `one` never saw "box"
    two.delete("first")
    assert Gallery.open(shared.path).names() == ["circle", "box"]
    # An edit that no longer applies to the newest state is refused and changes nothing.
    before = (shared.path / "gallery.json").read_bytes()
    with pytest.raises(KeyError, match="ring"):
        two.rename("ring", "wheel")
    with pytest.raises(GalleryError, match="already a character 'box'"):
        one.add_character("box", [shape("pole")])
    assert (shared.path / "gallery.json").read_bytes() == before


def test_changed_on_disk_and_reload_tell_a_reader_about_another_writer(shared):
    reader, writer = Gallery.open(shared.path), Gallery.open(shared.path)
    first = reader.character("first").references[0]
    _ = first.pixels
    token, revision = reader.disk_token, reader.revision
    assert not reader.changed_on_disk() and reader.current_disk_token() == token

    writer.add_character("ring", [shape("ring")])
    assert reader.changed_on_disk() and reader.current_disk_token() != token
    assert reader.names() == ["first"]  # nothing loaded until asked
    assert reader.reload() is True
    assert reader.names() == ["first", "ring"] and reader.revision == revision + 1
    assert reader.character("first").references[0] is first  # unchanged references keep their pixels
    assert not reader.changed_on_disk() and reader.reload() is False

    os.utime(shared.path / "gallery.json")  # touched, not changed
    assert not reader.changed_on_disk()
    (shared.path / "gallery.json").unlink()
    assert reader.changed_on_disk()
    with pytest.raises(GalleryError, match="gallery.json"):
        reader.reload()
    assert reader.names() == ["first", "ring"]  # a failed reload leaves the object as it was


def test_in_memory_galleries_have_no_disk_to_watch():
    g = Gallery.in_memory("Mem")
    g.add_character("bar", [shape("bar")])
    assert g.disk_token is None and not g.changed_on_disk() and g.reload() is False


# ---------------------------------------------------------------------------------------------- the sweep


def test_the_sweep_spares_files_newer_than_the_index_it_read(shared):
    images = shared.path / "images"
    # Another writer's new PNG, written but not yet in its index: newer than the index on disk.
    pending = images / "ring-1.png"
    pending.write_bytes((images / shared.character("first").references[0].file.split("/")[1]).read_bytes())
    later = (shared.path / "gallery.json").stat().st_mtime + 2
    os.utime(pending, (later, later))

    other = Gallery.open(shared.path)
    assert other.collect_garbage() == []
    other.add_character("box", [shape("box")])
    assert pending.is_file()
    # Once an index newer than it is on disk and still no index names it, it is an orphan: swept.
    os.utime(pending, (later - 10, later - 10))
    assert Gallery.open(shared.path).collect_garbage() == ["ring-1.png"]


def test_an_edit_waits_for_the_lock_and_says_who_holds_it_after_the_timeout(shared, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from engine.locking import FolderLock
        with FolderLock({str(shared.path / LOCK_NAME)!r}).held(10):
            print("held", flush=True)
            time.sleep(3)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    before = (shared.path / "gallery.json").read_bytes()
    g = Gallery.open(shared.path)  # reading needs no lock
    g.lock_timeout = 0.3
    with pytest.raises(GalleryError, match=r"shared.*another program.*nothing was changed"):
        g.add_character("ring", [shape("ring")])
    assert (shared.path / "gallery.json").read_bytes() == before
    g.lock_timeout = 30
    start = time.monotonic()
    g.add_character("ring", [shape("ring")])  # waits for the holder to finish
    assert time.monotonic() - start > 0.5
    holder.wait(timeout=30)
    assert Gallery.open(shared.path).names() == ["first", "ring"]


def test_an_edit_of_a_gallery_whose_folder_was_removed_says_so(shared, tmp_path):
    g = Gallery.open(shared.path)
    shared.path.rename(tmp_path / "moved")
    with pytest.raises(GalleryError, match=r"shared is gone.*nothing was changed"):
        g.add_character("ring", [shape("ring")])
    assert not shared.path.exists()
    assert Gallery.open(tmp_path / "moved").names() == ["first"]


def test_the_lock_is_exclusive_between_objects_of_one_process_and_reentrant_in_one(tmp_path):
    a, b = FolderLock(tmp_path / "lock"), FolderLock(tmp_path / "lock")
    with a.held(1):
        with a.held(1):
            assert a.is_held
        assert a.is_held
        with pytest.raises(TimeoutError):
            with b.held(0.1):
                pass
    with b.held(1):
        assert b.is_held and not a.is_held
    assert (tmp_path / "lock").is_file()  # kept: a deleted lock file lets two writers "hold" it


def test_cli_import_into_an_existing_gallery_is_refused_naming_it(tmp_path, capsys):
    source = tmp_path / "source"
    source.mkdir()
    from PIL import Image
    Image.fromarray(((1 - shape("ring")) * 255).astype(np.uint8)).save(source / "ring.png")
    Gallery.create(tmp_path / "dest", "Existing")
    assert main(["gallery", "import", str(source), str(tmp_path / "dest"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "dest" in err and "Traceback" not in err
    assert Gallery.open(tmp_path / "dest").names() == []
