"""What every training loop here shares (the Trainer and the Distiller): the run's log, the learning rate,
validation on held-out alphabets with the best weights kept, and the versions a model card records."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from pathlib import Path

import torch

from .. import __version__
from ..evaluate import validate_one_shot
from .events import ValidationEvent


class TrainingLoop:
    """Base of a training loop. A subclass sets `out_dir`, `data`, `split`, `optimizer` and `callback` and runs
    its steps, calling `set_learning_rate`, `log` and `validate_and_keep_best`."""

    out_dir: Path
    callback: Callable[[object], None]
    optimizer: torch.optim.Optimizer

    def __init__(self) -> None:
        self.step, self.elapsed = 0, 0.0
        self.best_accuracy: float | None = None
        self.history: list[dict] = []

    def set_learning_rate(self, lr: float) -> None:
        """Use learning rate `lr` from the next optimiser step on."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def log(self, row: dict) -> None:
        """Append a row to the run's history and to `log.jsonl`."""
        self.history.append(row)
        with open(self.out_dir / "log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def rewrite_log(self) -> None:
        """Write `log.jsonl` anew from the history (a resumed or restarted run)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in self.history), encoding="utf-8")

    def validate_and_keep_best(self, model, tasks: int, way: int, save_best: Callable[[float], None]) -> float | None:
        """Return `model`'s one-shot accuracy on the validation alphabets (None when there are none), the same
        seeded tasks every time; call `save_best(accuracy)` when it is the best so far; log and report it."""
        if len(self.split.val_chars) == 0:
            return None
        result = validate_one_shot(model, self.data, self.split.val_chars, tasks, way)
        model.train()
        is_best = self.best_accuracy is None or result.accuracy > self.best_accuracy
        if is_best:
            self.best_accuracy = result.accuracy
            save_best(result.accuracy)
        self.log({"kind": "val", "step": self.step, "elapsed_s": self.elapsed, "accuracy": result.accuracy,
                  "ci95": result.ci95})
        self.callback(ValidationEvent(self.step, result.accuracy, result.ci95, self.elapsed, is_best))
        return result.accuracy


def card_versions() -> dict:
    """Return the software versions a model card records."""
    return {"glyphs": __version__, "torch": torch.__version__, "python": platform.python_version()}
