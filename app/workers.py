"""The app's one way to run work off the UI thread: `Task`s started by a `TaskRunner` on superqt's workers
(QThreadPool runnables).

Every engine call (torch import, model load, embedding, import, ranking, gallery edits, dataset checks,
downloads, benchmarks, training) runs in a `Task`: the function receives a `TaskContext` with a `cancel` event to
pass to the engine, a `progress` reporter and `send` for events (a Trainer's), and the task reports back by Qt
signals, always delivered on the UI thread. Cancelling raises the engine's `Cancelled` at the next check;
`finished` is always the last signal, after exactly one of succeeded / failed / cancelled.

Two lanes: *serial* tasks run one at a time in submission order (they own the engine state: model, gallery,
recogniser, so no locks are needed around it); *parallel* tasks (downloads, imports into new galleries, the
Train and Evaluate tabs' work) run beside them so that a long import never delays ranking. The window and each
tab own a runner; `shutdown` cancels a runner's tasks and waits for them.
superqt is imported on first use: its package import pulls in all of its widgets and would delay the first
paint of the window by a noticeable fraction of a second.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import (QCoreApplication, QElapsedTimer, QEventLoop, QObject, Qt, QThreadPool, QTimer, Signal,
                            Slot)

from engine.cancel import Cancelled
from engine.workspace import describe_error  # noqa: F401 - the app's widgets import it from here

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress updates a second reach the UI
EVENTS_INTERVAL_S = 0.1  # held events (a Trainer's steps: hundreds a second on a GPU) go out in batches this often




class Throttle:
    """Says whether enough time has passed since the last time it let something through (thread-safe enough:
    at worst two callers both pass once)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._last = float("-inf")

    def due(self, force: bool = False) -> bool:
        """Return True (and restart the interval) if `interval_s` has passed or `force` is set."""
        now = time.monotonic()
        if not force and now - self._last < self.interval_s:
            return False
        self._last = now
        return True


class TaskContext:
    """Handed to a task function: `cancel` (a threading.Event for the engine), `progress(...)` and `send(...)`."""

    def __init__(self, task: Task) -> None:
        self.cancel = threading.Event()
        self._task = task
        self._progress = Throttle(PROGRESS_INTERVAL_S)
        self._events = Throttle(EVENTS_INTERVAL_S)
        self._lock = threading.Lock()
        self._held: list = []

    def progress(self, *args: Any) -> None:
        """Report progress from any engine callback shape: (done, total), (name, done, total), (text,).

        Integers are read as done then total; a string is shown as the text. Updates are throttled.
        """
        numbers = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
        texts = [a for a in args if isinstance(a, str)]
        done = int(numbers[-2]) if len(numbers) >= 2 else int(numbers[0]) if numbers else 0
        total = int(numbers[-1]) if len(numbers) >= 2 else 0
        if self._progress.due(force=bool(total) and done >= total):
            self._task._progress_raw.emit(done, total, texts[0] if texts else "")

    def send(self, event: Any, hold: bool = False) -> None:
        """Report `event` to the UI (the task's `events` signal, in batches, in order).

        A held event waits for the next batch (sent at most every EVENTS_INTERVAL_S); any other sends the batch now.
        """
        with self._lock:
            self._held.append(event)
            if self._events.due(force=not hold):
                self._emit_locked()

    def flush(self) -> None:
        """Send the held events now (safe from any thread; the task does it when its function ends)."""
        with self._lock:
            self._emit_locked()

    def _emit_locked(self) -> None:
        # Emitting under the lock keeps batches in order whichever thread flushes; a queued emit never blocks.
        if self._held:
            batch, self._held = self._held, []
            self._task._events_raw.emit(batch)

    def check(self) -> None:
        """Raise `Cancelled` if the user cancelled the task (call between steps of long work)."""
        if self.cancel.is_set():
            raise Cancelled("cancelled")


class Task(QObject):
    """One unit of background work. Signals arrive on the UI thread; `finished` is always the last one.

    `info` holds whatever the owner needs to know when the result arrives (e.g. the folder a check was for).
    """

    started = Signal()
    progress = Signal(int, int, str)  # done, total (0 = unknown), text
    events = Signal(object)  # a list of what the function sent, in order
    succeeded = Signal(object)  # the function's return value
    failed = Signal(object)  # the exception it raised (describe_error makes it a sentence)
    cancelled = Signal()
    finished = Signal()

    _progress_raw = Signal(int, int, str)
    _events_raw = Signal(object)

    def __init__(self, fn: Callable[[TaskContext], Any], title: str, serial: bool = False,
                 parent: QObject | None = None, **info: Any):
        super().__init__(parent)
        self.fn = fn
        self.title = title
        self.serial = serial
        self.info = info
        self.context = TaskContext(self)
        self.state = "queued"  # queued -> running -> done | failed | cancelled
        self._worker: Any = None  # the superqt FunctionWorker while running
        # Queued explicitly: the raw signals are emitted on a worker thread (or by a flush on this one) and are
        # handled here, on the UI thread, in the order they were sent.
        self._progress_raw.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self._events_raw.connect(self._on_events, Qt.ConnectionType.QueuedConnection)

    @property
    def is_finished(self) -> bool:
        """Return True once the task succeeded, failed or was cancelled."""
        return self.state in ("done", "failed", "cancelled")

    def cancel(self) -> None:
        """Ask the task to stop; a queued task is dropped, a running one stops at its next check (it raises the
        engine's `Cancelled`, or ends on its own, and `cancelled` is emitted)."""
        self.context.cancel.set()

    def _run(self) -> Any:
        """Runs on a worker thread."""
        self.context.check()
        try:
            return self.fn(self.context)
        finally:
            self.context.flush()  # every event reaches the UI before the result and `finished`

    def start(self) -> None:
        """Start the task on superqt's thread pool (called by `TaskRunner`)."""
        from superqt.utils import create_worker

        self.state = "running"
        worker = create_worker(self._run, _start_thread=False, _ignore_errors=True)
        queued = Qt.ConnectionType.QueuedConnection
        worker.returned.connect(self._on_returned, queued)
        worker.errored.connect(self._on_errored, queued)
        worker.finished.connect(self._on_finished, queued)
        self._worker = worker
        self.started.emit()
        _make_room()
        worker.start()

    def finish_unstarted(self) -> None:
        """Close a task that was cancelled before it ever ran."""
        self.state = "cancelled"
        self.cancelled.emit()
        self.finished.emit()

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, text: str) -> None:
        if not self.is_finished:
            self.progress.emit(done, total, text)

    @Slot(object)
    def _on_events(self, batch: list) -> None:
        self.events.emit(batch)

    @Slot(object)
    def _on_returned(self, value: Any) -> None:
        self.state = "done"
        self.succeeded.emit(value)

    @Slot(object)
    def _on_errored(self, exc: BaseException) -> None:
        if isinstance(exc, Cancelled) or self.context.cancel.is_set():
            self.state = "cancelled"
            self.cancelled.emit()
        else:
            self.state = "failed"
            self.failed.emit(exc)

    @Slot()
    def _on_finished(self) -> None:
        if not self.is_finished:  # the worker was aborted without a result
            self.state = "cancelled"
            self.cancelled.emit()
        self._worker = None
        self.finished.emit()


class TaskRunner(QObject):
    """Starts tasks: serial ones one after another, parallel ones at once; tracks all of them."""

    task_started = Signal(object)  # Task
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: deque[Task] = deque()
        self._serial_running: Task | None = None
        self._active: set[Task] = set()
        self._closed = False
        # A runner deleted with its owner (a tab closed without `shutdown`) still stops its work: a task left
        # running would keep the app from exiting (Qt waits for the thread pool).
        active = self._active
        self.destroyed.connect(lambda *_: [t.cancel() for t in list(active) if shiboken6.isValid(t)])

    @property
    def busy(self) -> bool:
        """Return True while any task is queued or running."""
        return bool(self._active)

    def active_tasks(self) -> list[Task]:
        """Return the queued and running tasks."""
        return list(self._active)

    def submit(self, fn: Callable[[TaskContext], Any], title: str, serial: bool = True, **info: Any) -> Task:
        """Queue `fn(context)` and return its Task (connect to its signals right away: it starts later)."""
        return self.add(Task(fn, title, serial, self, **info))

    def add(self, task: Task) -> Task:
        """Queue a Task built by the caller (a subclass with controls of its own) and return it."""
        serial = task.serial
        task.setParent(self)
        if self._closed:
            task.context.cancel.set()
        was_busy = self.busy
        self._active.add(task)
        task.finished.connect(lambda t=task: self._on_task_finished(t))
        if serial:
            self._queue.append(task)
        # Start from the event loop so the caller can connect its slots first.
        QTimer.singleShot(0, self, self._pump if serial else (lambda t=task: self._start(t)))
        if not was_busy:
            self.busy_changed.emit(True)
        return task

    def _start(self, task: Task) -> None:
        if task.context.cancel.is_set():
            task.finish_unstarted()
            return
        self.task_started.emit(task)
        task.start()

    def _pump(self) -> None:
        while self._serial_running is None and self._queue:
            task = self._queue.popleft()
            if task.context.cancel.is_set():
                task.finish_unstarted()
                continue
            self._serial_running = task
            self._start(task)

    def _on_task_finished(self, task: Task) -> None:
        self._active.discard(task)
        if task is self._serial_running:
            self._serial_running = None
            self._pump()
        task.deleteLater()
        if not self.busy:
            self.busy_changed.emit(False)

    def cancel_all(self) -> None:
        """Ask every queued and running task to stop."""
        for task in list(self._active):
            task.cancel()


    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel everything, refuse new work and wait (processing events) until all tasks end.

        Returns True if every task ended within `timeout_ms`.
        """
        from superqt.utils import WorkerBase

        self._closed = True
        self.cancel_all()
        _wait_until(lambda: not self._active and not WorkerBase._worker_set, timeout_ms)
        return not self._active


def _make_room() -> None:
    # The pool holds one thread per core by default; a training run or a download would then hold back the
    # next task. The runners' lanes bound how much runs at once, so every started task gets a thread now.
    pool = QThreadPool.globalInstance()
    if pool.activeThreadCount() >= pool.maxThreadCount():
        pool.setMaxThreadCount(pool.activeThreadCount() + 1)


def is_running(task: Task | None) -> bool:
    """Return True if `task` exists, has not been deleted, and is queued or running."""
    return task is not None and shiboken6.isValid(task) and not task.is_finished


def stop_tasks(tasks: list[Task], timeout_s: float = 30.0) -> bool:
    """Cancel `tasks` (training saves a checkpoint) and wait, processing events so that their last signals
    arrive, until all have finished; return True if they did within `timeout_s`."""
    tasks = [t for t in tasks if is_running(t)]
    for task in tasks:
        task.cancel()
    return _wait_until(lambda: not any(is_running(t) for t in tasks), int(timeout_s * 1000))


def _wait_until(done: Callable[[], bool], timeout_ms: int) -> bool:
    """Process events until `done()` or `timeout_ms` passed; return `done()`."""
    clock = QElapsedTimer()
    clock.start()
    while not done() and clock.elapsed() < timeout_ms:
        QThreadPool.globalInstance().waitForDone(20)
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
    return done()

