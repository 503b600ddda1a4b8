"""Continuing a run refuses a checkpoint that does not belong to it or is not sound: another preset's, diverged
(NaN), or with a crafted field. Each refusal names the file and what is wrong, shows no traceback, and leaves every
file of the run as it was. Checkpoints are crafted with torch.save, as a person (or a bug) could write them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from engine.cli import main
from engine.train import Trainer
from engine.train.checkpoint import CheckpointError, load_checkpoint
from engine.train.run_folder import RunFolder

from synthetic import small_train_config


def train(data, folder: Path, **overrides) -> Path:
    """Train a 2-step run into `folder` (checkpoint, last weights, log); return the folder."""
    Trainer(small_train_config(steps=2, **overrides), data, folder).run()
    return folder


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def raw(folder: Path) -> dict:
    """Return the checkpoint as torch.save wrote it (JSON fields still text)."""
    return torch.load(folder / "checkpoint.pt", weights_only=True)


def write_raw(folder: Path, state: dict) -> None:
    torch.save(state, folder / "checkpoint.pt")


def resume_on_the_command_line(folder: Path, capsys, *extra: str, data_dir: Path | None = None) -> str:
    """Run `train --resume` on `folder`; assert it is refused (exit 1, no traceback); return its stderr."""
    args = ["train", "--resume", "--out", str(folder), "--device", "cpu", "--quiet", *extra]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# --- a checkpoint of another run -------------------------------------------------------------------------------------


def test_another_presets_checkpoint_in_a_run_folder_is_refused_and_nothing_changes(synthetic_data, micro_preset,
                                                                                    tmp_path, capsys):
    run = train(synthetic_data.background, tmp_path / "micro-run")
    other = train(synthetic_data.background, tmp_path / "micro105-run", preset="micro105")
    shutil.copyfile(other / "checkpoint.pt", run / "checkpoint.pt")  # the other run's checkpoint, copied in
    before = files_of(run)

    err = resume_on_the_command_line(run, capsys)
    assert str(run / "checkpoint.pt") in err
    assert "preset micro105" in err and "preset micro" in err and "last.safetensors" in err
    assert "another run" in err and "another folder" in err  # what it is, and what to do
    assert files_of(run) == before
    with pytest.raises(CheckpointError, match="belongs to another run"):
        RunFolder(run).read_checkpoint()


def test_resume_with_another_preset_asked_for_is_refused(synthetic_data, micro_preset, tmp_path, capsys):
    run = train(synthetic_data.background, tmp_path / "run")
    before = files_of(run)
    err = resume_on_the_command_line(run, capsys, "--preset", "tiny")
    assert "micro run, not tiny" in err and "Resume without --preset" in err
    assert files_of(run) == before


def test_tensors_of_another_network_are_refused_before_anything_is_written(synthetic_data, micro_preset, tmp_path,
                                                                             synthetic_omniglot, capsys):
    # A checkpoint whose description says micro105 but whose tensors are micro's: alone in its folder, so only
    # the shapes can tell.
    source = train(synthetic_data.background, tmp_path / "source")
    run = tmp_path / "run"
    run.mkdir()
    state = raw(source)
    state["config"] = json.dumps({**json.loads(state["config"]), "preset": "micro105"})
    state["extra"] = json.dumps({"model_config": {"preset": "micro105", "input_size": 105, "kind": "vgg",
                                                  "widths": [4, 8], "embedding_dim": 16, "head": "monotone"}})
    write_raw(run, state)
    before = files_of(run)
    with pytest.raises(CheckpointError, match="another network") as refused:
        Trainer(small_train_config(steps=4), synthetic_data.background, run,
                checkpoint=RunFolder(run).read_checkpoint())
    message = str(refused.value)
    assert str(run / "checkpoint.pt") in message and "instead of" in message and "preset micro105" in message
    assert files_of(run) == before  # no log.jsonl, no weights

    err = resume_on_the_command_line(run, capsys, data_dir=synthetic_omniglot.zip_dir)
    assert "another network" in err and files_of(run) == before


def test_optimizer_moments_of_another_shape_are_refused(synthetic_data, micro_preset, tmp_path):
    run = train(synthetic_data.background, tmp_path / "run")
    state = raw(run)
    moments = state["optimizer"]["state"][0]
    moments["exp_avg"] = torch.zeros(3, 3)
    write_raw(run, state)
    before = files_of(run)
    with pytest.raises(CheckpointError, match=r"optimizer exp_avg of parameter 0 \(3, 3\) instead of"):
        Trainer(small_train_config(steps=4), synthetic_data.background, run,
                checkpoint=RunFolder(run).read_checkpoint())
    assert files_of(run) == before


# --- a diverged checkpoint -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["model", "optimizer"])
def test_a_checkpoint_with_non_finite_values_is_refused(synthetic_data, micro_preset, tmp_path, capsys, where):
    run = train(synthetic_data.background, tmp_path / "run")
    state = raw(run)
    if where == "model":
        name = next(k for k, v in state["model"].items() if v.is_floating_point())
        state["model"][name] = torch.full_like(state["model"][name], float("nan"))
    else:
        state["optimizer"]["state"][0]["exp_avg_sq"][...] = float("inf")
    write_raw(run, state)
    before = files_of(run)
    err = resume_on_the_command_line(run, capsys)
    assert str(run / "checkpoint.pt") in err and "NaN or infinite" in err
    assert ("model weights" if where == "model" else "optimizer state") in err
    assert "Start a new run" in err
    assert files_of(run) == before


# --- every field checked ---------------------------------------------------------------------------------------------


def _unknown_model_key(state):
    extra = json.loads(state["extra"])
    extra["model_config"]["colour"] = "blue"
    state["extra"] = json.dumps(extra)


def _config_field(key, value):
    def craft(state):
        state["config"] = json.dumps({**json.loads(state["config"]), key: value})
    return craft


def _history(value):
    def craft(state):
        state["history"] = json.dumps(value)
    return craft


def _set(key, value):
    def craft(state):
        state[key] = value
    return craft


CRAFTED = {
    "unknown model_config key": (_unknown_model_key, "unknown keys ['colour']"),
    "lr is text": (_config_field("lr", "abc"), "config.lr is 'abc', which is not a float"),
    "steps is text": (_config_field("steps", "many"), "config.steps is 'many'"),
    "history not a list": (_history({"step": 1}), "history is a dict, not a list"),
    "history row without step": (_history([{"kind": "step", "loss": 1.0}]), "row 0 of its history has no"),
    "step is text": (_set("step", "abc"), "its step 'abc' is not a whole number"),
    "negative step": (_set("step", -3), "its step -3"),
    "elapsed is text": (_set("elapsed", "soon"), "elapsed time 'soon'"),
    "best accuracy out of range": (_set("best_accuracy", 7.0), "best accuracy 7.0"),
    "wrong RNG state": (_set("sampler_rng", torch.zeros(10, dtype=torch.uint8)), "'sampler_rng' has 10 bytes"),
    "RNG state of floats": (_set("aug_rng", torch.zeros(5056)), "'aug_rng' is not a generator state"),
    "config not JSON": (_set("config", "{not json"), "its 'config' is not valid JSON"),
    "model not tensors": (_set("model", {"w": [1, 2]}), "model weights are not a table of tensors"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_every_crafted_field_is_a_clear_error_naming_the_file(synthetic_data, micro_preset, tmp_path, capsys, case):
    run = train(synthetic_data.background, tmp_path / "run")
    craft, expected = CRAFTED[case]
    state = raw(run)
    craft(state)
    write_raw(run, state)
    before = files_of(run)
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint(run)
    assert str(run / "checkpoint.pt") in str(refused.value) and expected in str(refused.value)
    err = resume_on_the_command_line(run, capsys)
    assert str(run / "checkpoint.pt") in err and expected in err
    assert files_of(run) == before


@pytest.mark.parametrize("rng", [torch.full((5056,), 255, dtype=torch.uint8), torch.zeros(10, dtype=torch.uint8)],
                         ids=["invalid mt19937 state", "wrong size"])
def test_a_generator_state_that_does_not_fit_is_refused(synthetic_data, micro_preset, tmp_path, rng):
    # The augmentation stream lives on the training device, whose generator's state has its own size and rules.
    run = train(synthetic_data.background, tmp_path / "run")
    state = raw(run)
    state["aug_rng"] = rng
    write_raw(run, state)
    before = files_of(run)
    with pytest.raises(CheckpointError, match="'aug_rng' does not fit this run") as refused:
        Trainer(small_train_config(steps=4), synthetic_data.background, run,
                checkpoint=RunFolder(run).read_checkpoint())
    assert str(run / "checkpoint.pt") in str(refused.value)
    assert files_of(run) == before


# --- unreadable files say what they are -------------------------------------------------------------------------------


def test_a_pickle_checkpoint_is_refused_without_calling_it_truncated(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"step": 1, "model": {}, "optimizer": {}, "config": "{}", "payload": Path("x")},
               run / "checkpoint.pt")
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint(run)
    message = str(refused.value)
    assert str(run / "checkpoint.pt") in message and "PosixPath" in message and "nothing in it ran" in message
    assert "truncated" not in message


def test_a_truncated_checkpoint_is_called_truncated(synthetic_data, micro_preset, tmp_path):
    run = train(synthetic_data.background, tmp_path / "run")
    path = run / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(CheckpointError, match="may be truncated"):
        load_checkpoint(run)
