"""Thread workers shared by the app, built on superqt's `create_worker` (QThreadPool runnables).

Every engine call (torch import, model load, embedding, import, ranking, gallery edits) runs in a `Task`:
the function receives a `TaskContext` with a `cancel` event to pass to the engine and a `progress` reporter,
and the task reports back by Qt signals, always delivered on the UI thread.

Two lanes: *serial* tasks run one at a time in submission order (they own the engine state: model, gallery,
recogniser, so no locks are needed around it); *parallel* tasks (downloads, imports into new galleries) run
beside them so that a long import never delays ranking.
superqt is imported on first use: its package import pulls in all of its widgets and would delay the first
paint of the window by a noticeable fraction of a second.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (QCoreApplication, QElapsedTimer, QEventLoop, QObject, Qt, QThreadPool, QTimer, Signal,
                            Slot)

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress updates a second reach the UI


class Cancelled(Exception):
    """Raised inside a task when the user cancelled it."""


class TaskContext:
    """Handed to a task function: `cancel` (a threading.Event for the engine) and `progress(...)`."""

    def __init__(self, task: Task) -> None:
        self.cancel = threading.Event()
        self._task = task
        self._last = 0.0

    def progress(self, *args: Any) -> None:
        """Report progress from any engine callback shape: (done, total), (name, done, total), (text,).

        Integers are read as done then total; a string is shown as the text. Updates are throttled.
        """
        numbers = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
        texts = [a for a in args if isinstance(a, str)]
        done = int(numbers[-2]) if len(numbers) >= 2 else int(numbers[0]) if numbers else 0
        total = int(numbers[-1]) if len(numbers) >= 2 else 0
        now = time.monotonic()
        if now - self._last < PROGRESS_INTERVAL_S and not (total and done >= total):
            return
        self._last = now
        self._task._progress_raw.emit(done, total, texts[0] if texts else "")

    def check(self) -> None:
        """Raise `Cancelled` if the user cancelled the task (call between steps of long work)."""
        if self.cancel.is_set():
            raise Cancelled("cancelled")


class Task(QObject):
    """One unit of background work. Signals arrive on the UI thread; `finished` is always the last one."""

    started = Signal()
    progress = Signal(int, int, str)  # done, total (0 = unknown), text
    succeeded = Signal(object)  # the function's return value
    failed = Signal(object)  # the exception it raised
    cancelled = Signal()
    finished = Signal()

    _progress_raw = Signal(int, int, str)

    def __init__(self, fn: Callable[[TaskContext], Any], title: str, serial: bool, parent: QObject | None = None):
        super().__init__(parent)
        self.fn = fn
        self.title = title
        self.serial = serial
        self.context = TaskContext(self)
        self.state = "queued"  # queued -> running -> done | failed | cancelled
        self._worker: Any = None  # the superqt FunctionWorker while running
        # Queued explicitly: the raw signal is emitted on a worker thread and must be handled here, on the UI thread.
        self._progress_raw.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)

    @property
    def is_finished(self) -> bool:
        """Return True once the task succeeded, failed or was cancelled."""
        return self.state in ("done", "failed", "cancelled")

    def cancel(self) -> None:
        """Ask the task to stop; a queued task is dropped, a running one stops at its next check."""
        self.context.cancel.set()

    def _run(self) -> Any:
        """Runs on a worker thread."""
        self.context.check()
        return self.fn(self.context)

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

    @property
    def busy(self) -> bool:
        """Return True while any task is queued or running."""
        return bool(self._active)

    def active_tasks(self) -> list[Task]:
        """Return the queued and running tasks."""
        return list(self._active)

    def submit(self, fn: Callable[[TaskContext], Any], title: str, serial: bool = True) -> Task:
        """Queue `fn(context)` and return its Task (connect to its signals right away: it starts later)."""
        task = Task(fn, title, serial, self)
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
        clock = QElapsedTimer()
        clock.start()
        while (self._active or WorkerBase._worker_set) and clock.elapsed() < timeout_ms:
            QThreadPool.globalInstance().waitForDone(20)
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        return not self._active

