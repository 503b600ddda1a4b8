"""The Trainer: learning, events, control from another thread, exact resume, crash-safe checkpoints, failures.

Synthetic-data tests use the test-only "micro" preset (conftest.micro_preset): the Trainer's mechanics are the
same for every preset, and a step takes milliseconds. The real-data smoke test trains the `tiny` preset.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data.splits import SplitConfig
from engine.evaluation.evaluate import OneShotConfig, evaluate_one_shot
from engine.pairs import BatchConfig
from engine.train import (CheckpointEvent, FailedEvent, FinishedEvent, StepEvent, TrainConfig, Trainer,
                          TrainingError, ValidationEvent, preset_defaults)
from engine.train.checkpoint import CHECKPOINT_NAME, CheckpointError, load_checkpoint, save_checkpoint
from engine.train.config import with_overrides
from engine.train.run_folder import RunFolder
from engine.train.schedule import lr_factor
from engine.weights import load_weights

from synthetic import small_train_config


class RunInThread:
    """Trainer.run() on a background thread, as the app does; re-raises its error on join."""

    def __init__(self, trainer: Trainer):
        self.trainer, self.result, self.error = trainer, None, None
        self.thread = threading.Thread(target=self._target, name="test-trainer")
        self.thread.start()

    def _target(self) -> None:
        try:
            self.result = self.trainer.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self.error = exc

    def join(self, timeout: float = 60) -> FinishedEvent:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "training did not stop"
        if self.error:
            raise self.error
        return self.result


def wait_for(condition, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def weights_of(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def step_rows(run_dir: Path, key: str) -> list:
    """Return `key` of each step row of a run's log.jsonl."""
    rows = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return [r[key] for r in rows if r["kind"] == "step"]


# --- learning and reporting ------------------------------------------------------------------------------------------


def test_a_few_steps_lower_the_loss(synthetic_data, micro_preset, tmp_path):
    events = []
    config = small_train_config(steps=30, batch=BatchConfig(3, 6, 2), augment=None)
    Trainer(config, synthetic_data.background, tmp_path, callback=events.append).run()
    losses = [e.loss for e in events if isinstance(e, StepEvent)]
    assert len(losses) == 30 and all(math.isfinite(x) for x in losses)
    first, last = np.mean(losses[:5]), np.mean(losses[-10:])
    assert last < 0.85 * first, f"loss went from {first:.3f} to {last:.3f}"


def test_events_arrive_in_order_with_their_files(synthetic_data, micro_preset, tmp_path):
    events = []
    config = small_train_config(steps=4, val_every=2, checkpoint_every=2)
    result = Trainer(config, synthetic_data.background, tmp_path, callback=events.append).run()
    kinds = [(type(e).__name__, e.step) for e in events]
    assert kinds == [("StepEvent", 1), ("StepEvent", 2), ("ValidationEvent", 2), ("CheckpointEvent", 2),
                     ("StepEvent", 3), ("StepEvent", 4), ("ValidationEvent", 4), ("CheckpointEvent", 4),
                     ("FinishedEvent", 4)]
    steps = [e for e in events if isinstance(e, StepEvent)]
    b = config.batch.size
    for e in steps:
        assert e.total_steps == 4 and math.isfinite(e.loss) and 0 <= e.pair_accuracy <= 1
        assert e.lr > 0 and e.images_per_s > 0 and e.elapsed_s > 0 and e.eta_s >= 0
        assert e.pairs_per_s == pytest.approx(e.images_per_s * (b - 1) / 2)
    assert steps[-1].eta_s == 0
    vals = [e for e in events if isinstance(e, ValidationEvent)]
    assert vals[0].is_best and all(0 <= v.accuracy <= 1 for v in vals)
    assert all(isinstance(e, CheckpointEvent) and Path(e.path) == tmp_path / CHECKPOINT_NAME
               for e in events if isinstance(e, CheckpointEvent))
    assert result is events[-1] and isinstance(result, FinishedEvent)
    assert result.reason == "completed" and result.step == 4
    assert result.best_accuracy == max(v.accuracy for v in vals)
    assert Path(result.best_weights) == tmp_path / "best.safetensors"
    assert Path(result.last_weights) == tmp_path / "last.safetensors"
    for name in ("checkpoint.pt", "best.safetensors", "best.json", "last.safetensors", "last.json", "log.jsonl"):
        assert (tmp_path / name).is_file(), name
    # The weights load as a model, with a card describing the run.
    best = load_weights(result.best_weights)
    assert best.card["preset"] == "micro" and best.card["split"]["val_alphabets"]
    assert best.card["validation_accuracy"] == result.best_accuracy
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "step"] == [1, 2, 3, 4]
    assert [r["step"] for r in rows if r["kind"] == "val"] == [2, 4]
    assert load_checkpoint(tmp_path)["step"] == 4


def test_a_time_budget_ends_the_run(synthetic_data, micro_preset, tmp_path):
    config = small_train_config(steps=10**9, time_budget_s=0.5, log_every=5)
    t0 = time.perf_counter()
    result = Trainer(config, synthetic_data.background, tmp_path).run()
    assert result.reason == "time budget" and result.elapsed_s >= 0.5 and result.step > 0
    assert time.perf_counter() - t0 < 30
    assert load_checkpoint(tmp_path)["step"] == result.step


def test_the_learning_rate_warms_up_then_decays():
    assert lr_factor(0, 0.0, 10, 0.1) == pytest.approx(0.1)
    assert lr_factor(9, 0.0, 10, 0.1) == pytest.approx(1.0)
    assert lr_factor(10, 0.0, 10, 0.1) == pytest.approx(1.0)
    assert lr_factor(500, 0.5, 10, 0.1) == pytest.approx(0.55)
    assert lr_factor(1000, 1.0, 10, 0.1) == pytest.approx(0.1)
    assert lr_factor(2000, 3.0, 10, 0.1) == pytest.approx(0.1)
    lrs = [lr_factor(s, s / 100, 0, 0.02) for s in range(101)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_train_config_round_trips_through_json():
    config = with_overrides(preset_defaults("tiny"), steps=123, seed=None)
    config.batch = BatchConfig(3, 5, 2, class_rotations=True)
    config.split = SplitConfig(val_alphabets=2, val_names=("Greek",))
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.steps == 123 and again.seed == 0
    assert TrainConfig.from_dict({**config.to_dict(), "augment": None}).augment is None
    assert TrainConfig.from_dict({**config.to_dict(), "from_the_future": 1}) == config


# --- control from another thread -------------------------------------------------------------------------------------


def test_pause_resume_and_stop_from_another_thread(synthetic_data, micro_preset, tmp_path):
    trainer = Trainer(small_train_config(steps=10**9, log_every=1), synthetic_data.background, tmp_path)
    run = RunInThread(trainer)
    try:
        wait_for(lambda: trainer.step >= 3, what="3 steps")
        trainer.pause()
        at_pause = trainer.step
        assert trainer.is_paused
        time.sleep(0.3)  # a step takes milliseconds: a running loop would move on meanwhile
        paused_step, paused_elapsed = trainer.step, trainer.elapsed
        assert paused_step <= at_pause + 1, "the pause was not honoured within one step"
        time.sleep(1.0)
        assert trainer.step == paused_step and trainer.elapsed == paused_elapsed and run.thread.is_alive()

        trainer.unpause()
        assert not trainer.is_paused
        wait_for(lambda: trainer.step >= paused_step + 3, what="steps after resuming")
        # The clock did not run while paused: 3 micro steps take far less than the 1.3 s pause.
        assert trainer.elapsed - paused_elapsed < 1.0

        trainer.request_stop()
        at_stop = trainer.step
    finally:
        trainer.request_stop()
        result = run.join()
    assert result.reason == "stopped" and result.step <= at_stop + 1
    assert load_checkpoint(tmp_path)["step"] == result.step  # a stopped run leaves a checkpoint to resume


def test_stop_while_paused(synthetic_data, micro_preset, tmp_path):
    trainer = Trainer(small_train_config(steps=10**9), synthetic_data.background, tmp_path)
    run = RunInThread(trainer)
    try:
        wait_for(lambda: trainer.step >= 1, what="a step")
        trainer.pause()
        time.sleep(0.1)
    finally:
        trainer.request_stop()
    t0 = time.monotonic()
    result = run.join()
    assert result.reason == "stopped" and time.monotonic() - t0 < 10


# --- resume -----------------------------------------------------------------------------------------------------------


def test_resume_is_bit_exact(synthetic_data, micro_preset, tmp_path):
    """An uninterrupted run of N steps and a run stopped at N/2 then resumed end with identical weights."""
    n = 12
    config = small_train_config(steps=n, batch=BatchConfig(2, 3, 2, class_rotations=True), val_every=4,
                                checkpoint_every=5, log_every=2)  # augmentation on: every RNG stream is used
    data = synthetic_data.background

    straight = Trainer(config, data, tmp_path / "straight")
    assert straight.run().step == n

    def stop_half_way(event):
        if isinstance(event, StepEvent) and event.step == n // 2:
            first.request_stop()

    first = Trainer(config, data, tmp_path / "resumed", callback=stop_half_way)
    stopped = first.run()
    assert stopped.reason == "stopped" and stopped.step == n // 2
    assert load_checkpoint(tmp_path / "resumed")["step"] == n // 2
    del first

    events = []
    second = Trainer(config, data, tmp_path / "resumed", callback=events.append,
                     checkpoint=RunFolder(tmp_path / "resumed").read_checkpoint())
    assert second.step == n // 2
    finished = second.run()
    assert finished.step == n and finished.reason == "completed"
    assert [e.step for e in events if isinstance(e, StepEvent)] == [8, 10, 12]

    a, b = weights_of(straight), weights_of(second)
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"resumed weights differ from the uninterrupted run in {different}"
    for group_a, group_b in zip(straight.optimizer.state_dict()["state"].values(),
                                second.optimizer.state_dict()["state"].values()):
        for key in group_a:
            assert torch.equal(torch.as_tensor(group_a[key]), torch.as_tensor(group_b[key]))
    # The log of the resumed run reads like the uninterrupted one, learning rates included.
    rows = [json.loads(line) for line in (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "step"] == [2, 4, 6, 8, 10, 12]
    assert step_rows(tmp_path / "resumed", "lr") == step_rows(tmp_path / "straight", "lr")


def test_a_checkpoint_without_scheduler_state_resumes_exactly(synthetic_data, micro_preset, tmp_path):
    """Checkpoints written before the learning rate had a scheduler hold no state for it; they resume exactly."""
    n = 8
    config = small_train_config(steps=n, warmup_steps=3, log_every=1)  # warm-up, then cosine: the rate moves
    data = synthetic_data.background
    straight = Trainer(config, data, tmp_path / "straight")
    straight.run()

    def stop_half_way(event):
        if isinstance(event, StepEvent) and event.step == n // 2:
            first.request_stop()

    first = Trainer(config, data, tmp_path / "resumed", callback=stop_half_way)
    assert first.run().step == n // 2
    state = load_checkpoint(tmp_path / "resumed")
    del state["scheduler"]
    for group in state["optimizer"]["param_groups"]:
        del group["initial_lr"]  # the scheduler's key: an older optimiser state has none
    save_checkpoint(tmp_path / "resumed" / CHECKPOINT_NAME, state)

    second = Trainer(config, data, tmp_path / "resumed", checkpoint=RunFolder(tmp_path / "resumed").read_checkpoint())
    assert second.step == n // 2
    second.run()
    a, b = weights_of(straight), weights_of(second)
    assert not [k for k in a if not torch.equal(a[k], b[k])], "resumed weights differ from the uninterrupted run"
    assert step_rows(tmp_path / "resumed", "lr") == step_rows(tmp_path / "straight", "lr")


def test_a_run_resumed_with_another_length_follows_its_new_schedule(synthetic_data, micro_preset, tmp_path):
    config = small_train_config(steps=4, warmup_steps=2, min_lr_fraction=0.1, log_every=1)
    Trainer(config, synthetic_data.background, tmp_path).run()
    Trainer(with_overrides(config, steps=8), synthetic_data.background, tmp_path,
            checkpoint=RunFolder(tmp_path).read_checkpoint()).run()
    # Row n reports step n - 1 (counted from 0): its progress was (n - 1) / steps, with the run's length then.
    expected = [config.lr * lr_factor(n - 1, (n - 1) / (4 if n <= 4 else 8), 2, 0.1) for n in range(1, 9)]
    assert step_rows(tmp_path, "lr") == pytest.approx(expected)


def test_resume_keeps_the_saved_config(synthetic_data, micro_preset, tmp_path):
    Trainer(small_train_config(steps=2, lr=1e-3, seed=3), synthetic_data.background, tmp_path).run()
    resumed = Trainer(small_train_config(steps=5, lr=0.5, seed=99), synthetic_data.background, tmp_path,
                      checkpoint=RunFolder(tmp_path).read_checkpoint())
    assert resumed.config.lr == 1e-3 and resumed.config.seed == 3  # what the run was started with
    assert resumed.config.steps == 5  # its length may change
    assert resumed.run().step == 5


# --- checkpoints are crash-safe ---------------------------------------------------------------------------------------


def start_run_with_checkpoint(data, tmp_path) -> None:
    Trainer(small_train_config(steps=2), data, tmp_path).run()
    assert load_checkpoint(tmp_path)["step"] == 2


def assert_old_checkpoint_intact(tmp_path) -> None:
    state = load_checkpoint(tmp_path)
    assert state["step"] == 2
    left = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert not left, f"temporary files left behind: {left}"
    load_weights(tmp_path / "last.safetensors")


def test_a_failure_while_writing_the_checkpoint_keeps_the_old_one(synthetic_data, micro_preset, tmp_path,
                                                                   monkeypatch):
    start_run_with_checkpoint(synthetic_data.background, tmp_path)
    real_save = torch.save

    def half_written(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        with open(f, "r+b") as fh:  # the disk filled up half way
            fh.truncate(os.path.getsize(f) // 2)
        raise OSError(28, "No space left on device")

    events = []
    trainer = Trainer(small_train_config(steps=4), synthetic_data.background, tmp_path, callback=events.append,
                      checkpoint=RunFolder(tmp_path).read_checkpoint())
    with monkeypatch.context() as patch, pytest.raises(TrainingError, match="No space left"):
        patch.setattr(torch, "save", half_written)
        trainer.run()
    assert isinstance(events[-1], FailedEvent) and events[-1].step == 4  # the checkpoint at the end failed
    assert "checkpoint is intact" in events[-1].message
    assert_old_checkpoint_intact(tmp_path)
    assert Trainer(small_train_config(steps=4), synthetic_data.background, tmp_path,
                   checkpoint=RunFolder(tmp_path).read_checkpoint()).step == 2


def test_a_failure_while_renaming_the_checkpoint_keeps_the_old_one(synthetic_data, micro_preset, tmp_path,
                                                                    monkeypatch):
    start_run_with_checkpoint(synthetic_data.background, tmp_path)
    trainer = Trainer(small_train_config(steps=4), synthetic_data.background, tmp_path,
                      checkpoint=RunFolder(tmp_path).read_checkpoint())

    def no_rename(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    with monkeypatch.context() as patch, pytest.raises(TrainingError, match="Permission denied"):
        patch.setattr(os, "replace", no_rename)
        trainer.run()
    assert_old_checkpoint_intact(tmp_path)


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "not a checkpoint", "code inside", "missing"])
def test_a_damaged_checkpoint_is_a_checkpoint_error(synthetic_data, micro_preset, tmp_path, damage):
    start_run_with_checkpoint(synthetic_data.background, tmp_path)
    path = tmp_path / CHECKPOINT_NAME
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    elif damage == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    elif damage == "not a checkpoint":
        torch.save({"weights": torch.zeros(3)}, path)
    elif damage == "code inside":  # pickled objects other than tensors are refused, never run
        torch.save({"step": 1, "model": {}, "optimizer": {}, "config": "{}", "payload": Path("x")}, path)
    else:
        path.unlink()
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError):
        Trainer(small_train_config(steps=4), synthetic_data.background, tmp_path,
                checkpoint=RunFolder(tmp_path).read_checkpoint())


def test_an_error_during_training_gives_a_failed_event(synthetic_data, micro_preset, tmp_path, monkeypatch):
    real_step = Trainer.train_one_step

    def failing_step(self):
        if self.step == 2:
            raise RuntimeError("simulated device failure")
        return real_step(self)

    monkeypatch.setattr(Trainer, "train_one_step", failing_step)
    events = []
    with pytest.raises(TrainingError, match="simulated device failure"):
        Trainer(small_train_config(steps=5), synthetic_data.background, tmp_path, callback=events.append).run()
    assert isinstance(events[-1], FailedEvent)
    assert events[-1].step == 2 and "simulated device failure" in events[-1].message
    assert not any(isinstance(e, FinishedEvent) for e in events)


def test_an_unusable_device_is_a_readable_error(synthetic_data, micro_preset, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="CUDA"):
        Trainer(small_train_config(device="cuda"), synthetic_data.background, tmp_path)


# --- real data --------------------------------------------------------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.slow
def test_tiny_preset_learns_one_shot_on_real_omniglot(real_omniglot, tmp_path):
    """A few hundred CPU steps of the `tiny` preset clearly beat chance on 20-way one-shot evaluation tasks.

    An untrained network scores about chance (5%); this budget reaches about 20%, so 15% (3x chance) is a
    clear margin either way. Validation is off: the evaluation alphabets are only tested, never selected on.
    Augmentation is off too: in so few steps it only slows learning (the synthetic-data tests cover it).
    """
    steps = 250
    config = TrainConfig(preset="tiny", steps=steps, lr=2e-3, warmup_steps=20, batch=BatchConfig(2, 8, 2),
                         augment=None, split=SplitConfig(val_alphabets=0), val_every=0, checkpoint_every=0,
                         log_every=50, seed=0, device="cpu", amp=False)
    events = []
    t0 = time.perf_counter()
    trainer = Trainer(config, real_omniglot.background, tmp_path, callback=events.append)
    result = trainer.run()
    train_s = time.perf_counter() - t0
    assert result.step == steps and result.reason == "completed"
    model = load_weights(result.last_weights).model
    score = evaluate_one_shot(model, real_omniglot.evaluation, OneShotConfig(way=20, shot=1, tasks=40, seed=0))
    print(f"tiny, {steps} steps on CPU in {train_s:.0f}s: 20-way one-shot {score.accuracy:.1%} +- {score.ci95:.1%}")
    assert score.n_trials == 800
    assert score.accuracy > 0.15, f"20-way one-shot accuracy {score.accuracy:.1%} is not clearly above chance (5%)"


def test_fine_tuning_starts_from_a_signed_head_file_with_a_fitted_monotone_head(synthetic_data, micro_preset,
                                                                                tmp_path, monkeypatch):
    from engine.augment import StyleConfig
    from engine.model import ModelConfig, SiameseNet
    from engine.train.head_fit import HeadFitConfig
    from engine.weights import save_weights

    torch.manual_seed(0)
    old = SiameseNet(ModelConfig("micro", 24, "vgg", (8, 16, 16), 64, head="signed"))  # another input size
    start = save_weights(old, tmp_path / "old.safetensors")
    cfg = small_train_config(init_weights=str(start), style=StyleConfig(), steps=3)
    monkeypatch.setattr("engine.train.trainer.HEAD_FIT", HeadFitConfig(images=60, steps=20))
    trainer = Trainer(cfg, synthetic_data.background, tmp_path / "run")
    assert trainer.model.config.input_size == 24 and trainer.model.config.head == "monotone"
    assert trainer.images.shape[-1] == 24  # training images at the starting network's size
    for name, value in old.encoder.state_dict().items():
        assert torch.equal(trainer.model.encoder.state_dict()[name], value), name
    assert bool((trainer.model.head.alpha < 0).all())
    trainer.run()
    resumed = Trainer(with_overrides(cfg, steps=4), synthetic_data.background, tmp_path / "run",
                      checkpoint=RunFolder(tmp_path / "run").read_checkpoint())
    assert resumed.step == 3 and resumed.model.config.input_size == 24  # the network comes from the checkpoint
    assert load_weights(tmp_path / "run" / "last.safetensors").model.config.head == "monotone"


def test_a_fitted_head_tells_same_from_different_characters(synthetic_data, micro_preset):
    from engine.model import build_model
    from engine.train.head_fit import HeadFitConfig, fit_head

    torch.manual_seed(0)
    model = build_model("micro")
    bg = synthetic_data.background
    images = torch.from_numpy(bg.pixels(np.arange(len(bg)))).unsqueeze(1)
    images = torch.nn.functional.interpolate(images.float(), size=(32, 32), mode="bilinear", antialias=True)
    fit_head(model, images, bg.char, bg.char_alphabet, HeadFitConfig(images=len(bg), steps=150,
                                                                      batch=BatchConfig(2, 4, 4)))
    with torch.no_grad():
        emb = model.embed(images[:200])
        logits = model.head.logits(emb, emb)
    same = torch.as_tensor(bg.char[:200])[:, None] == torch.as_tensor(bg.char[:200])[None]
    off = ~torch.eye(200, dtype=torch.bool)
    assert logits[same & off].mean() > logits[~same].mean() + 0.5
