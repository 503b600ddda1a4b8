"""Lake's official one-shot runs: read from a zip (in memory) or a folder, damaged and hostile copies refused with a
clear message, `python -m engine evaluate --runs [PATH]`, and the real runs when OMNIGLOT_DIR is set."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest

from engine.cli import main
from engine.evaluation.official_runs import RunResult, RunsError, RunsMissing, RunsSummary, read_runs


def same_runs(a, b) -> bool:
    return [r.name for r in a.runs] == [r.name for r in b.runs] and all(
        np.array_equal(x.references, y.references) and np.array_equal(x.tests, y.tests)
        and np.array_equal(x.answers, y.answers) for x, y in zip(a.runs, b.runs))


def test_zip_folder_and_omniglot_folder_read_the_same_runs(synthetic_runs, synthetic_omniglot):
    from_zip, from_folder = read_runs(synthetic_runs.zip), read_runs(synthetic_runs.folder)
    beside = read_runs(synthetic_runs.omniglot_dir)  # the folder holding all_runs.zip
    assert beside.source == synthetic_runs.zip
    assert same_runs(from_zip, from_folder) and same_runs(from_zip, beside)
    run = from_zip.runs[0]
    assert run.name == "run01" and run.references.shape == (5, 105, 105) and run.tests.shape == (5, 105, 105)
    assert sorted(run.answers.tolist()) == list(range(5))  # each class is tested once
    # Test item t is a drawing of its labelled class: drawer 2's ink of that character.
    item = int(run.test_names[0].split("item")[1][:2]) - 1
    character = f"character{run.answers[item] + 1:02d}"
    expected = synthetic_omniglot.ink["evaluation"][(synthetic_omniglot.alphabets["evaluation"][0], character, 2)]
    np.testing.assert_array_equal(run.tests[item], expected.astype(np.float32))
    assert not from_zip.official  # not Lake's labels


def test_a_zip_without_a_top_folder_is_read_too(synthetic_runs, tmp_path):
    flat = tmp_path / "flat.zip"
    with zipfile.ZipFile(synthetic_runs.zip) as src, zipfile.ZipFile(flat, "w") as dst:
        for info in src.infolist():
            if not info.is_dir():
                dst.writestr(info.filename.removeprefix("all_runs/"), src.read(info))
    assert same_runs(read_runs(flat), read_runs(synthetic_runs.zip))


@pytest.mark.parametrize("content, message", [
    (b"", "not a readable zip"),
    (b"PK\x03\x04 truncated", "not a readable zip"),
    (None, "No runNN/class_labels.txt"),  # a valid, empty zip
])
def test_a_damaged_or_empty_zip_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "all_runs.zip"
    if content is None:
        zipfile.ZipFile(path, "w").close()
    else:
        path.write_bytes(content)
    with pytest.raises((RunsError, RunsMissing), match=message):
        read_runs(path)


def test_a_truncated_copy_of_the_runs_zip_is_a_clear_error(synthetic_runs, tmp_path):
    path = tmp_path / "all_runs.zip"
    path.write_bytes(synthetic_runs.zip.read_bytes()[: synthetic_runs.zip.stat().st_size // 2])
    with pytest.raises(RunsError, match="not a readable zip"):
        read_runs(path)


def rewrite_zip(source, target, change) -> None:
    """Copy zip `source` to `target`, passing each (name, bytes) through `change` (None drops it)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            if not info.is_dir() and (item := change(info.filename, src.read(info))) is not None:
                dst.writestr(*item)


def test_labels_cannot_reach_outside_their_run(synthetic_runs, tmp_path):
    """A labels file naming ../ paths, or another run's files, is refused: nothing outside the run is read."""
    (tmp_path / "secret.png").write_bytes((synthetic_runs.folder / "run01/test/item01.png").read_bytes())
    hostile = tmp_path / "hostile.zip"
    rewrite_zip(synthetic_runs.zip, hostile, lambda name, data: (name, data.replace(
        b"run01/test/item01.png", b"run01/../../secret.png")) if name.endswith("run01/class_labels.txt")
        else (name, data))
    with pytest.raises(RunsError, match="line 1"):
        read_runs(hostile)
    folder = tmp_path / "runs"
    shutil.copytree(synthetic_runs.folder, folder)
    labels = folder / "run02" / "class_labels.txt"
    labels.write_text(labels.read_text().replace("run02/test/item01.png", "run01/test/item01.png", 1))
    with pytest.raises(RunsError, match="should read"):
        read_runs(folder)


def test_members_outside_the_runs_folder_are_ignored(synthetic_runs, tmp_path):
    path = tmp_path / "extra.zip"
    rewrite_zip(synthetic_runs.zip, path, lambda name, data: (name, data))
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("../escape.txt", b"x")
        zf.writestr("all_runs/../../escape.png", b"x")
    assert same_runs(read_runs(path), read_runs(synthetic_runs.zip))


def test_a_missing_image_or_class_is_named(synthetic_runs, tmp_path):
    path = tmp_path / "missing.zip"
    rewrite_zip(synthetic_runs.zip, path, lambda name, data: None if name.endswith("run02/test/item03.png")
                else (name, data))
    with pytest.raises(RunsError, match="run02/test/item03.png, which is missing"):
        read_runs(path)
    broken = tmp_path / "broken.zip"
    rewrite_zip(synthetic_runs.zip, broken, lambda name, data: (name, b"not a png" if name.endswith("class02.png")
                                                                 else data))
    with pytest.raises(RunsError, match="Cannot read image .*class02.png"):
        read_runs(broken)


def test_summary_counts_trials_and_states_the_protocol(synthetic_runs):
    runs = read_runs(synthetic_runs.zip)
    first, second = runs.runs
    two_wrong = (second.answers + np.array([1, 1, 0, 0, 0])) % 5  # the first two items answered wrongly
    summary = RunsSummary.of([RunResult.of(first, first.answers), RunResult.of(second, two_wrong)], runs)
    assert summary.n_trials == 10 and summary.accuracy == pytest.approx(0.8)
    assert summary.mean_error == pytest.approx(0.2)
    assert summary.ci95 == pytest.approx(1.96 * (0.8 * 0.2 / 10) ** 0.5)
    assert summary.runs[1].wrong == [(0, int(two_wrong[0]), int(second.answers[0])),
                                     (1, int(two_wrong[1]), int(second.answers[1]))]
    d = json.loads(json.dumps(summary.to_dict()))
    assert d["protocol"] == "runs_format" and d["official"] is False and d["way"] == 5 and d["shot"] == 1
    assert d["runs"] == {"run01": 0.0, "run02": 0.4} and d["source"] == str(synthetic_runs.zip)


# --- the command line -------------------------------------------------------------------------------------------------


def last_json_line(stdout: str) -> dict:
    return json.loads([line for line in stdout.splitlines() if line.strip()][-1])


@pytest.mark.parametrize("form", ["zip", "folder", "located"])
def test_evaluate_runs_from_a_zip_a_folder_or_the_omniglot_folder(synthetic_runs, tiny_weights, capsys, form):
    where = {"zip": ["--runs", str(synthetic_runs.zip)], "folder": ["--runs", str(synthetic_runs.folder)],
             "located": ["--runs", "--data-dir", str(synthetic_runs.omniglot_dir)]}[form]
    assert main(["evaluate", "--weights", str(tiny_weights), *where, "--json", "--quiet", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    result = last_json_line(captured.out)
    assert set(result["runs"]) == {"run01", "run02"} and all(0 <= e <= 1 for e in result["runs"].values())
    assert result["n_trials"] == 10 and result["n_runs"] == 2 and 0 <= result["accuracy"] <= 1
    assert result["mean_error"] == pytest.approx(1 - result["accuracy"])
    assert result["official"] is False and result["source"].endswith("all_runs.zip" if form != "folder" else "all_runs")
    assert "run01: error" in captured.err and "accuracy" in captured.err
    assert "Bayesian Program Learning" not in captured.err  # published figures go beside Lake's runs only


def test_official_flag_without_runs_says_how_to_get_them(synthetic_omniglot, tiny_weights, capsys):
    assert main(["evaluate", "--weights", str(tiny_weights), "--official", "--data-dir",
                 str(synthetic_omniglot.zip_dir), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "all_runs.zip" in err and "data download" in err


def test_evaluate_a_damaged_runs_zip_exits_1(tiny_weights, tmp_path, capsys):
    bad = tmp_path / "all_runs.zip"
    bad.write_bytes(b"PK\x03\x04 not really")
    assert main(["evaluate", "--weights", str(tiny_weights), "--runs", str(bad), "--quiet"]) == 1
    assert "not a readable zip" in capsys.readouterr().err


# --- the real runs --------------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_lakes_runs_are_recognised_as_official(real_omniglot_dir, capsys):
    runs = read_runs(real_omniglot_dir / "all_runs.zip")
    assert runs.official and len(runs.runs) == 20
    for run in runs.runs:
        assert run.references.shape == (20, 105, 105) and run.tests.shape == (20, 105, 105)
        assert sorted(run.answers.tolist()) == list(range(20))
        ink = run.tests.mean()
        assert 0.02 < ink < 0.2, f"{run.name}: ink fraction {ink:.3f}: ink and background may be swapped"
    # The shipped model on Lake's runs, as the README reports it: far above chance (5%), published figures beside it.
    assert main(["evaluate", "--runs", "--data-dir", str(real_omniglot_dir), "--json", "--quiet"]) == 0
    captured = capsys.readouterr()
    result = last_json_line(captured.out)
    assert result["official"] and result["n_trials"] == 400 and result["accuracy"] > 0.8
    assert "Bayesian Program Learning" in captured.err


def test_evaluate_runs_states_its_views(synthetic_runs, tiny_weights, capsys):
    assert main(["evaluate", "--weights", str(tiny_weights), "--runs", str(synthetic_runs.zip), "--json", "--quiet",
                 "--device", "cpu", "--reference-views", "2"]) == 0
    assert last_json_line(capsys.readouterr().out)["views"]["reference_views"] == 2
