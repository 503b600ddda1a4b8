"""Omniglot data: finding it, reading the official layout from zips or folders, the cache, damaged copies."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import engine.data.locate as locate
import engine.data.omniglot as omniglot
from engine.data import DataError, DatasetMissing, find_runs, find_sources, load_omniglot, load_set, resolve_data_dir
from engine.data.locate import DownloadCancelled, download_omniglot

from synthetic import png_bytes


def assert_same_set(a, b) -> None:
    assert a.name == b.name
    assert a.alphabets == b.alphabets
    assert a.char_names == b.char_names
    for field in ("images", "char", "drawer", "char_alphabet"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


def count_decodes(monkeypatch) -> list[Path]:
    """Record every real decode of a source (a cache hit does not decode)."""
    calls: list[Path] = []
    real = omniglot._decode

    def recording(source, name):
        calls.append(Path(source))
        return real(source, name)

    monkeypatch.setattr(omniglot, "_decode", recording)
    return calls


def copy_folder(synthetic_omniglot, tmp_path, name: str = "background") -> Path:
    dest = tmp_path / f"images_{name}"
    shutil.copytree(synthetic_omniglot.folder(name), dest)
    return dest


def first_png(folder: Path) -> Path:
    return sorted(folder.rglob("*.png"))[0]


# --- layout -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["background", "evaluation"])
def test_official_layout_is_parsed_from_the_archive(synthetic_omniglot, name):
    data = load_set(synthetic_omniglot.zip(name), name, cache=False)
    alphabets = synthetic_omniglot.alphabets[name]
    n_chars = len(alphabets) * synthetic_omniglot.characters
    assert data.summary() == f"{name}: {len(alphabets)} alphabets, {n_chars} characters, {len(data)} images"
    assert len(data) == synthetic_omniglot.n_images(name)
    assert data.alphabets == sorted(alphabets)
    assert data.images.shape == (len(data), 105, 14) and data.images.dtype == np.uint8
    # Every character has the 20 drawers, and its characters are character01..06 of one alphabet.
    for c in range(data.n_characters):
        assert sorted(data.drawer[data.char == c].tolist()) == list(range(1, 21))
    for a in range(len(alphabets)):
        names = [data.char_names[c] for c in data.alphabet_characters(a)]
        assert names == [f"character{i:02d}" for i in range(1, synthetic_omniglot.characters + 1)]
    # Each image holds exactly the pixels that were drawn for that alphabet, character and drawer (1 = ink).
    pixels = data.pixels()
    assert pixels.shape == (len(data), 105, 105)
    for i in range(len(data)):
        c = data.char[i]
        key = (data.alphabets[data.char_alphabet[c]], data.char_names[c], int(data.drawer[i]))
        np.testing.assert_array_equal(pixels[i], synthetic_omniglot.ink[name][key], err_msg=str(key))
    assert data.character_label(0) == f"{sorted(alphabets)[0]}/character01"


@pytest.mark.parametrize("name", ["background", "evaluation"])
def test_archive_and_folder_give_identical_arrays(synthetic_omniglot, name):
    from_zip = load_set(synthetic_omniglot.zip(name), name, cache=False)
    from_folder = load_set(synthetic_omniglot.folder(name), name, cache=False)
    assert_same_set(from_zip, from_folder)


def test_load_omniglot_reads_both_sets_from_zips_or_folders(synthetic_omniglot):
    a = load_omniglot(synthetic_omniglot.zip_dir, cache=False)
    b = load_omniglot(synthetic_omniglot.folder_dir, cache=False)
    assert a.background.summary() == "background: 4 alphabets, 24 characters, 480 images"
    assert a.evaluation.summary() == "evaluation: 2 alphabets, 12 characters, 240 images"
    assert_same_set(a.background, b.background)
    assert_same_set(a.evaluation, b.evaluation)
    assert not set(a.background.alphabets) & set(a.evaluation.alphabets)


# --- cache -----------------------------------------------------------------------------------------------------------


def test_cache_makes_the_second_load_fast(synthetic_omniglot, monkeypatch, private_user_folders):
    decodes = count_decodes(monkeypatch)
    source = synthetic_omniglot.zip("background")
    t0 = time.perf_counter()
    first = load_set(source, "background")
    t1 = time.perf_counter()
    second = load_set(source, "background")
    t2 = time.perf_counter()
    assert decodes == [source], "the second load decoded the images again instead of using the cache"
    assert_same_set(first, second)
    cached = list((private_user_folders["cache"] / "omniglot").glob("background-*.npz"))
    assert len(cached) == 1
    assert t2 - t1 < t1 - t0, f"cache load {t2 - t1:.3f}s is not faster than decoding {t1 - t0:.3f}s"


def test_cache_is_invalidated_when_a_file_in_a_folder_changes(synthetic_omniglot, tmp_path, monkeypatch):
    folder = copy_folder(synthetic_omniglot, tmp_path)
    decodes = count_decodes(monkeypatch)
    before = load_set(folder, "background")
    load_set(folder, "background")
    assert len(decodes) == 1

    # Touch one file (same content, newer time): the cache must not be trusted any more.
    png = first_png(folder)
    st = png.stat()
    os.utime(png, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    touched = load_set(folder, "background")
    assert len(decodes) == 2
    assert_same_set(before, touched)

    # Modify one file: the new pixels must come back, not the cached ones.
    new_ink = np.zeros((105, 105), np.uint8)
    new_ink[40:60, 10:95] = 1
    png.write_bytes(png_bytes(new_ink))
    os.utime(png, ns=(st.st_atime_ns, st.st_mtime_ns + 4_000_000_000))
    modified = load_set(folder, "background")
    assert len(decodes) == 3
    np.testing.assert_array_equal(modified.pixels(slice(0, 1))[0], new_ink)
    assert not np.array_equal(modified.images[0], before.images[0])


def test_cache_is_invalidated_when_the_archive_changes(synthetic_omniglot, tmp_path, monkeypatch):
    archive = tmp_path / "images_background.zip"
    shutil.copyfile(synthetic_omniglot.zip("background"), archive)
    decodes = count_decodes(monkeypatch)
    original = load_set(archive, "background")
    assert load_set(archive, "background") is not None and len(decodes) == 1

    # Repack the archive with one image replaced.
    new_ink = np.zeros((105, 105), np.uint8)
    new_ink[10:95, 50:56] = 1
    with zipfile.ZipFile(synthetic_omniglot.zip("background")) as src:
        entries = [(i.filename, src.read(i)) for i in src.infolist()]
    target = next(n for n, _ in entries if n.endswith(".png"))
    with zipfile.ZipFile(archive, "w") as dst:
        for n, data in entries:
            dst.writestr(n, png_bytes(new_ink) if n == target else data)
    st = archive.stat()
    os.utime(archive, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    changed = load_set(archive, "background")
    assert len(decodes) == 2
    np.testing.assert_array_equal(changed.pixels(slice(0, 1))[0], new_ink)
    assert not np.array_equal(changed.images[0], original.images[0])


def test_a_damaged_cache_file_is_rebuilt(synthetic_omniglot, monkeypatch, private_user_folders):
    source = synthetic_omniglot.zip("evaluation")
    good = load_set(source, "evaluation")
    (cache_file,) = (private_user_folders["cache"] / "omniglot").glob("evaluation-*.npz")
    cache_file.write_bytes(b"not an npz file")
    decodes = count_decodes(monkeypatch)
    again = load_set(source, "evaluation")
    assert decodes == [source]
    assert_same_set(good, again)
    assert load_set(source, "evaluation") is not None and len(decodes) == 1  # rebuilt and used again


def test_a_damaged_cache_in_a_linked_folder_is_not_deleted_through_the_link(synthetic_omniglot, monkeypatch,
                                                                            private_user_folders, tmp_path):
    source = synthetic_omniglot.zip("evaluation")
    good = load_set(source, "evaluation")
    folder = private_user_folders["cache"] / "omniglot"
    (cache_file,) = folder.glob("evaluation-*.npz")
    elsewhere = tmp_path / "shared_cache"
    folder.rename(elsewhere)
    folder.symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / cache_file.name).write_bytes(b"not an npz file")
    monkeypatch.setattr("engine.data.omniglot._write_cache", lambda *a: (_ for _ in ()).throw(OSError("read-only")))
    with pytest.warns(UserWarning, match="Could not write"):
        again = load_set(source, "evaluation")
    assert_same_set(good, again)
    assert (elsewhere / cache_file.name).read_bytes() == b"not an npz file"  # left where it is


# --- damaged or unusual copies ---------------------------------------------------------------------------------------


def test_stray_files_are_skipped_with_a_warning(synthetic_omniglot, tmp_path):
    folder = copy_folder(synthetic_omniglot, tmp_path)
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    char_dir = first_png(folder).parent
    (char_dir / "Thumbs.db").write_bytes(b"junk")
    (char_dir.parent / "notes.txt").write_text("my notes")
    with pytest.warns(UserWarning, match=r"Skipped 3 file\(s\)"):
        data = load_set(folder, "background", cache=False)
    assert_same_set(data, load_set(synthetic_omniglot.folder("background"), "background", cache=False))


def test_stray_entries_in_an_archive_are_skipped_with_a_warning(synthetic_omniglot, tmp_path):
    archive = tmp_path / "images_background.zip"
    shutil.copyfile(synthetic_omniglot.zip("background"), archive)
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("__MACOSX/images_background/._Bengali", b"mac resource fork")
        zf.writestr("images_background/Bengali/character01/.DS_Store", b"junk")
        zf.writestr("images_background/README.txt", b"hello")
    with pytest.warns(UserWarning, match=r"Skipped 3 file\(s\)"):
        data = load_set(archive, "background", cache=False)
    assert_same_set(data, load_set(synthetic_omniglot.zip("background"), "background", cache=False))


def test_an_empty_folder_is_a_data_error(tmp_path):
    folder = tmp_path / "images_background"
    folder.mkdir()
    with pytest.raises(DataError, match="No Omniglot images") as err:
        load_set(folder, "background", cache=False)
    assert str(folder) in str(err.value)
    # Also through the normal entry point: the empty folder is found, then refused.
    with pytest.raises(DataError, match=str(folder)):
        load_omniglot(tmp_path, with_evaluation=False)


def test_a_truncated_archive_is_a_data_error_naming_it(synthetic_omniglot, tmp_path):
    archive = tmp_path / "images_background.zip"
    data = synthetic_omniglot.zip("background").read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated") as err:
        load_set(archive, "background")
    assert str(archive) in str(err.value)


@pytest.mark.parametrize("damage", ["bad block type", "scrambled data"])
def test_an_archive_with_a_damaged_member_is_a_data_error(synthetic_omniglot, tmp_path, damage):
    archive = tmp_path / "images_background.zip"
    shutil.copyfile(synthetic_omniglot.zip("background"), archive)
    with zipfile.ZipFile(archive) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(".png") and i.compress_size > 64)
    assert info.compress_type == zipfile.ZIP_DEFLATED
    # Damage that member's compressed data (the central directory stays intact, so the zip still opens).
    raw = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    if damage == "bad block type":
        raw[start] = 0b111  # final block of the reserved type 3: the decompressor fails (zlib.error)
    else:
        raw[start + 8:start + 32] = bytes(range(24))  # decompresses to wrong bytes: bad CRC
    archive.write_bytes(bytes(raw))
    with pytest.raises(DataError) as err:
        load_set(archive, "background", cache=False)
    assert str(archive) in str(err.value)


def test_a_file_that_is_not_a_zip_is_a_data_error(tmp_path):
    archive = tmp_path / "images_background.zip"
    archive.write_text("<html>404 Not Found</html>")
    with pytest.raises(DataError, match="not a readable zip"):
        load_omniglot(tmp_path, with_evaluation=False)


@pytest.mark.parametrize("form", ["folder", "zip"])
def test_a_wrong_image_size_is_a_data_error_naming_the_file(synthetic_omniglot, tmp_path, form):
    folder = copy_folder(synthetic_omniglot, tmp_path / "src")
    bad = sorted(folder.rglob("*.png"))[37]
    small = np.zeros((100, 100), np.uint8)
    small[20:80, 45:50] = 1
    bad.write_bytes(png_bytes(small))
    source = folder if form == "folder" else shutil.make_archive(
        str(tmp_path / "images_background"), "zip", tmp_path / "src", "images_background")
    with pytest.raises(DataError, match="100x100, expected 105x105") as err:
        load_set(Path(source), "background", cache=False)
    assert bad.name in str(err.value) and bad.parent.name in str(err.value)


@pytest.mark.parametrize("form", ["folder", "zip"])
def test_a_corrupt_png_is_a_data_error_naming_the_file(synthetic_omniglot, tmp_path, form):
    folder = copy_folder(synthetic_omniglot, tmp_path / "src")
    bad = sorted(folder.rglob("*.png"))[101]
    bad.write_bytes(bad.read_bytes()[:40])  # a PNG cut short
    source = folder if form == "folder" else shutil.make_archive(
        str(tmp_path / "images_background"), "zip", tmp_path / "src", "images_background")
    with pytest.raises(DataError, match="Cannot decode image") as err:
        load_set(Path(source), "background", cache=False)
    assert bad.name in str(err.value)


# --- finding the data ------------------------------------------------------------------------------------------------


def test_dataset_missing_names_the_files_and_the_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("OMNIGLOT_DIR", raising=False)
    with pytest.raises(DatasetMissing) as err:
        find_sources(tmp_path)
    message = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    assert "images_background.zip" in message and "images_evaluation.zip" in message
    assert str(tmp_path) in message and "OMNIGLOT_DIR" in message and "data download" in message


def test_dataset_missing_names_only_what_is_missing(synthetic_omniglot, tmp_path):
    shutil.copyfile(synthetic_omniglot.zip("background"), tmp_path / "images_background.zip")
    with pytest.raises(DatasetMissing) as err:
        load_omniglot(tmp_path)
    assert "images_evaluation.zip" in str(err.value) and "images_background" not in str(err.value)
    # Training needs only the background set.
    data = load_omniglot(tmp_path, with_evaluation=False, cache=False)
    assert data.evaluation is None and len(data.background) == synthetic_omniglot.n_images("background")


def test_resolve_order_is_explicit_then_environment_then_user_folder(tmp_path, monkeypatch, private_user_folders):
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    monkeypatch.setenv("OMNIGLOT_DIR", str(env))
    assert resolve_data_dir(explicit) == explicit
    assert resolve_data_dir(str(explicit)) == explicit
    assert resolve_data_dir() == env
    monkeypatch.delenv("OMNIGLOT_DIR")
    assert resolve_data_dir() == private_user_folders["data"] / "omniglot"


def test_find_sources_follows_the_resolve_order(synthetic_omniglot, tmp_path, monkeypatch, private_user_folders):
    user = private_user_folders["data"] / "omniglot"
    user.mkdir(parents=True)
    for name in ("background", "evaluation"):
        shutil.copyfile(synthetic_omniglot.zip(name), user / f"images_{name}.zip")
    monkeypatch.delenv("OMNIGLOT_DIR", raising=False)
    assert find_sources()["background"] == user / "images_background.zip"
    monkeypatch.setenv("OMNIGLOT_DIR", str(synthetic_omniglot.folder_dir))
    assert find_sources()["background"] == synthetic_omniglot.folder("background")
    assert find_sources(synthetic_omniglot.zip_dir)["evaluation"] == synthetic_omniglot.zip("evaluation")
    monkeypatch.setenv("OMNIGLOT_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetMissing, match="nowhere"):
        find_sources()


def test_find_sources_accepts_the_set_folder_itself_and_a_nested_omniglot_folder(synthetic_omniglot, tmp_path):
    assert find_sources(synthetic_omniglot.folder("evaluation"), ("evaluation",)) == {
        "evaluation": synthetic_omniglot.folder("evaluation")}
    nested = tmp_path / "omniglot"
    nested.mkdir()
    shutil.copyfile(synthetic_omniglot.zip("background"), nested / "images_background.zip")
    assert find_sources(tmp_path, ("background",))["background"] == nested / "images_background.zip"


# --- download (from local file:// URLs: no network in tests) ----------------------------------------------------------


def md5_of(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def local_archives(synthetic_omniglot, synthetic_runs, monkeypatch):
    """Make download_omniglot fetch the synthetic zips and runs through file:// URLs, with their real md5."""
    table = {n: (synthetic_omniglot.zip(n).as_uri(), md5_of(synthetic_omniglot.zip(n)))
             for n in ("background", "evaluation")}
    monkeypatch.setattr(locate, "official_archives", lambda: dict(table))
    monkeypatch.setattr(locate, "official_runs_archive", lambda: (synthetic_runs.zip.as_uri(),
                                                                  md5_of(synthetic_runs.zip)))
    return table


def test_download_fetches_checks_and_reports_progress(synthetic_omniglot, synthetic_runs, local_archives, tmp_path):
    seen: dict[str, tuple[int, int]] = {}
    paths = download_omniglot(tmp_path / "dl", progress=lambda f, done, total: seen.__setitem__(f, (done, total)))
    for name in ("background", "evaluation"):
        assert paths[name] == tmp_path / "dl" / f"images_{name}.zip"
        assert paths[name].read_bytes() == synthetic_omniglot.zip(name).read_bytes()
        size = synthetic_omniglot.zip(name).stat().st_size
        assert seen[f"images_{name}.zip"] == (size, size)
    # Lake's official one-shot runs come too, beside the archives, where `evaluate --runs` looks for them.
    assert paths["runs"] == tmp_path / "dl" / "all_runs.zip" == find_runs(tmp_path / "dl")
    assert paths["runs"].read_bytes() == synthetic_runs.zip.read_bytes()
    assert seen["all_runs.zip"][0] == synthetic_runs.zip.stat().st_size
    assert load_omniglot(tmp_path / "dl", cache=False).background.summary().startswith("background: 4 alphabets")
    # Archives already there are not fetched again.
    seen.clear()
    download_omniglot(tmp_path / "dl", progress=lambda f, d, t: seen.__setitem__(f, (d, t)))
    assert seen == {}


def test_a_damaged_download_keeps_nothing(local_archives, tmp_path, monkeypatch):
    table = {n: (url, "0" * 32) for n, (url, _) in local_archives.items()}
    monkeypatch.setattr(locate, "official_archives", lambda: table)
    with pytest.raises(OSError, match="damaged"):
        download_omniglot(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_cancelled_download_keeps_nothing(local_archives, tmp_path):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(DownloadCancelled):
        download_omniglot(tmp_path, cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def test_data_download_then_info_name_the_official_runs(local_archives, tmp_path, capsys):
    from engine.cli import main

    assert main(["data", "download", "--data-dir", str(tmp_path / "dl")]) == 0
    err = capsys.readouterr().err
    assert f"official one-shot runs: {tmp_path / 'dl' / 'all_runs.zip'}" in err
    (tmp_path / "dl" / "all_runs.zip").unlink()
    assert main(["data", "info", "--data-dir", str(tmp_path / "dl")]) == 0
    assert "official one-shot runs: not found" in capsys.readouterr().err


def test_a_damaged_runs_download_keeps_the_image_archives_only(local_archives, synthetic_runs, tmp_path,
                                                               monkeypatch):
    monkeypatch.setattr(locate, "official_runs_archive", lambda: (synthetic_runs.zip.as_uri(), "0" * 32))
    with pytest.raises(OSError, match="all_runs.zip arrived damaged"):
        download_omniglot(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images_background.zip", "images_evaluation.zip"]


def test_the_official_runs_url_and_md5_are_upstreams():
    url, md5 = locate.official_runs_archive()
    assert url.endswith("brendenlake/omniglot/master/python/one-shot-classification/all_runs.zip")
    assert md5 == "e8996daecdf12afeeb4a53a179f06b19"


@pytest.mark.parametrize("where", ["all_runs.zip", "all_runs", "omniglot/all_runs.zip"])
def test_runs_are_found_beside_the_archives(synthetic_runs, tmp_path, where):
    assert find_runs(tmp_path) is None
    target = tmp_path / where
    target.parent.mkdir(parents=True, exist_ok=True)
    if where.endswith(".zip"):
        shutil.copyfile(synthetic_runs.zip, target)
    else:
        shutil.copytree(synthetic_runs.folder, target)
    assert find_runs(tmp_path) == target


def test_an_unreachable_server_is_a_readable_os_error(local_archives, tmp_path, monkeypatch):
    missing = (tmp_path / "no-such-file.zip").as_uri()
    monkeypatch.setattr(locate, "official_archives", lambda: {"background": (missing, "0" * 32)})
    with pytest.raises(OSError, match="Could not download .*Are you online"):
        download_omniglot(tmp_path / "dl")


# --- the real dataset -------------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_omniglot_has_the_published_sizes(real_omniglot):
    bg, ev = real_omniglot.background, real_omniglot.evaluation
    assert (len(bg.alphabets), bg.n_characters, len(bg)) == (30, 964, 19280)
    assert (len(ev.alphabets), ev.n_characters, len(ev)) == (20, 659, 13180)
    assert not set(bg.alphabets) & set(ev.alphabets)
    for s in (bg, ev):
        assert np.array_equal(np.bincount(s.char), np.full(s.n_characters, 20))
        assert set(np.unique(s.drawer).tolist()) == set(range(1, 21))
    ink = bg.pixels(np.arange(0, len(bg), 97)).mean()
    assert 0.02 < ink < 0.2, f"ink fraction {ink:.3f}: ink and background may be swapped"
