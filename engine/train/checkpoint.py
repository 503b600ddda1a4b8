"""Resumable training checkpoints: model, optimiser, learning-rate scheduler, RNG streams, step, clock and history
(checkpoints written before the scheduler lack its state; `TrainingLoop.restore_schedule` copes).

Written atomically with torch.save and read back with `weights_only=True`, which refuses anything but tensors
and plain containers, so a checkpoint file cannot run code when loaded. Every field is checked when read
(`load_checkpoint`): a damaged, crafted or diverged checkpoint is a CheckpointError that names the file and the
field, before anything of the run is written.
"""

from __future__ import annotations

import json
import math
import os
import re
import types
import typing
import zipfile
from dataclasses import fields, is_dataclass
from pathlib import Path

import torch

from ..atomic import atomic_path, remove_stale_temporaries
from ..model import ModelConfig
from .config import TrainConfig

CHECKPOINT_NAME = "checkpoint.pt"
_JSON_FIELDS = ("config", "history", "extra")
_REQUIRED = {"step", "model", "optimizer", "config"}
_RNG_STATE_BYTES = torch.Generator().get_state().numel()  # a CPU generator's state


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed from; the message says which file and why."""


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write a training state dict atomically; JSON-able extras go in as strings. Return the path."""
    path = Path(path)
    payload = {k: (json.dumps(v) if k in _JSON_FIELDS else v) for k, v in state.items()}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Return the state dict saved by `save_checkpoint`, every field checked, or raise CheckpointError."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}")
    remove_stale_run_temporaries(path.parent)
    raw = _read(path, map_location)
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path} holds a {type(raw).__name__}, not a Glyphs training checkpoint.")
    missing = _REQUIRED - set(raw)
    if missing:
        raise CheckpointError(f"{path} lacks {sorted(missing)}: not a Glyphs training checkpoint.")
    state = dict(raw)
    for key in _JSON_FIELDS:
        if key in state:
            state[key] = _json_field(path, key, state[key])
    check_state(path, state)
    return state


def _read(path: Path, map_location) -> object:
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        if zipfile.is_zipfile(path) and refused:
            raise CheckpointError(
                f"{path} holds Python objects other than tensors and plain data ({refused.group(1)}): refused "
                "unread, nothing in it ran. It is not a Glyphs checkpoint; train a new run instead.") from exc
        if not zipfile.is_zipfile(path):
            raise CheckpointError(f"{path} is not a readable Glyphs checkpoint (not a complete torch archive); "
                                  "it may be truncated or damaged. Continue from another copy or start a new run."
                                  ) from exc
        raise CheckpointError(f"{path} is not a readable Glyphs checkpoint: {first_line(exc)}") from exc


def first_line(exc: BaseException) -> str:
    """Return the first line of an exception's message (at most 300 characters), for messages that quote it."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _json_field(path: Path, key: str, value: object) -> object:
    if not isinstance(value, str):
        raise CheckpointError(f"{path}: its {key!r} is a {type(value).__name__}, not the JSON text Glyphs writes.")
    try:
        return json.loads(value)
    except ValueError as exc:
        raise CheckpointError(f"{path}: its {key!r} is not valid JSON ({exc}).") from exc


# --- checking every field ---------------------------------------------------------------------------------------

def check_state(path: Path, state: dict) -> None:
    """Raise CheckpointError naming `path` and the field when a decoded checkpoint's field is of the wrong kind,
    out of range or not finite; return nothing when all are sound."""
    def fail(what: str) -> typing.NoReturn:
        raise CheckpointError(f"{path}: {what}. The checkpoint cannot be resumed; nothing of the run was changed.")

    step = state["step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        fail(f"its step {step!r} is not a whole number of steps")
    elapsed = state.get("elapsed", 0.0)
    if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) or not 0 <= elapsed < math.inf:
        fail(f"its elapsed time {elapsed!r} is not a number of seconds")
    best = state.get("best_accuracy")
    if best is not None and (isinstance(best, bool) or not isinstance(best, (int, float)) or not 0 <= best <= 1):
        fail(f"its best accuracy {best!r} is not a fraction from 0 to 1")
    if not isinstance(state["config"], dict):
        fail("its config is not a table of settings")
    config = TrainConfig.from_dict(state["config"])
    problem = _type_problem(config, "config")
    if problem:
        fail(problem)
    model_config = _model_config(state.get("extra", {}), fail)
    if model_config is not None:
        problem = _type_problem(model_config, "model_config")
        if problem:
            fail(problem)
    _check_history(state.get("history", []), fail)
    _check_tensors(state, fail)


def _model_config(extra: object, fail) -> ModelConfig | None:
    if not isinstance(extra, dict):
        fail("its 'extra' is not a table")
    data = extra.get("model_config")
    if data is None:
        return None
    if not isinstance(data, dict):
        fail("its model_config is not a table")
    known = {f.name for f in fields(ModelConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        fail(f"its model_config has unknown keys {unknown} (known: {sorted(known)})")
    try:
        return ModelConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        fail(f"its model_config is incomplete or malformed ({exc})")


def _type_problem(obj: object, where: str) -> str | None:
    """Return what is wrong with the first field of dataclass `obj` whose value does not have its declared type
    (a number where a number is declared...), or None."""
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        value, hint = getattr(obj, f.name), hints[f.name]
        name = f"{where}.{f.name}"
        if is_dataclass(value):
            problem = _type_problem(value, name)
            if problem:
                return problem
        elif not _has_type(value, hint):
            return f"its {name} is {value!r}, which is not a {_describe(hint)}"
    return None


def _has_type(value: object, hint: object) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, a) for a in args)
    if is_dataclass(hint):
        return is_dataclass(value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is tuple or hint is tuple:
        inner = [a for a in args if a is not Ellipsis]
        return isinstance(value, tuple) and all(_has_type(v, inner[0]) for v in value) if inner else \
            isinstance(value, tuple)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # a hint this check does not know: left to the code that uses it


def _describe(hint: object) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    names = [getattr(a, "__name__", str(a)) for a in (args or [hint])]
    return " or ".join(names) + (" (or None)" if type(None) in typing.get_args(hint) else "")


def _check_history(history: object, fail) -> None:
    if not isinstance(history, list):
        fail(f"its history is a {type(history).__name__}, not a list of logged rows")
    for i, row in enumerate(history):
        if not isinstance(row, dict):
            fail(f"row {i} of its history is not a table")
        step = row.get("step")
        if isinstance(step, bool) or not isinstance(step, int):
            fail(f"row {i} of its history has no whole-number 'step' ({step!r})")


def _check_tensors(state: dict, fail) -> None:
    model = state["model"]
    if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
        fail("its model weights are not a table of tensors")
    for name, tensor in model.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            fail(f"its model weights hold NaN or infinite values ({name}): the run had diverged when it was "
                 "saved. Start a new run (a lower learning rate may help)")
    optimizer = state["optimizer"]
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get("state"), dict) \
            or not isinstance(optimizer.get("param_groups"), list):
        fail("its optimizer state is not the table torch writes (state, param_groups)")
    for index, values in optimizer["state"].items():
        for key, value in (values.items() if isinstance(values, dict) else ()):
            if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
                fail(f"its optimizer state holds NaN or infinite values (parameter {index}, {key}): the run had "
                     "diverged when it was saved. Start a new run (a lower learning rate may help)")
    for key in ("sampler_rng", "aug_rng"):
        rng = state.get(key)
        if rng is not None and (not isinstance(rng, torch.Tensor) or rng.dtype != torch.uint8 or rng.dim() != 1):
            fail(f"its random-number state {key!r} is not a generator state (a 1-D byte tensor)")
    rng = state.get("sampler_rng")
    if rng is not None and rng.numel() != _RNG_STATE_BYTES:
        fail(f"its random-number state 'sampler_rng' has {rng.numel()} bytes, not a CPU generator's "
             f"{_RNG_STATE_BYTES}")
    scheduler = state.get("scheduler")
    if scheduler is not None and not isinstance(scheduler, dict):
        fail("its learning-rate scheduler state is not a table")


def _run_file(name: str) -> bool:
    # What a run folder's writers replace atomically: the checkpoint, weights and their model cards.
    return name == CHECKPOINT_NAME or name.endswith((".safetensors", ".json"))


def remove_stale_run_temporaries(run_dir: str | os.PathLike) -> list[str]:
    """Delete the temporaries that crashed writes of a run's checkpoint, weights or cards left in `run_dir`
    (``.checkpoint.pt.XXXXXXXX.tmp``, ``.last.safetensors.XXXXXXXX.tmp``...), once stale; return their names.

    Called when a run is resumed (`load_checkpoint`); a temporary another process may still be writing is
    left alone (see `engine.atomic.STALE_AFTER_S`).
    """
    return remove_stale_temporaries(Path(run_dir), _run_file)
