"""Resumable training checkpoints: model, optimiser, learning-rate scheduler, RNG streams, step, clock and history
(checkpoints written before the scheduler lack its state; `TrainingLoop.resume_schedule` copes).

Written atomically with torch.save and read back with `weights_only=True`, which refuses anything but tensors
and plain containers, so a checkpoint file cannot run code when loaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ..atomic import atomic_path, remove_stale_temporaries

CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed from; the message says which file and why."""


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write a training state dict atomically; JSON-able extras go in as strings. Return the path."""
    path = Path(path)
    payload = {k: (json.dumps(v) if k in ("config", "history", "extra") else v) for k, v in state.items()}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Return the state dict saved by `save_checkpoint`, or raise CheckpointError."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}")
    remove_stale_run_temporaries(path.parent)
    try:
        raw = torch.load(path, map_location=map_location, weights_only=True)
        state = {k: (json.loads(v) if k in ("config", "history", "extra") else v) for k, v in raw.items()}
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable Glyphs checkpoint ({exc}); it may be truncated.") from exc
    missing = {"step", "model", "optimizer", "config"} - set(state)
    if missing:
        raise CheckpointError(f"{path} lacks {sorted(missing)}: not a Glyphs training checkpoint.")
    return state


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
