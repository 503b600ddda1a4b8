"""The status bar: model name, device, gallery name and size, and the progress of long tasks with Cancel."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from engine.workspace import GallerySnapshot, ModelInfo

from .icons import icon
from .workers import Task


class StatusBar(QStatusBar):
    """Permanent fields for the model, device and gallery; a progress bar while a tracked task runs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setMaximumHeight(16)
        self.cancel = QToolButton()
        self.cancel.setIcon(icon("cancel"))
        self.cancel.setText("Cancel")
        self.cancel.setToolTip("Cancel")
        self.cancel.setAutoRaise(True)
        self.cancel.clicked.connect(self._cancel)
        self.model = QLabel("Model: loading…")
        self.device = QLabel("")
        self.gallery = QLabel("No gallery")
        for label in (self.task_label, self.model, self.device, self.gallery):
            # An explicit minimum lets long texts be cut (full text in the tooltip) instead of the status bar
            # forcing a minimum width on the whole window.
            label.setMinimumWidth(40)
        for widget in (self.task_label, self.progress, self.cancel):
            self.addWidget(widget)
            widget.hide()
        for widget in (self.gallery, self.model, self.device):
            self.addPermanentWidget(widget)
        self._tasks: list[Task] = []

    def set_model(self, info: ModelInfo | None, text: str | None = None) -> None:
        """Show the model in use (or `text`, e.g. "Model: none")."""
        if info is None:
            self.model.setText(text or "Model: none")
            self.model.setToolTip("")
            self.device.setText("")
            return
        self.model.setText(f"Model: {info.name}")
        self.model.setToolTip(str(info.path) if info.path else "")
        self.device.setText(f"Device: {info.device_label}")
        self.device.setToolTip(info.device)

    def set_gallery(self, snapshot: GallerySnapshot | None) -> None:
        """Show the gallery's name and size."""
        if snapshot is None:
            self.gallery.setText("No gallery")
            self.gallery.setToolTip("")
            return
        self.gallery.setText(f"Gallery: {snapshot.name} ({len(snapshot.characters)} characters, "
                             f"{snapshot.n_references} examples)")
        self.gallery.setToolTip(str(snapshot.path))

    def track(self, task: Task, cancellable: bool = True) -> None:
        """Show `task`'s title and progress until it ends; Cancel stops it when `cancellable`."""
        task.setProperty("cancellable", cancellable)
        self._tasks.append(task)
        task.progress.connect(lambda done, total, text, t=task: self._on_progress(t, done, total, text))
        task.finished.connect(lambda t=task: self._on_finished(t))
        self._show(task)

    def current_task(self) -> Task | None:
        """Return the task whose progress is shown, or None."""
        return self._tasks[-1] if self._tasks else None

    def _show(self, task: Task, text: str = "") -> None:
        self.task_label.setText(f"{task.title}… {text}".strip())
        self.task_label.setToolTip(task.title)
        self.progress.setRange(0, 0)  # busy until the first real numbers arrive
        for widget in (self.task_label, self.progress):
            widget.show()
        self.cancel.setVisible(bool(task.property("cancellable")))

    def _on_progress(self, task: Task, done: int, total: int, text: str) -> None:
        if task is not self.current_task():
            return
        if text:
            self.task_label.setText(f"{task.title}: {text}")
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(1000 * min(done, total) / total))

    def _on_finished(self, task: Task) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        if self._tasks:
            self._show(self._tasks[-1])
        else:
            for widget in (self.task_label, self.progress, self.cancel):
                widget.hide()

    def _cancel(self) -> None:
        task = self.current_task()
        if task is not None:
            task.cancel()
            self.task_label.setText(f"{task.title}: cancelling…")
