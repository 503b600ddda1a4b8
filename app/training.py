"""Training as a `Task` of the app's runner: a Trainer (new or continued) whose events reach the UI in batches,
with pause and stop; and the speed estimate the Train tab shows.

The Trainer may report hundreds of times a second on a GPU, and one queued signal per event would flood the UI's
event queue: step events are held and sent together (see `TaskContext.send`); anything else (validation,
checkpoint, the end) is sent at once with what was held, in order.

On the CPU the Trainer runs on a thread of its own whose OS priority is lowered (`TRAINING_NICENESS`, Linux): its
torch threads keep every core busy, and at equal priority the UI thread waited its turn behind them, a stall
of 20-55 ms on a busy 2-core machine even with an empty event loop. Lowered, the UI runs as soon as it needs
to, and training gets every cycle the UI leaves (all of them when the UI is idle).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from PySide6.QtCore import QObject, Signal

from engine.cancel import Cancelled
from engine.data.omniglot import OmniglotSet
from engine.device import select_device
from engine.train import FailedEvent, StepEvent, TrainConfig, TrainEvent, Trainer, TrainingError
from engine.train.loop import RunControl
from engine.train.run_folder import RunFolder

from .workers import Task, TaskContext

# Steps below normal OS priority for CPU training (nice +10: weight 110 against the UI's 1024). The thread pool's
# threads are never lowered (an unprivileged thread cannot raise its priority back): a thread of its own is.
TRAINING_NICENESS = 10
T = TypeVar("T")


def lower_thread_priority(niceness: int) -> bool:
    """Lower the calling thread's OS scheduling priority by `niceness` steps (its nice value; Linux, where
    nice is per thread and the torch/OpenMP threads it starts inherit it); return True if it was lowered."""
    if niceness <= 0 or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + niceness))
    except OSError:
        return False
    return True


def call_at_lower_priority(fn: Callable[[], T], niceness: int = TRAINING_NICENESS) -> T:
    """Return fn() run on a new thread whose priority is lowered by `niceness` (see lower_thread_priority),
    waiting for it here; its exception, if any, is raised here. niceness 0: fn() runs on this thread."""
    if niceness <= 0:
        return fn()
    outcome: dict[str, object] = {}

    def target() -> None:
        lower_thread_priority(niceness)
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as it is
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="glyphs-training", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[return-value]


def training_niceness(device: str | None) -> int:
    """Return how far to lower the training thread's priority for `device`: TRAINING_NICENESS on the CPU; none
    on a GPU, whose feeding thread needs little CPU and should not wait behind other programs."""
    try:
        return TRAINING_NICENESS if select_device(device).type == "cpu" else 0
    except ValueError:
        return 0  # the Trainer reports the bad device


class TrainTask(Task):
    """Runs one Trainer (a new run, or a continued one) as a parallel task; start it with `TaskRunner.add`.

    Signals, besides Task's: `ready(dict)` once the Trainer is built (keys: step, device, train_alphabets,
    val_alphabets, train_images, config); `events(list)` with StepEvent / ValidationEvent / CheckpointEvent /
    FinishedEvent / FailedEvent in order. A run that fails, even while being set up, ends with a FailedEvent.
    Cancelling (the runner's `stop` or `shutdown`) stops the run the way `request_stop` does: with a checkpoint.

    Pause and stop are the run's `control` (engine.train.loop.RunControl), made here before the Trainer and
    handed to it, so a request made while the Trainer is built counts; the tab reads the run's state there.
    """

    ready = Signal(object)  # dict

    def __init__(self, config: TrainConfig, data: OmniglotSet, run_folder: RunFolder, continue_run: bool = False,
                 parent: QObject | None = None):
        super().__init__(self._train, "Training", serial=False, parent=parent)
        self.config, self.data, self.run_folder, self.continue_run = config, data, run_folder, continue_run
        self.control = RunControl()
        self.trainer: Trainer | None = None

    # --- control, from the UI thread --------------------------------------------------------------------------

    def pause(self) -> None:
        """Pause after the current step; what was held back is sent now so the display is up to date."""
        self.control.pause()
        self.context.flush()

    def unpause(self) -> None:
        """Continue a paused run."""
        self.control.unpause()

    def request_stop(self) -> None:
        """Ask the run to end after the current step (a paused one too); the Trainer then validates and writes a
        checkpoint."""
        self.control.request_stop()

    def cancel(self) -> None:
        """Stop the run (with a checkpoint); a run not yet started is dropped."""
        self.request_stop()
        if self.state == "queued":
            super().cancel()

    # --- the task ---------------------------------------------------------------------------------------------

    def _train(self, ctx: TaskContext) -> None:
        """Runs on a worker thread; the training itself on a thread of lower priority when on the CPU."""
        call_at_lower_priority(lambda: self._build_and_run(ctx), training_niceness(self.config.device))

    def _build_and_run(self, ctx: TaskContext) -> None:
        def report(event: TrainEvent) -> None:
            ctx.send(event, hold=isinstance(event, StepEvent))

        try:
            checkpoint = self.run_folder.read_checkpoint() if self.continue_run else None
            self.trainer = Trainer(self.config, self.data, self.run_folder.path, callback=report,
                                   checkpoint=checkpoint, control=self.control)
        except Exception as exc:  # bad device, unreadable checkpoint, impossible split: nothing was written
            report(FailedEvent(0, f"Could not start training: {exc}"))
            return
        # Read before `ready` goes out: a stop asked for once the tab shows the run running is a stop of the run
        # (it ends with a checkpoint and a FinishedEvent), not of its set-up.
        stopped_while_built = self.control.is_stopping
        ctx.flush()  # anything reported while the Trainer was built comes before `ready`
        self.ready.emit(self._describe(self.trainer))
        if stopped_while_built:  # nothing to save
            self.trainer = None
            return
        try:
            self.trainer.run()
        except TrainingError:
            pass  # already reported as a FailedEvent by the Trainer
        finally:
            # The run is over: its model and optimiser go now, not when Qt gets round to deleting this task (the
            # next Start freezes whatever is still alive then, for good).
            self.trainer = None

    @staticmethod
    def _describe(trainer: Trainer) -> dict:
        return {"step": trainer.step, "device": str(trainer.device), "config": trainer.config,
                "train_alphabets": list(trainer.split.train_alphabets),
                "val_alphabets": list(trainer.split.val_alphabets), "train_images": len(trainer.train_index)}


# --- the speed estimate ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SpeedEstimate:
    """Measured training speed on one device: seconds per step, images per second, steps in one epoch."""

    device: str
    seconds_per_step: float
    images_per_s: float
    steps_per_epoch: float
    train_images: int

    @property
    def seconds_per_epoch(self) -> float:
        """Return the estimated time for one pass over the training images."""
        return self.seconds_per_step * self.steps_per_epoch


def estimate_speed(config: TrainConfig, data: OmniglotSet, cancel: threading.Event,
                   min_time_s: float = 0.6, max_steps: int = 8) -> SpeedEstimate:
    """Return the training speed of `config` on its device, measured over a few real steps (after a warm-up).

    Runs in a scratch folder that is removed afterwards; raises Cancelled if `cancel` is set.
    """
    quiet = replace(config, val_every=0, checkpoint_every=0)
    with tempfile.TemporaryDirectory(prefix="glyphs-estimate-") as scratch:
        trainer = Trainer(quiet, data, scratch)
        trainer.model.train()
        float(trainer.train_one_step()[0].detach())  # warm-up: allocations, kernel selection
        steps, start = 0, time.perf_counter()
        while steps < max_steps and (steps < 2 or time.perf_counter() - start < min_time_s):
            if cancel.is_set():
                raise Cancelled("estimate cancelled")
            float(trainer.train_one_step()[0].detach())  # reading the loss waits for the device
            steps += 1
        per_step = (time.perf_counter() - start) / steps
    size = config.batch.size
    n_train = len(trainer.train_index)
    return SpeedEstimate(str(trainer.device), per_step, size / per_step, n_train / max(1, size), n_train)
