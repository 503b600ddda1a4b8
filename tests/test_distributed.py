"""Distributed training (torchrun / DDP, engine/train/distributed.py) on the CPU with gloo and 2 processes.

The ranks are started by the tests themselves (multiprocessing "spawn" with torchrun's environment variables,
so `init_from_env` runs exactly as under torchrun), on a small synthetic background set.

What "the same as one process" means here: with the all-gather design every rank computes the loss on all pairs
of the concatenation of the ranks' batches, with batch norm synchronised across ranks. So the reference is a
one-process run whose batch at each step is rank 0's batch followed by rank 1's (drawn from the same per-rank
streams): same images, same pairs, same loss; only float rounding differs (the gathered gradient is summed over
ranks and averaged by DDP, the batch-norm statistics are combined from per-rank parts).

Both sides run in float64 (`Float64Trainer`): in float32 a ReLU input or max-pool pair within rounding of its kink
now and then falls on opposite sides in the two runs, and one such flip moves a gradient by a few percent, more
than any tolerance that still catches a real fault. In float64 the two runs agree to ~1e-12, no kink flips, and a
tight tolerance separates rounding from a missing cross-rank pair or a wrong scale by many orders of magnitude.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

from engine.augment import AffineConfig
from engine.data.omniglot import OmniglotSet
from engine.pairs import BatchConfig, balanced_pair_loss, ranking_loss
from engine.train import StepEvent, Trainer, TrainingError, preset_defaults
from engine.train.distributed import DistributedError, init_from_env, is_communication_error, seed_streams
from engine.train.run_folder import RunFolder

REPO = Path(__file__).resolve().parent.parent
WORLD = 2
STEPS = 4
CHARS_PER_ALPHABET = (5, 3, 5, 3, 5)  # two short alphabets: the ranks' batches differ in size now and then
DRAWERS = 4
DENSITY = 0.5  # dense random ink: few exact ties in the max-pools (see small_config)


def synthetic_background(seed: int = 0) -> OmniglotSet:
    """A background-like set of sparse random glyphs: alphabets of different sizes, DRAWERS drawers each."""
    rng = np.random.default_rng(seed)
    char_alphabet = np.repeat(np.arange(len(CHARS_PER_ALPHABET)), CHARS_PER_ALPHABET).astype(np.int32)
    n_chars = len(char_alphabet)
    pixels = rng.random((n_chars * DRAWERS, 105, 105)) < DENSITY
    names = [f"character{i + 1:02d}" for n in CHARS_PER_ALPHABET for i in range(n)]
    return OmniglotSet("background", np.packbits(pixels, axis=-1),
                       np.repeat(np.arange(n_chars), DRAWERS).astype(np.int32),
                       np.tile(np.arange(1, DRAWERS + 1), n_chars).astype(np.int16), char_alphabet, names,
                       [f"Alphabet{a}" for a in range(len(CHARS_PER_ALPHABET))])


def small_config(steps: int = STEPS):
    """Preset tiny, 2 alphabets x 4 characters x 2 drawers per rank, constant LR (so a resume can be compared).

    Every distortion is always on (p=1): the ranks draw independently, so the same image can be in both ranks'
    batches, and with an identity distortion the two copies give equal embeddings in one process but embeddings
    1e-7 apart across ranks. The Koch head's |a - b| has a kink at 0, so such a pair's gradient would differ
    (0 against +-alpha) and the comparison would not be to float tolerance. Training itself does not care.
    """
    cfg = replace(preset_defaults("tiny"), steps=steps, device="cpu", log_every=1, rank_weight=0.5, warmup_steps=0,
                  min_lr_fraction=1.0, val_every=2, val_tasks=2, val_way=3, checkpoint_every=2,
                  batch=BatchConfig(alphabets=2, characters=4, drawers=2), augment=AffineConfig(p=1.0))
    cfg.split = replace(cfg.split, val_alphabets=1, min_val_chars=3)
    return cfg


class Float64Trainer(Trainer):
    """The Trainer in float64: parameters are built under float64 as the default dtype (`float64_default`), and
    each batch is cast to it after the float32 distortions (the same arithmetic in every process)."""

    def sample_batch(self):
        x, label = super().sample_batch()
        return x.double(), label


class float64_default:
    """Within the block, new floating tensors and parameters are float64."""

    def __enter__(self):
        self.saved = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)

    def __exit__(self, *exc):
        torch.set_default_dtype(self.saved)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _record_steps(trainer) -> list:
    """Return a list that each optimiser step extends with the parameters it starts from and the gradients."""
    record, step = [], trainer.optimizer.step

    def recording_step(*args, **kwargs):
        record.append({"params": _state(trainer.model),
                       "grads": {n: p.grad.detach().clone() for n, p in trainer.model.named_parameters()}})
        return step(*args, **kwargs)
    trainer.optimizer.step = recording_step
    return record


# --- what each rank runs (top-level functions: the spawn start method pickles them by name) ----------------------

def _scenario_train(ctx, tmp: Path) -> dict:
    """A straight run, then the same run in two legs (checkpoint, resume): parameters, losses, events, sizes."""
    data = synthetic_background()
    events, sizes = [], []
    trainer = Float64Trainer(small_config(), data, tmp / "straight", callback=events.append, dist=ctx)
    sample = trainer.sample_batch

    def sample_and_record():
        x, label = sample()
        sizes.append(len(x))
        return x, label
    trainer.sample_batch = sample_and_record
    record = _record_steps(trainer)
    trainer.run()
    first = Float64Trainer(small_config(steps=2), data, tmp / "resumed", dist=ctx)
    first.run()
    second = Float64Trainer(small_config(steps=STEPS), data, tmp / "resumed", dist=ctx,
                            checkpoint=RunFolder(tmp / "resumed").read_checkpoint())
    resumed_from = second.step
    second.run()
    return {"straight": _state(trainer.model), "steps": record, "resumed": _state(second.model),
            "resumed_from": resumed_from, "sizes": sizes, "events": [type(e).__name__ for e in events],
            "losses": [e.loss for e in events if isinstance(e, StepEvent)],
            "pg_backend": torch_dist.get_backend()}


def _scenario_lose_rank(ctx, tmp: Path, failure: str) -> dict:
    """Rank 1 dies (or hangs) before its third step; rank 0 must fail with a clear error."""
    cfg = replace(small_config(steps=50), val_every=0, checkpoint_every=0)
    trainer = Trainer(cfg, synthetic_background(), tmp / "run", dist=ctx)
    if ctx.rank == 1:
        step = trainer.train_one_step

        def failing_step():
            if trainer.step == 2:
                if failure == "killed":
                    os._exit(17)
                time.sleep(3600)  # alive but stuck
            return step()
        trainer.train_one_step = failing_step
    trainer.run()
    return {"step": trainer.step}


def _rank_main(rank: int, port: int, tmp: str, scenario: str, timeout_s: float, arg) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    tmp = Path(tmp)
    ctx = init_from_env("cpu", timeout_s=timeout_s)
    try:
        if scenario == "train":
            with float64_default():
                result = _scenario_train(ctx, tmp)
        else:
            result = _scenario_lose_rank(ctx, tmp, arg)
    except Exception as exc:  # noqa: BLE001 - reported to the test through a file
        (tmp / f"rank{rank}.err").write_text(f"{type(exc).__name__}: {exc}", encoding="utf-8")
        os._exit(1)  # like the CLI: leave without a collective shutdown, the peer is gone
    torch.save(result, tmp / f"rank{rank}.pt")
    ctx.close()


def _spawn(tmp: Path, scenario: str, timeout_s: float, arg=None) -> list:
    ctx = mp.get_context("spawn")
    port = _free_port()
    procs = [ctx.Process(target=_rank_main, args=(r, port, str(tmp), scenario, timeout_s, arg), daemon=True)
             for r in range(WORLD)]
    for p in procs:
        p.start()
    return procs


class ConcatenatedBatchTrainer(Float64Trainer):
    """One process whose batch at each step is rank 0's batch followed by rank 1's (the reference)."""

    def sample_batch(self):
        xs, labels = [], []
        for rank in range(WORLD):
            seed_streams(self.sampler_gen, self.aug_gen, self.config.seed, rank, self.step)
            x, label = super().sample_batch()
            xs.append(x)
            labels.append(label)
        return torch.cat(xs), torch.cat(labels)


# --- the two-rank run, shared by several tests ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    procs = _spawn(tmp, "train", timeout_s=60)
    for p in procs:
        p.join(240)
    for p in procs:
        if p.is_alive():
            p.kill()
    errors = [f.read_text() for f in sorted(tmp.glob("rank*.err"))]
    assert not errors and all(p.exitcode == 0 for p in procs), (errors, [p.exitcode for p in procs])
    return tmp, [torch.load(tmp / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]


def test_ranks_hold_identical_parameters(two_ranks):
    _, (r0, r1) = two_ranks
    assert r0["pg_backend"] == "gloo"
    assert r0["straight"].keys() == r1["straight"].keys()
    for name, value in r0["straight"].items():
        assert torch.equal(value, r1["straight"][name]), name  # buffers (synced batch-norm statistics) included
    assert r0["sizes"] != r1["sizes"], "the test data should give the ranks batches of different sizes"


def test_two_ranks_match_one_process_on_the_concatenated_batch(two_ranks, tmp_path):
    """Same pairs, same loss, same gradient as one process on the concatenated batches (see the module docstring).

    Each step is checked from the parameters the 2-rank run had at that step, in float64: the loss and every
    gradient to 1e-6 (relative). The runs agree far closer than that (rounding only: the head scores in float32,
    the gathered gradient is summed over ranks, the batch-norm statistics combined from parts); a missing
    cross-rank pair, an unsynchronised batch norm or a gradient scaled by the world size is off by 10-100%. The
    runs themselves are compared loosely: AdamW turns tiny gradient differences on near-zero gradients into
    different unit-size steps, so after a few steps the parameters agree to a fraction of the learning rate.
    """
    _, (r0, _) = two_ranks
    cfg = replace(small_config(), val_every=0, checkpoint_every=0)
    with float64_default():
        reference = ConcatenatedBatchTrainer(cfg, synthetic_background(), tmp_path)
        ref_steps = _record_steps(reference)
        reference.model.train()
        assert len(r0["steps"]) == STEPS
        for t, recorded in enumerate(r0["steps"]):
            reference.model.load_state_dict(recorded["params"])
            reference.step = t
            loss, _ = reference.train_one_step()
            assert float(loss.detach()) == pytest.approx(r0["losses"][t], rel=1e-6), f"loss at step {t}"
            for name, g in ref_steps[t]["grads"].items():
                assert g.dtype == torch.float64, name
                error = float((recorded["grads"][name] - g).norm() / g.norm())
                assert error < 1e-6, f"step {t}: gradient of {name} differs by {error:.1e} (relative norm)"
        events = []
        straight = ConcatenatedBatchTrainer(cfg, synthetic_background(), tmp_path / "run", callback=events.append)
        straight.run()
    assert [e.loss for e in events if isinstance(e, StepEvent)] == pytest.approx(r0["losses"], rel=5e-2)
    for name, value in straight.model.named_parameters():
        assert float((r0["straight"][name] - value.detach()).abs().max()) < 2 * cfg.lr * STEPS, name


def test_only_rank_zero_reports_validates_and_writes(two_ranks):
    tmp, (r0, r1) = two_ranks
    assert r1["events"] == [] and r1["losses"] == []
    assert r0["events"].count("StepEvent") == STEPS and r0["events"].count("ValidationEvent") == 2
    assert r0["events"].count("CheckpointEvent") == 2 and r0["events"][-1] == "FinishedEvent"
    rows = [json.loads(line) for line in (tmp / "straight" / "log.jsonl").read_text().splitlines()]
    steps = [(r["kind"], r["step"]) for r in rows]
    assert len(steps) == len(set(steps)) == STEPS + 2  # one writer: no duplicated rows
    assert rows[0]["images_per_s"] > 0
    for name in ("checkpoint.pt", "last.safetensors", "best.safetensors"):
        assert (tmp / "straight" / name).is_file()


def test_distributed_resume_continues_exactly(two_ranks):
    tmp, (r0, r1) = two_ranks
    assert r0["resumed_from"] == r1["resumed_from"] == 2
    for name, value in r0["straight"].items():
        assert torch.equal(r0["resumed"][name], value), name
        assert torch.equal(r1["resumed"][name], value), name
    rows = [json.loads(line) for line in (tmp / "resumed" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "step"] == list(range(1, STEPS + 1))


# --- a lost rank ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("failure,timeout_s", [("killed", 30.0), pytest.param("hung", 3.0, marks=pytest.mark.slow)])
def test_lost_rank_makes_the_other_fail_with_a_clear_error(tmp_path, failure, timeout_s):
    procs = _spawn(tmp_path, "lose_rank", timeout_s, failure)
    t0 = time.monotonic()
    procs[0].join(120)
    survivor_alive = procs[0].is_alive()
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(10)
    assert not survivor_alive, f"rank 0 still waiting {time.monotonic() - t0:.0f} s after rank 1 was {failure}"
    assert procs[0].exitcode == 1
    if failure == "killed":
        assert procs[1].exitcode == 17
    message = (tmp_path / "rank0.err").read_text()
    assert message.startswith("TrainingError: rank 0 of 2 (gloo, cpu) lost contact with the other ranks"), message
    assert "--resume" in message and f"{timeout_s:.0f} s" in message


def test_communication_errors_are_recognised():
    assert is_communication_error(DistributedError("x"))
    assert is_communication_error(RuntimeError("[gloo/transport/tcp/pair.cc:545] Connection reset by peer"))
    wrapped = TrainingError("failed")
    wrapped.__cause__ = RuntimeError("Timed out waiting 3000ms for recv operation to complete")
    assert is_communication_error(wrapped)
    assert not is_communication_error(ValueError("bad batch"))
    assert not is_communication_error(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


# --- the plain run ----------------------------------------------------------------------------------------------------

def test_plain_run_is_unchanged(tmp_path, monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    assert init_from_env("cpu") is None
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert init_from_env("cpu") is None  # torchrun with one process in all: a plain run
    assert not torch_dist.is_initialized()

    cfg = small_config()
    trainer = Trainer(cfg, synthetic_background(), tmp_path)
    assert trainer.dist is None and trainer.ddp is None
    # The streams are seeded as they always were: sampler `seed`, augmentation `seed + 1`.
    assert torch.equal(trainer.sampler_gen.get_state(), torch.Generator().manual_seed(cfg.seed).get_state())
    assert torch.equal(trainer.aug_gen.get_state(), torch.Generator().manual_seed(cfg.seed + 1).get_state())
    # One step is exactly the single-process recipe: model.embed, all pairs of the batch, AdamW.
    states = trainer.sampler_gen.get_state(), trainer.aug_gen.get_state()
    x, label = trainer.sample_batch()
    trainer.sampler_gen.set_state(states[0])
    trainer.aug_gen.set_state(states[1])
    model = copy.deepcopy(trainer.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss, _ = trainer.train_one_step()
    emb = model.embed(x).float()
    logits = model.head.logits(emb, emb)
    expected = balanced_pair_loss(logits, label)[0] + cfg.rank_weight * ranking_loss(logits, label)
    optimizer.zero_grad()
    expected.backward()
    optimizer.step()
    assert torch.equal(loss, expected)
    for name, value in model.state_dict().items():
        assert torch.equal(trainer.model.state_dict()[name], value), name
    assert not torch_dist.is_initialized()


# --- the real entry point: torchrun -m engine train -------------------------------------------------------------------

def _write_omniglot_folder(root: Path) -> Path:
    from PIL import Image
    data = synthetic_background()
    base = root / "images_background"
    for i in range(len(data)):
        c = int(data.char[i])
        folder = base / data.alphabets[data.char_alphabet[c]] / data.char_names[c]
        folder.mkdir(parents=True, exist_ok=True)
        ink = data.pixels(np.array([i]))[0].astype(bool)
        name = f"{c + 1:04d}_{int(data.drawer[i]):02d}.png"
        Image.fromarray(np.where(ink, 0, 255).astype(np.uint8)).save(folder / name)
    return root


@pytest.mark.slow
def test_torchrun_cli_trains_and_resumes(tmp_path):
    data_dir = _write_omniglot_folder(tmp_path / "omniglot")
    out = tmp_path / "run"
    env = dict(os.environ, GLYPHS_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    common = ["--preset", "tiny", "--alphabets", "2", "--characters", "4", "--drawers", "2", "--val-alphabets", "1",
              "--val-every", "2", "--val-tasks", "2", "--checkpoint-every", "2", "--device", "cpu", "--quiet",
              "--data-dir", str(data_dir), "--out", str(out), "--dist-timeout", "60"]

    def torchrun(*args):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={WORLD}",
               "-m", "engine", "train", *common, *args]
        return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)

    first = torchrun("--steps", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stderr.count("Distributed: 2 processes (gloo), batch") == 1  # only rank 0 talks
    assert (out / "checkpoint.pt").is_file() and (out / "last.safetensors").is_file()
    second = torchrun("--steps", "4", "--resume")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Resuming" in second.stderr and "Finished (completed) at step 4" in second.stderr
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "step"] == [2, 4]  # log_every 10: the last step of each leg
    assert [r["step"] for r in rows if r["kind"] == "val"] == [2, 4]
