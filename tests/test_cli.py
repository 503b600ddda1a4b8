"""The command line, as a user runs it: train, resume, evaluate (--json), data info, embed, errors.

Most tests call `engine.cli.main([...])` in-process (fast); one smoke test runs `python -m engine` for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.paths import REPO_ROOT
from engine.train.checkpoint import load_checkpoint
from engine.weights import load_weights

SMALL_TRAIN = ["--preset", "tiny", "--alphabets", "2", "--characters", "3", "--drawers", "2", "--val-alphabets", "1",
               "--val-tasks", "3", "--device", "cpu", "--quiet"]


def last_json_line(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, "nothing on stdout"
    return json.loads(lines[-1])


@pytest.fixture(scope="module")
def trained_run(synthetic_omniglot, tmp_path_factory) -> Path:
    """A 4-step `tiny` run on the synthetic zips, made through the command line (shared by the tests below)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    code = main(["train", *SMALL_TRAIN, "--steps", "4", "--val-every", "2", "--checkpoint-every", "2",
                 "--out", str(out), "--data-dir", str(synthetic_omniglot.zip_dir),
                 "--export", str(out.parent / "exported" / "model.safetensors")])
    assert code == 0
    return out


def test_train_writes_a_run_and_exports_the_best_weights(trained_run):
    for name in ("checkpoint.pt", "best.safetensors", "last.safetensors", "log.jsonl"):
        assert (trained_run / name).is_file(), name
    assert load_checkpoint(trained_run)["step"] == 4
    exported = trained_run.parent / "exported" / "model.safetensors"
    assert exported.read_bytes() == (trained_run / "best.safetensors").read_bytes()
    assert exported.with_suffix(".json").is_file()
    loaded = load_weights(exported)
    assert loaded.model.config.preset == "tiny"
    card = loaded.card
    assert card["training"]["batch"] == {"alphabets": 2, "characters": 3, "drawers": 2, "class_rotations": False}
    assert card["training"]["steps"] == 4 and len(card["split"]["val_alphabets"]) == 1


def test_train_resume_continues_the_run(trained_run, synthetic_omniglot, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    for f in trained_run.iterdir():
        (run / f.name).write_bytes(f.read_bytes())
    data_dir = str(synthetic_omniglot.zip_dir)
    # Without --resume an existing run is never overwritten.
    assert main(["train", *SMALL_TRAIN, "--steps", "6", "--out", str(run), "--data-dir", data_dir]) == 1
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", "--resume", "--steps", "6", "--out", str(run), "--data-dir", data_dir, "--device", "cpu",
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "Resuming" in err and "from step 4" in err and "at step 6" in err
    assert "Training tiny" in err  # the run's own preset, not the --preset default
    state = load_checkpoint(run)
    assert state["step"] == 6 and state["config"]["preset"] == "tiny"
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "step"] == [4, 6]  # every 10 steps, and at the end
    assert [r["step"] for r in rows if r["kind"] == "val"] == [2, 4, 6]


def test_evaluate_ends_with_a_json_line(trained_run, synthetic_omniglot, capsys):
    code = main(["evaluate", "--weights", str(trained_run / "best.safetensors"), "--data-dir",
                 str(synthetic_omniglot.zip_dir), "--json", "--way", "5", "--tasks", "10", "--device", "cpu",
                 "--quiet"])
    assert code == 0
    captured = capsys.readouterr()
    result = last_json_line(captured.out)
    assert 0.0 <= result["accuracy"] <= 1.0
    assert result["n_trials"] == 50 and result["way"] == 5 and result["split"] == "evaluation"
    assert result["ci95"] >= 0 and set(result["per_alphabet"]) == set(synthetic_omniglot.alphabets["evaluation"])
    assert "5-way 1-shot" in captured.err  # the readable report goes to stderr


def test_evaluate_the_shipped_model_on_validation_alphabets(synthetic_omniglot, capsys):
    code = main(["evaluate", "--split", "validation", "--val-alphabets", "1", "--data-dir",
                 str(synthetic_omniglot.zip_dir), "--json", "--way", "5", "--tasks", "3", "--device", "cpu", "--quiet"])
    assert code == 0
    result = last_json_line(capsys.readouterr().out)
    assert result["split"] == "validation" and result["n_trials"] == 15
    assert len(result["per_alphabet"]) == 1 and Path(result["weights"]).name == "glyphs-default.safetensors"
    assert set(result["per_alphabet"]) <= set(synthetic_omniglot.alphabets["background"])


def test_data_info_summarises_the_sets(synthetic_omniglot, capsys):
    assert main(["data", "info", "--data-dir", str(synthetic_omniglot.zip_dir)]) == 0
    err = capsys.readouterr().err
    assert "background: 4 alphabets, 24 characters, 480 images" in err
    assert "evaluation: 2 alphabets, 12 characters, 240 images" in err


def test_embed_writes_one_row_per_image(trained_run, synthetic_omniglot, tmp_path, capsys):
    pngs = sorted(synthetic_omniglot.folder("evaluation").rglob("*.png"))[:3]
    out = tmp_path / "emb.npy"
    assert main(["embed", *map(str, pngs), "--out", str(out), "--weights", str(trained_run / "best.safetensors"),
                 "--device", "cpu"]) == 0
    emb = np.load(out)
    assert emb.shape == (3, 256) and np.isfinite(emb).all()


def test_embed_gives_the_embeddings_rank_and_the_app_use(tmp_path):
    from PIL import Image

    from engine.gallery import Gallery, read_glyph
    from engine.recognition.recognize import Recognizer

    ink = np.zeros((105, 105), bool)
    ink[20:70, 25:31] = ink[64:70, 25:61] = True  # an "L", and the same drawn 12 px lower and further right
    paths = [tmp_path / "ell.png", tmp_path / "moved.png"]
    for path, shift in zip(paths, (0, 12)):
        Image.fromarray(np.where(np.roll(ink, (shift, shift), axis=(0, 1)), 0, 255).astype(np.uint8)).save(path)
    out = tmp_path / "emb.npy"
    assert main(["embed", *map(str, paths), "--out", str(out), "--device", "cpu"]) == 0  # the shipped model
    emb = np.load(out)
    rec = Recognizer(load_weights(), Gallery.in_memory("none"))
    as_ranked = rec.embed_queries(np.stack([read_glyph(p).pixels for p in paths]))[:, 0].numpy()
    np.testing.assert_allclose(emb, as_ranked, atol=1e-4)
    np.testing.assert_allclose(emb[0], emb[1], atol=1e-4)  # the card centres the ink: where it sits is gone
    assert main(["embed", *map(str, paths), "--out", str(out), "--device", "cpu", "--no-center"]) == 0
    plain = np.load(out)
    assert np.abs(plain[0] - plain[1]).max() > 0.05


@pytest.mark.parametrize("command", [["data", "info"], ["evaluate", "--way", "5", "--json"],
                                     ["train", "--preset", "tiny", "--steps", "1"]])
def test_a_missing_dataset_exits_1_with_a_readable_message(command, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OMNIGLOT_DIR", raising=False)
    empty = tmp_path / "no-data"
    empty.mkdir()
    code = main([*command, "--data-dir", str(empty), *(["--out", str(tmp_path / "run")] if "train" in command else [])])
    assert code == 1
    captured = capsys.readouterr()
    assert "images_background.zip" in captured.err or "images_evaluation.zip" in captured.err
    assert str(empty) in captured.err and "Traceback" not in captured.err
    assert captured.out == ""  # nothing half-written for scripts reading --json output


def test_damaged_inputs_exit_1(synthetic_omniglot, tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\0" * 100)
    assert main(["evaluate", "--weights", str(bad), "--data-dir", str(synthetic_omniglot.zip_dir)]) == 1
    assert "error:" in capsys.readouterr().err
    (tmp_path / "images_background.zip").write_bytes(b"truncated")
    assert main(["train", "--preset", "tiny", "--data-dir", str(tmp_path), "--out", str(tmp_path / "run")]) == 1
    assert "not a readable zip" in capsys.readouterr().err
    assert main(["train", "--resume", "--out", str(tmp_path / "nothing-here")]) == 1
    assert "No checkpoint" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--preset", "no-such-preset"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


def test_python_m_engine_smoke(tmp_path):
    """The real entry point, in a fresh process: --help, and a clean exit code 1 when the data is missing."""
    env = {**os.environ, "OMNIGLOT_DIR": str(tmp_path / "nowhere"), "PYTHONPATH": str(REPO_ROOT)}
    help_run = subprocess.run([sys.executable, "-m", "engine", "--help"], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)
    assert help_run.returncode == 0, help_run.stderr
    for command in ("train", "evaluate", "embed", "data"):
        assert command in help_run.stdout
    missing = subprocess.run([sys.executable, "-m", "engine", "data", "info"], capture_output=True, text=True,
                             env=env, cwd=tmp_path, timeout=120)
    assert missing.returncode == 1
    assert "images_background.zip" in missing.stderr and "Traceback" not in missing.stderr


def test_validation_split_comes_from_the_model_card():
    """evaluate --split validation scores a model on its own held-out alphabets, never ones it trained on."""
    from engine.data import validation_split_of

    card = {"split": {"val_alphabets": ["Latin", "Futurama"]}}
    assert validation_split_of(card, None).val_names == ("Latin", "Futurama")
    assert validation_split_of({}, 3).val_alphabets == 3 and validation_split_of({}, 3).val_names == ()
    assert validation_split_of(None).val_names == ()


def test_evaluate_states_the_views_it_scored_with(trained_run, synthetic_omniglot, capsys):
    args = ["evaluate", "--weights", str(trained_run / "best.safetensors"), "--data-dir",
            str(synthetic_omniglot.zip_dir), "--json", "--way", "5", "--tasks", "4", "--device", "cpu", "--quiet"]
    assert main([*args, "--reference-views", "3", "--query-views", "2", "--view-rule", "prototype", "--center"]) == 0
    captured = capsys.readouterr()
    views = last_json_line(captured.out)["views"]
    assert (views["reference_views"], views["query_views"], views["rule"], views["center"]) == (3, 2, "prototype", True)
    assert "3 reference views (prototype), 2 query views, ink centred" in captured.err
    assert main([*args]) == 0  # the card names none: the plain pipeline
    views = last_json_line(capsys.readouterr().out)["views"]
    assert views["reference_views"] == 0 and not views["center"]


def test_evaluate_runs_at_a_missing_path_says_no_such_file(tmp_path, capsys):
    missing = tmp_path / "missing.zip"
    assert main(["evaluate", "--runs", str(missing), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert f"{missing}: no such file or folder" in err and "runNN" not in err and "Traceback" not in err
