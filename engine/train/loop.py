"""The training loop the Trainer and the Distiller share, and what else they have in common: the run's log, the
learning-rate scheduler, validation on held-out alphabets with the best weights kept, and the versions a model
card records.

`TrainingLoop.run` is torchvision's reference `train_one_epoch` run over steps instead of epochs. Before each step
it checks for a stop request, the steps limit and the time budget, and waits while paused; it runs one
optimisation step, advances the clock and the learning-rate scheduler (`LambdaLR`, the warm-up + cosine factor of
`schedule.lr_factor`), and sums the step's values on the device (`Meter`: read back once per report, not every
step). Every `log_every` steps it logs and reports them with the images/s and the ETA, every `val_every` steps it
validates, every `checkpoint_every` steps it saves; at the end it validates and saves once more and reports a
FinishedEvent.

A subclass supplies only what differs, as hooks: `begin`, `metered_step`, `validate`, `save_last`, `step_event`
and `images_per_step`; `time_budget_s` and `checkpoint_every` when its runs have them; `stop_requested` and
`after_step` when other processes take part (the Trainer's distributed ranks).

A run's pause and stop requests live in one place, its `RunControl` (`control`): set from any thread (the app's
buttons, Ctrl+C), they take effect within one step; whoever shows the run reads them there. It may be made before
the run (the app's task does: a pause or stop asked for while the Trainer is built counts).
"""

from __future__ import annotations

import json
import math
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch.optim.lr_scheduler import LambdaLR

from .. import __version__
from ..data.omniglot import OmniglotSet
from ..data.splits import Split
from ..device import describe_device
from ..evaluation.evaluate import validate_one_shot
from ..model import PREPROCESSING
from .events import FinishedEvent, ValidationEvent
from .run_folder import RunFolder
from .schedule import lr_factor


class LoopConfig(Protocol):
    """What `TrainingLoop` reads from a run's config (TrainConfig, DistillConfig)."""

    steps: int | None  # None: the time budget alone bounds the run
    warmup_steps: int
    min_lr_fraction: float
    log_every: int
    val_every: int


@dataclass
class Meter:
    """Per-step values summed on the device since `t0`; read back (one device sync) only when reported."""

    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    steps: int = 0
    t0: float = field(default_factory=time.perf_counter)

    def add(self, values: dict[str, torch.Tensor]) -> None:
        """Add one step's values (device tensors, by name)."""
        # Summed on the device: reading .item() every step would stall the GPU.
        for name, value in values.items():
            value = value.detach()
            self.sums[name] = value if name not in self.sums else self.sums[name] + value
        self.steps += 1

    def means(self) -> dict[str, float]:
        """Return each value's mean over the steps added."""
        return {name: float(total) / self.steps for name, total in self.sums.items()}


class RunControl:
    """A run's pause and stop requests, set from any thread and read by the loop before each step."""

    def __init__(self) -> None:
        self._stop, self._paused = threading.Event(), threading.Event()

    def request_stop(self) -> None:
        """Ask the run to stop after the current step (a paused run stops without resuming)."""
        self._stop.set()

    def pause(self) -> None:
        """Pause after the current step."""
        self._paused.set()

    def unpause(self) -> None:
        """Continue a paused run."""
        self._paused.clear()

    @property
    def is_paused(self) -> bool:
        """Return whether the run is paused (or will pause after the current step) and not stopping."""
        return self._paused.is_set() and not self._stop.is_set()

    @property
    def is_stopping(self) -> bool:
        """Return whether a stop was asked for."""
        return self._stop.is_set()

    def wait_while_paused(self) -> None:
        """Return once the run is unpaused or asked to stop."""
        while self.is_paused:
            time.sleep(0.02)


class TrainingLoop:
    """Base of a training loop. A subclass sets `config`, `data`, `split`, `device`, `optimizer`, `scheduler`
    (`make_scheduler`) and `callback`, and supplies the hooks; `run` does the rest, in `run_folder`."""

    config: LoopConfig
    data: OmniglotSet  # the background set: `split` says which of its alphabets train and which validate
    split: Split
    device: torch.device
    callback: Callable[[object], None]
    optimizer: torch.optim.Optimizer
    scheduler: LambdaLR

    def __init__(self, out_dir: str | Path, control: RunControl | None = None) -> None:
        self.run_folder = RunFolder(out_dir)
        self.control = control or RunControl()
        self.step, self.elapsed = 0, 0.0
        self.best_accuracy: float | None = None
        self.history: list[dict] = []

    @property
    def out_dir(self) -> Path:
        """Return the run's folder (`run_folder.path`)."""
        return self.run_folder.path

    @property
    def time_budget_s(self) -> float | None:
        """Return the run's time budget in seconds (None: its steps alone bound it); a run that has one says so."""
        return None

    @property
    def checkpoint_every(self) -> int:
        """Return how many steps apart `save_last` runs during the run (0: only at the end)."""
        return 0

    # --- hooks -----------------------------------------------------------------------------------------------------

    def begin(self) -> None:
        """Get ready for the first step of `run` (the network in train mode, and whatever comes before)."""
        raise NotImplementedError

    def metered_step(self) -> dict[str, torch.Tensor]:
        """Run one optimisation step; return the values to report (their mean), by name, as device tensors."""
        raise NotImplementedError

    def validate(self) -> float | None:
        """Return the validation accuracy (None when there is no validation set)."""
        raise NotImplementedError

    def save_last(self) -> Path | None:
        """Write what the run leaves to use or continue it: its latest weights (last.safetensors), and the
        checkpoint beside them if it can be continued; return the main file written."""
        raise NotImplementedError

    def step_event(self, means: dict[str, float], lr: float, images_per_s: float, eta_s: float) -> object:
        """Return the event that reports progress, from the values' means since the last report."""
        raise NotImplementedError

    @property
    def images_per_step(self) -> int:
        """Return how many images one step trains on (all processes together)."""
        raise NotImplementedError

    def validates_at_end(self) -> bool:
        """Return whether a run whose last step had no validation gets one: when it validates at all."""
        return bool(self.config.val_every)

    def stop_requested(self) -> bool:
        """Return whether to stop before the next step."""
        return self.control.is_stopping

    def after_step(self) -> None:
        """Called after each step, once the clock has moved and before the learning rate does."""

    # --- control from other threads (the run's `control`) -----------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the run to stop after the current step (it validates and saves as at its end)."""
        self.control.request_stop()

    def pause(self) -> None:
        """Pause after the current step; the clock does not run while paused."""
        self.control.pause()

    def unpause(self) -> None:
        """Continue a paused run."""
        self.control.unpause()

    @property
    def is_paused(self) -> bool:
        """Return whether the run is paused (or will pause after the current step)."""
        return self.control.is_paused

    # --- the learning rate -----------------------------------------------------------------------------------------

    def make_scheduler(self) -> LambdaLR:
        """Return the scheduler that sets each step's learning rate: the optimiser's base rate times `lr_factor`
        of the step and of the run's `progress()`, which a time budget moves as well as the steps."""
        return LambdaLR(self.optimizer, lambda step: lr_factor(step, self.progress(), self.config.warmup_steps,
                                                               self.config.min_lr_fraction))

    def progress(self) -> float:
        """Return how far the run has come, from 0 to 1: by steps, or by time when that is further."""
        steps = self.config.steps
        progress = self.step / max(1, steps) if steps is not None else 0.0
        if self.time_budget_s:
            progress = max(progress, self.elapsed / self.time_budget_s)
        return progress

    def restore_schedule(self, saved: dict | None) -> None:
        """Continue the schedule at `self.step` of a continued run from its checkpoint's scheduler state `saved`
        (None in checkpoints written before there was a scheduler; their base rate is the config's, as now)."""
        state = saved if saved is not None else self.scheduler.state_dict()
        # Step from the step before rather than take the saved rate: a resumed run may be given another length
        # (steps, time budget), which moves the cosine, and an older checkpoint holds the previous step's rate.
        # `_step_count` is torch's count of step() calls, which it checks the optimiser's against.
        self.scheduler.load_state_dict({**state, "last_epoch": self.step - 1, "_step_count": self.step})
        self.scheduler.step()

    # --- the loop --------------------------------------------------------------------------------------------------

    def run(self) -> FinishedEvent:
        """Train until the steps limit or the time budget is reached or a stop is requested; validate and save;
        return how it ended (also sent to the callback)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        clock = time.perf_counter()
        self.begin()
        meter, validated_at, saved_at = Meter(), -1, -1
        while (reason := self.end_reason()) is None:
            if self.control.is_paused:
                self.control.wait_while_paused()
                clock = meter.t0 = time.perf_counter()
                continue
            lr = self.scheduler.get_last_lr()[0]
            meter.add(self.metered_step())
            self.step += 1
            now = time.perf_counter()
            self.elapsed += now - clock  # wall time, validation and checkpoints included; pauses excluded
            clock = now
            self.after_step()
            self.scheduler.step()
            if self.step % self.config.log_every == 0 or self.step == self.config.steps:
                self.report(meter, lr)
                meter = Meter()
            if self.config.val_every and self.step % self.config.val_every == 0:
                self.validate()
                validated_at = self.step
            if self.checkpoint_every and self.step % self.checkpoint_every == 0:
                self.save_last()
                saved_at = self.step
        return self.finish(reason, validated_at == self.step, saved_at == self.step)

    def end_reason(self) -> str | None:
        """Return why the run ends before its next step ('completed', 'time budget', 'stopped'), or None."""
        stop = self.stop_requested()
        if self.config.steps is not None and self.step >= self.config.steps:
            return "completed"
        if self.time_budget_s and self.elapsed >= self.time_budget_s:
            return "time budget"
        return "stopped" if stop else None

    def report(self, meter: Meter, lr: float) -> None:
        """Log and report the means of the metered values since the last report, the step's `lr`, the rate and
        the ETA."""
        means, seconds = meter.means(), max(time.perf_counter() - meter.t0, 1e-9)
        images_per_s = meter.steps * self.images_per_step / seconds
        self.log({"kind": "step", "step": self.step, "elapsed_s": self.elapsed, **means, "lr": lr,
                  "images_per_s": images_per_s})
        self.callback(self.step_event(means, lr, images_per_s, self.eta_s(seconds / meter.steps)))

    def eta_s(self, seconds_per_step: float) -> float:
        """Return the seconds left at `seconds_per_step` (inf when the steps are unbounded), within the budget."""
        steps = self.config.steps
        eta = (steps - self.step) * seconds_per_step if steps is not None else math.inf
        if self.time_budget_s:
            eta = min(eta, max(0.0, self.time_budget_s - self.elapsed))
        return eta

    def finish(self, reason: str, validated: bool, saved: bool) -> FinishedEvent:
        """Validate and save unless the last step just did; send and return the FinishedEvent."""
        if not validated and self.validates_at_end():
            self.validate()
            saved = False  # a checkpoint holds the best accuracy: write it again
        if not saved:
            self.save_last()
        best = self.run_folder.best
        event = FinishedEvent(self.step, reason, self.elapsed, self.best_accuracy,
                              str(best) if best.is_file() else None, str(self.run_folder.last))
        self.callback(event)
        return event

    # --- log and validation ----------------------------------------------------------------------------------------

    def log(self, row: dict) -> None:
        """Append a row to the run's history and to `log.jsonl`."""
        self.history.append(row)
        with open(self.run_folder.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def rewrite_log(self) -> None:
        """Write `log.jsonl` anew from the history (a resumed or restarted run)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.run_folder.log.write_text("".join(json.dumps(r) + "\n" for r in self.history), encoding="utf-8")

    def validate_and_keep_best(self, model, tasks: int, way: int, save_best: Callable[[float], None]) -> float | None:
        """Return `model`'s one-shot accuracy on the validation alphabets (None when there are none), the same
        seeded tasks every time; call `save_best(accuracy)` when it is the best so far; log and report it."""
        if not self.has_validation:
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


    @property
    def has_validation(self) -> bool:
        """Return whether the run's split holds validation alphabets (else it never validates)."""
        return len(self.split.val_chars) > 0

    def run_card(self, model: torch.nn.Module) -> dict:
        """Return what every model card of this run records about `model` at this step: preset, input size,
        parameters, preprocessing, data split, steps, time, device and software versions."""
        return {"preset": model.config.preset, "input_size": model.config.input_size,
                "parameters": sum(p.numel() for p in model.parameters()),  # a frozen head's too
                "preprocessing": PREPROCESSING, "split": self.split.as_dict(), "steps": self.step,
                "wall_time_s": round(self.elapsed, 1), "device": describe_device(self.device),
                "versions": card_versions()}


def card_versions() -> dict:
    """Return the software versions a model card records."""
    return {"glyphs": __version__, "torch": torch.__version__, "python": platform.python_version()}
