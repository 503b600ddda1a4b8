"""Background threads for the Train and Evaluate tabs: the Trainer's thread and one-off cancellable tasks.

Both are QThread subclasses whose `run()` executes in the new thread; they report to the UI only through
signals, which Qt queues to the UI thread. The UI controls them through thread-safe calls (threading.Event
underneath) and never waits on them, except in `shutdown` paths at exit.

Training events are batched: the Trainer may report hundreds of times a second on a GPU, and one queued signal
per event would flood the UI's event queue. Step events are held and sent together at most every
`flush_interval_s`; anything else (validation, checkpoint, the end) is sent at once with what was held, in order.
"""

from __future__ import annotations

import atexit
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal

from engine.data.omniglot import OmniglotSet
from engine.embedding import Cancelled
from engine.train import FailedEvent, StepEvent, TrainConfig, Trainer, TrainingError

_THREADS: "weakref.WeakSet[QThread]" = weakref.WeakSet()
_ALIVE: set[QThread] = set()  # strong references to started threads until they have finished


def is_running(thread: QThread | None) -> bool:
    """Return True if `thread` exists, has not been deleted, and is running."""
    return thread is not None and shiboken6.isValid(thread) and thread.isRunning()


def running_threads() -> list[QThread]:
    """Return the app's background threads that are still running (for shutdown checks and tests)."""
    return [t for t in list(_THREADS) if is_running(t)]


class _OwnedThread(QThread):
    """A QThread that keeps itself alive while it runs and deletes itself (later) once finished.

    It has no Qt parent on purpose: a widget deleted while its work is still finishing (for instance just after
    the result signal, before the thread has exited) must not destroy a running QThread, which aborts the
    process. The widgets keep plain references and connect bound methods, which Qt disconnects by itself if
    the widget goes first.
    """

    def __init__(self) -> None:
        super().__init__(None)
        _THREADS.add(self)
        self.finished.connect(self._release)

    def start(self, *args) -> None:  # noqa: D102 - QThread.start, plus the registry
        _ALIVE.add(self)
        super().start(*args)

    def _release(self) -> None:
        # Connected first, so it runs before the owners' `finished` slots. `finished` is emitted just before
        # the thread exits: wait for the exit (microseconds) so that the deletion never meets a running thread.
        self.wait()
        _ALIVE.discard(self)
        self.deleteLater()


@atexit.register
def _stop_at_exit() -> None:
    # A window closed without calling shutdown() must not leave Qt to destroy running threads (an abort).
    stop_threads(list(_ALIVE), timeout_s=60)


class TrainThread(_OwnedThread):
    """Runs one Trainer (new or resumed) in its own thread and relays its events in batches.

    Signals: `ready(dict)` once the Trainer is built (keys: step, device, train_alphabets, val_alphabets,
    train_images, config); `events(list)` with StepEvent / ValidationEvent / CheckpointEvent / FinishedEvent /
    FailedEvent in order. A run that fails, even while being set up, ends with a FailedEvent.
    """

    ready = Signal(object)  # dict
    events = Signal(object)  # list of events

    def __init__(self, config: TrainConfig, data: OmniglotSet, out_dir: str | Path, resume: bool = False,
                 flush_interval_s: float = 0.1):
        super().__init__()
        self.config, self.data, self.out_dir, self.resume = config, data, Path(out_dir), resume
        self.flush_interval_s = flush_interval_s
        self.trainer: Trainer | None = None
        self._lock = threading.Lock()
        self._pending: list = []
        self._last_flush = 0.0
        self._stop, self._paused = threading.Event(), threading.Event()

    # --- control, from the UI thread --------------------------------------------------------------------------

    def pause(self) -> None:
        """Pause after the current step; what was held back is sent now so the display is up to date."""
        self._paused.set()
        if self.trainer is not None:
            self.trainer.pause()
        self.flush()

    def resume_training(self) -> None:
        """Continue a paused run."""
        self._paused.clear()
        if self.trainer is not None:
            self.trainer.resume_training()

    def request_stop(self) -> None:
        """Ask the run to end after the current step; the Trainer then validates and writes a checkpoint."""
        self._stop.set()
        if self.trainer is not None:
            self.trainer.request_stop()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # --- the thread -------------------------------------------------------------------------------------------

    def run(self) -> None:  # noqa: D102 - QThread entry point, runs in the new thread
        try:
            self.trainer = Trainer(self.config, self.data, self.out_dir, callback=self._on_event,
                                   resume=self.resume)
        except Exception as exc:  # bad device, unreadable checkpoint, impossible split: nothing was written
            self._on_event(FailedEvent(0, f"Could not start training: {exc}"))
            return
        self._apply_requests(self.trainer)
        self.ready.emit(self._describe(self.trainer))
        if self._stop.is_set():  # stopped while the Trainer was being built: nothing to save
            self.flush()
            return
        try:
            self.trainer.run()
        except TrainingError:
            pass  # already reported as a FailedEvent by the Trainer
        finally:
            self.flush()

    def _apply_requests(self, trainer: Trainer) -> None:
        # Pause or stop may have been asked for before the Trainer existed.
        if self._paused.is_set():
            trainer.pause()
        if self._stop.is_set():
            trainer.request_stop()

    @staticmethod
    def _describe(trainer: Trainer) -> dict:
        return {"step": trainer.step, "device": str(trainer.device), "config": trainer.config,
                "train_alphabets": list(trainer.split.train_alphabets),
                "val_alphabets": list(trainer.split.val_alphabets), "train_images": len(trainer.train_index)}

    def _on_event(self, event: Any) -> None:
        """Trainer callback (training thread): hold step events, send the batch when due or when it matters."""
        with self._lock:
            self._pending.append(event)
            now = time.monotonic()
            if isinstance(event, StepEvent) and now - self._last_flush < self.flush_interval_s:
                return
            self._emit_locked(now)

    def flush(self) -> None:
        """Send whatever events are held back (safe from any thread)."""
        with self._lock:
            self._emit_locked(time.monotonic())

    def _emit_locked(self, now: float) -> None:
        # Emitting under the lock keeps batches in order whichever thread flushes; a queued emit never blocks.
        if self._pending:
            batch, self._pending = self._pending, []
            self.events.emit(batch)
        self._last_flush = now


ProgressFn = Callable[[int, int], None]


class TaskThread(_OwnedThread):
    """Runs `fn(progress, cancel)` once in its own thread.

    `fn` gets a `progress(done, total)` callback (throttled here to ~20 signals a second) and a
    threading.Event that is set on `cancel()`. Signals: `progress(int, int)`, `succeeded(object)` with fn's
    return value, `failed(str)` with a readable message, `cancelled()` when fn raised engine's `Cancelled`.
    """

    progress = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, fn: Callable[[ProgressFn, threading.Event], Any], min_interval_s: float = 0.05, **info):
        super().__init__()
        self.fn = fn
        self.info = info  # whatever the owner needs to know when the result arrives (e.g. the folder)
        self.cancel_event = threading.Event()
        self._min_interval = min_interval_s
        self._last_progress = 0.0

    def cancel(self) -> None:
        """Ask the task to stop at its next check."""
        self.cancel_event.set()

    def run(self) -> None:  # noqa: D102 - QThread entry point, runs in the new thread
        try:
            result = self.fn(self._progress, self.cancel_event)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # shown to the user; the engine's messages say what to do
            if self.cancel_event.is_set():
                self.cancelled.emit()
            else:
                self.failed.emit(_readable(exc))
        else:
            self.succeeded.emit(result)

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - self._last_progress >= self._min_interval:
            self._last_progress = now
            self.progress.emit(int(done), int(total))


def _readable(exc: BaseException) -> str:
    text = str(exc).strip()
    return text if text else type(exc).__name__


def stop_threads(threads: list[QThread], timeout_s: float = 30.0) -> bool:
    """Ask each thread to stop (training saves a checkpoint) and wait for all; return True if all ended."""
    threads = [t for t in threads if is_running(t)]
    for thread in threads:
        if isinstance(thread, TrainThread):
            thread.request_stop()
            thread.resume_training()  # a paused trainer must wake up to see the stop
        elif isinstance(thread, TaskThread):
            thread.cancel()
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        left_ms = max(0, int((deadline - time.monotonic()) * 1000))
        if shiboken6.isValid(thread):
            thread.wait(left_ms)
    return not any(is_running(t) for t in threads)


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
