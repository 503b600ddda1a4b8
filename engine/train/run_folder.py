"""A training run's folder: what it holds, which weights to use from it, and how a run in it is continued.

One value for the Trainer, the command line (`python -m engine train`) and the app's Train tab:

    checkpoint.pt       the resumable state (checkpoint.py), written with last.safetensors at the same step
    best.safetensors    the weights of the best validation so far (+ best.json, their model card)
    last.safetensors    the latest weights (+ last.json)
    log.jsonl           one JSON row per report and validation

Continuing a run ("resume") keeps the settings it was started with; only its length (steps, time budget) and
device may change, and the length is the saved one unless a new one is asked for (`continued_config`). A
checkpoint is continued only in the run it belongs to (`read_checkpoint`): one of another network than the
folder's weights is refused before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from ..model import ModelConfig
from ..weights import WeightsError, read_metadata
from .checkpoint import CHECKPOINT_NAME, CheckpointError, load_checkpoint
from .config import TrainConfig

BEST_WEIGHTS, LAST_WEIGHTS, LOG_NAME = "best.safetensors", "last.safetensors", "log.jsonl"


@dataclass(frozen=True)
class RunFolder:
    """The folder of one training (or distillation) run and the files in it."""

    path: Path

    def __init__(self, path: str | os.PathLike):
        object.__setattr__(self, "path", Path(path).expanduser())

    @property
    def checkpoint(self) -> Path:
        """Return the path of the run's resumable checkpoint."""
        return self.path / CHECKPOINT_NAME

    @property
    def best(self) -> Path:
        """Return the path of the best validated weights."""
        return self.path / BEST_WEIGHTS

    @property
    def last(self) -> Path:
        """Return the path of the latest weights."""
        return self.path / LAST_WEIGHTS

    @property
    def log(self) -> Path:
        """Return the path of the run's log (one JSON row per line)."""
        return self.path / LOG_NAME

    def holds_checkpoint(self) -> bool:
        """Return whether the folder holds a checkpoint, i.e. a run that can be continued."""
        return self.checkpoint.is_file()

    def weights(self) -> Path | None:
        """Return the weights to use from this run: the best validated, else the latest; None when neither is
        there yet."""
        for path in (self.best, self.last):
            if path.is_file():
                return path
        return None

    @staticmethod
    def weights_for(path: str | os.PathLike) -> Path:
        """Return the weights file a chosen file stands for: a run's checkpoint.pt stands for the
        last.safetensors written beside it at the same step; weights stand for themselves."""
        path = Path(path)
        return path.with_name(LAST_WEIGHTS) if path.name == CHECKPOINT_NAME else path

    def read_checkpoint(self) -> dict:
        """Return the folder's checkpoint, every field checked and its network the same as the folder's weights'
        (so a checkpoint copied in from another run is not trained over this one's files); raise
        CheckpointError otherwise."""
        state = load_checkpoint(self.checkpoint)
        saved = saved_model_config(state)
        for weights in (self.last, self.best):
            if not weights.is_file():
                continue
            try:
                network, _ = read_metadata(weights)
            except WeightsError:
                continue  # damaged weights are rewritten by the run; the checkpoint alone decides
            if saved is not None and network != saved:
                raise CheckpointError(
                    f"{self.checkpoint} is a checkpoint of another network ({describe_network(saved)}) than this "
                    f"run's {weights.name} ({describe_network(network)}): it belongs to another run. Nothing was "
                    f"changed. Put it back in its own run folder, or start a new run in another folder.")
        return state

    @staticmethod
    def continued_config(saved: TrainConfig, requested: TrainConfig, keep_length: bool = False) -> TrainConfig:
        """Return the config a continued run trains with: its `saved` settings, the `requested` device, and the
        requested length (steps, time budget) unless `keep_length` (the saved length then)."""
        length = saved if keep_length else requested
        return replace(saved, steps=length.steps, time_budget_s=length.time_budget_s, device=requested.device)


def saved_model_config(state: dict) -> ModelConfig | None:
    """Return the network a checkpoint was trained with (None in checkpoints that predate recording it)."""
    data = state.get("extra", {}).get("model_config")
    return ModelConfig.from_dict(data) if data is not None else None


def describe_network(config: ModelConfig) -> str:
    """Return a network's description for messages: preset, input size and layer widths."""
    widths = "-".join(str(w) for w in config.widths)
    return (f"preset {config.preset}: {config.input_size} px, {config.kind} {widths}, embedding "
            f"{config.embedding_dim}, {config.head} head")
