"""The main window: menus, the Recognise / Train / Evaluate tabs, the message bar and the status bar.

Startup never waits for the engine: the window shows at once, then the model (torch) and the last gallery
load in workers while the results pane says "Loading model…". Settings remember the geometry, the last
gallery and the last model; the first start shows the welcome.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QFrame, QLabel, QMainWindow, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from engine.gallery.history import characters_text
from engine.glyph import IMAGE_SUFFIXES, STROKE_SUFFIX
from engine.workspace import GallerySnapshot, ModelInfo

from . import dialogs
from .icons import app_icon, icon
from .message_bar import MessageBar
from .recognise_tab import RecogniseTab
from .session import EngineSession
from .settings import AppSettings
from .status import StatusBar
from .undo_actions import CANVAS, GALLERY, UndoActions, shortcut_text
from .welcome import WelcomeDialog
from .workers import Task, TaskRunner, describe_error

SHUTDOWN_TIMEOUT_MS = 30_000  # cancellable work stops within a chunk; loading torch cannot be interrupted
WORK_TABS = ("Transcribe", "Train", "Evaluate")  # after Recognise, in this order


class WorkTab(Protocol):
    """What the window asks of the Train and Evaluate tabs when it closes."""

    def confirm_close(self) -> bool:
        """Return True if the tab may close now (it may ask the person first)."""

    def shutdown(self) -> bool:
        """Stop the tab's background work (training saves a checkpoint); return True once all of it ended."""


def _import_work_tabs() -> tuple[type, type, type]:
    """Return the TrainTab, EvaluateTab and TranscribeTab classes (their modules import torch, pyqtgraph: seconds)."""
    from .evaluate_tab import EvaluateTab
    from .train_tab import TrainTab
    from .transcribe_tab import TranscribeTab

    return TrainTab, EvaluateTab, TranscribeTab


def _scrolling(tab: QWidget) -> QScrollArea:
    """Return `tab` in a scroll area that lets it fill the page and scrolls it when the window is smaller than
    the tab's minimum size: a tab's controls never set the window's minimum (it must fit a 1024-wide screen)."""
    area = QScrollArea()
    area.setObjectName(f"{type(tab).__name__}Scroll")
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(tab)
    return area


class MainWindow(QMainWindow):
    """The Glyphs window. `settings` defaults to `AppSettings()`; `welcome=False` skips the first-start welcome;
    `work_tabs=False` leaves out the Train and Evaluate tabs (a window for recognition only starts lighter)."""

    def __init__(self, settings: AppSettings | None = None, welcome: bool = True, work_tabs: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings or AppSettings()
        self.runner = TaskRunner(self)
        self.session = EngineSession(self.runner, self)
        self.welcome: WelcomeDialog | None = None
        self._gallery_names: dict[Path, str] = {}  # gallery folder -> the name it shows
        self._closing = False
        self._work_tabs = work_tabs
        self.setWindowTitle("Glyphs")
        self.setWindowIcon(app_icon())
        self._build()
        self._make_actions()
        self._make_menus()
        self._connect()
        self._restore_geometry()
        self._start(welcome)

    # ------------------------------------------------------------------ construction

    def _build(self) -> None:
        self.recognise = RecogniseTab(self.session)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.recognise, "Recognise")
        self._add_tab_placeholders()
        # Messages show in the tab bar's row, right of the tabs: no band of its own when there is none, and a
        # message coming or going moves nothing.
        self.message_bar = MessageBar(lines=1)
        self.message_bar.fill_width = lambda: self.tabs.width() - self.tabs.tabBar().sizeHint().width() - 16
        self.tabs.setCornerWidget(self.message_bar, Qt.Corner.TopRightCorner)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self.undo_actions = UndoActions(self.recognise.canvas.undo_stack, self.session, self)

    def _add_tab_placeholders(self) -> None:
        # The Train and Evaluate tabs import torch and pyqtgraph at module level, which takes seconds: they
        # start as placeholders; their modules are imported in a worker after the first model load.
        self.train_tab = None
        self.evaluate_tab = None
        self.transcribe_tab = None
        self._placeholders: dict[str, QWidget] = {}
        if not self._work_tabs:
            return
        for title in WORK_TABS:
            placeholder = QLabel(f"Loading the {title} tab…")
            placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.tabs.addTab(placeholder, title)
            self._placeholders[title] = placeholder

    def _import_work_tabs(self) -> None:
        """Import the Train/Evaluate modules in a worker (pyqtgraph and friends take seconds), then build them."""
        if not self._placeholders or self._closing:
            return
        task = self.runner.submit(lambda _ctx: _import_work_tabs(), "Preparing the Train and Evaluate tabs",
                                  serial=False)
        task.succeeded.connect(self._build_work_tabs)
        task.failed.connect(self._work_tabs_failed)

    def _work_tabs_failed(self, exc: BaseException) -> None:
        self.show_message("error", f"The Transcribe, Train and Evaluate tabs could not be loaded: "
                                   f"{describe_error(exc)}. Recognition works as usual.")
        self._replace_placeholders({})

    def _build_work_tabs(self, classes: tuple[type, type]) -> None:
        """Replace the placeholders by the real tabs."""
        if self._closing:
            return
        train_class, evaluate_class, transcribe_class = classes
        folder = self.settings.dataset_folder
        data_dir = folder if folder is not None and folder.is_dir() else None
        self.train_tab = train_class(self, data_dir=data_dir)
        self.evaluate_tab = evaluate_class(self, data_dir=data_dir)
        self.transcribe_tab = transcribe_class(self.session)
        for tab in (self.train_tab, self.evaluate_tab):
            tab.dataset.dataset_changed.connect(self._on_dataset_checked)
        self.train_tab.model_ready.connect(self.use_model)
        self.train_tab.run_started.connect(lambda run: setattr(self.settings, "last_run", run))
        self._replace_placeholders({"Train": self.train_tab, "Evaluate": self.evaluate_tab,
                                    "Transcribe": self.transcribe_tab})
        if self.settings.last_run is not None:
            self.train_tab.reopen_run(self.settings.last_run)  # Start then continues it from its checkpoint

    def _replace_placeholders(self, tabs: dict[str, QWidget]) -> None:
        current = self.tabs.currentIndex()
        for title, placeholder in self._placeholders.items():
            index = self.tabs.indexOf(placeholder)
            self.tabs.removeTab(index)
            if title in tabs:
                self.tabs.insertTab(index, _scrolling(tabs[title]), title)
            placeholder.deleteLater()
        self._placeholders.clear()
        self.tabs.setCurrentIndex(min(current, self.tabs.count() - 1))

    def work_tabs(self) -> list[WorkTab]:
        """Return the Train and Evaluate tabs that are built (none while they load, or with work_tabs=False)."""
        return [t for t in (self.train_tab, self.evaluate_tab, self.transcribe_tab) if t is not None]

    def _on_dataset_checked(self, status) -> None:
        """A tab's panel found a usable Omniglot folder: it becomes the app's one Omniglot folder."""
        if status.state in ("found", "partial"):
            self.use_dataset_folder(status.folder, chosen=False)

    def use_dataset_folder(self, folder: str | Path, chosen: bool = True) -> None:
        """Make `folder` the Omniglot folder of the whole app, whichever screen chose it (the welcome, the Train
        or the Evaluate tab): remembered in the settings (the tabs start there after a restart, the welcome
        looks there first) and given to each tab that has not found a dataset elsewhere. A folder the person
        has just `chosen` also replaces a check still running in a tab (of the default place, at startup)."""
        folder = Path(folder)
        self.settings.dataset_folder = folder
        for tab in (self.train_tab, self.evaluate_tab):
            panel = getattr(tab, "dataset", None)
            if panel is None or panel.folder() == folder:
                continue
            if (chosen and panel.is_loading()) or (not panel.is_loading() and panel.status is not None
                                                   and panel.status.state in ("missing", "corrupt")):
                panel.set_folder(folder)

    def _action(self, text: str, slot, shortcut=None, icon_name: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(k) for k in keys])
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _make_actions(self) -> None:
        Key, A = QKeySequence.StandardKey, self._action
        self.act_open_image = A("Open &Image…", self.open_image_dialog, Key.Open, "open-image",
                                "Recognise a character from an image file")
        self.act_open_model = A("Open &Model…", self.open_model_dialog, None, "model",
                                "Use another weights file (.safetensors) for recognition")
        self.act_shipped_model = A("Use the &Shipped Model", lambda: self.use_model(None))
        self.act_quit = A("&Quit", self.close, Key.Quit)
        self.act_query_views = A("Rank &Distorted Copies of Each Drawing Too", self.toggle_query_views,
                                 tip="A little surer, a little slower: each drawing is also ranked slightly rotated, "
                                     "slanted and scaled, and the scores averaged")
        self.act_query_views.setCheckable(True)
        self.act_undo, self.act_redo = self.undo_actions.undo, self.undo_actions.redo
        self.act_clear = A("&Clear Canvas", self.clear_canvas, Qt.Key.Key_Escape, "clear", "Clear the drawing (Esc)")
        self.act_clear.setIconText("Clear")
        self.act_open_image.setIconText("Open")
        self.act_open_image.setToolTip("Recognise a character from an image file (Open Image…)")
        self.act_new_gallery = A("&New Gallery…", self.new_gallery, Key.New, "new-gallery", "Create an empty gallery")
        self.act_open_gallery = A("&Open Gallery…", self.open_gallery_dialog, "Ctrl+Shift+O", "open-gallery",
                                  "Open a gallery folder")
        self.act_import_folder = A("Import Alphabet from &Folder…", lambda: self.import_dialog("folder"), "Ctrl+I",
                                   "import", "Import a folder of images (one per character) as a new gallery")
        self.act_import_zip = A("Import Alphabet from &Zip…", lambda: self.import_dialog("zip"), None, "import",
                                "Import a zip of images as a new gallery")
        self.act_import_font = A("Import from Fo&nt…", self.import_font_dialog, None, "import",
                                 "Enrol characters from a font: a script, a block, or every symbol it has")
        self.act_add_images = A("Add &Images to Gallery…", self.add_images_dialog, None, "add-character",
                                "Add image files as characters of this gallery")
        self.act_export_zip = A("&Export Gallery as Zip…", lambda: self.export_dialog(True), "Ctrl+E", "export")
        self.act_export_folder = A("Export Gallery to F&older…", lambda: self.export_dialog(False), None, "export")
        self.act_omniglot = A("Try an &Omniglot Alphabet…", self.show_welcome, None, "references")
        self.act_rename = A("&Rename Character…", self.rename_selected, Qt.Key.Key_F2, "rename")
        self.act_delete = A("&Delete Character", self.delete_selected, Key.Delete, "delete")
        self.act_merge = A("&Merge Characters…", self.merge_selected, None, "merge",
                           "Merge the selected characters into one (their examples are pooled)")
        self.act_about = A("&About Glyphs", self.about)
        self._scope_shortcuts()

    def _scope_shortcuts(self) -> None:
        # Esc clears the canvas wherever the focus is in the Recognise tab (a button, the gallery, the results);
        # Delete clears it too from the drawing side, and removes a character when the gallery has focus:
        # scoping both avoids an ambiguous shortcut.
        within = Qt.ShortcutContext.WidgetWithChildrenShortcut
        self.act_clear.setShortcutContext(within)
        self.recognise.addAction(self.act_clear)
        clear_by_delete = self._action("Clear Canvas", self.clear_canvas, Qt.Key.Key_Delete)
        clear_by_delete.setShortcutContext(within)
        self.recognise.left.addAction(clear_by_delete)
        self.recognise.results.addAction(clear_by_delete)
        for act in (self.act_delete, self.act_rename):
            act.setShortcutContext(within)
            self.recognise.gallery_view.addAction(act)
        canvas_tools = self.recognise.canvas_tools
        for act in (self.act_undo, self.act_redo, self.act_clear, self.act_open_image):
            canvas_tools.addAction(act)
        gallery = self.recognise.gallery_view
        for act in (self.act_new_gallery, self.act_open_gallery, self.act_import_folder, self.act_export_zip,
                    self.act_rename, self.act_delete, self.act_merge):
            gallery.toolbar.addAction(act)
        for act in (self.act_rename, self.act_delete, self.act_merge):
            gallery.grid.addAction(act)

    def _make_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for act in (self.act_open_image, None, self.act_open_model, self.act_shipped_model):
            file_menu.addSeparator() if act is None else file_menu.addAction(act)
        self.device_menu = file_menu.addMenu("&Device")
        self.device_menu.setEnabled(False)
        file_menu.addAction(self.act_query_views)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        edit = bar.addMenu("&Edit")
        for act in (self.act_undo, self.act_redo, None, self.act_clear, None, self.act_rename, self.act_delete,
                    self.act_merge):
            edit.addSeparator() if act is None else edit.addAction(act)
        gallery = bar.addMenu("&Gallery")
        for act in (self.act_new_gallery, self.act_open_gallery):
            gallery.addAction(act)
        self.recent_menu = gallery.addMenu("&Recent Galleries")
        for act in (None, self.act_import_folder, self.act_import_zip, self.act_import_font, self.act_add_images,
                    self.act_omniglot, None,
                    self.act_export_zip, self.act_export_folder):
            gallery.addSeparator() if act is None else gallery.addAction(act)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.act_about)
        help_menu.addAction(self._action("&Welcome…", self.show_welcome))

    def _connect(self) -> None:
        s = self.session
        s.model_loading.connect(self._on_model_loading)
        s.model_changed.connect(self._on_model_changed)
        s.model_failed.connect(self._on_model_failed)
        s.gallery_changed.connect(self._on_gallery_changed)
        s.error.connect(lambda text: self.show_message("error", text))
        s.info.connect(lambda text: self.show_message("info", text))
        self.recognise.message.connect(self.show_message)
        view = self.recognise.gallery_view
        view.files_dropped.connect(self.drop_on_gallery)
        view.switch_requested.connect(self.open_gallery)
        view.selection_changed.connect(self._update_actions)
        self.recognise.canvas.installEventFilter(self)
        view.grid.installEventFilter(self)
        self.runner.task_started.connect(self._track_task)
        self._update_actions()

    # ------------------------------------------------------------------ startup and shutdown

    def _start(self, welcome: bool) -> None:
        self.recognise.results.show_hint("Loading model…")
        if self.settings.query_views:
            self.act_query_views.setChecked(True)
            self.toggle_query_views()
        first = self.session.load_model(self.settings.last_model, self.settings.device)
        first.finished.connect(self._import_work_tabs)
        last = self.settings.last_gallery
        if last is not None and last.is_dir():
            self.open_gallery(last)
        elif last is not None:
            self.show_message("error", f"The last gallery ({last}) is no longer there. Create, open or import "
                                       "a gallery from the Gallery menu.")
            self.settings.forget_gallery(last)
        elif welcome and not self.settings.welcomed:
            QTimer.singleShot(0, self.show_welcome)
        self._refresh_recent()

    def _restore_geometry(self) -> None:
        geometry = self.settings.geometry("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1180, 720)
        splitter = self.settings.geometry("splitter")
        if splitter is not None:
            self.recognise.splitter.restoreState(splitter)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Ask the other tabs (a training run may want confirming), save the geometry, stop all work, close."""
        tabs = self.work_tabs()
        if not all(t.confirm_close() for t in tabs):
            event.ignore()
            return
        self._closing = True
        self.settings.set_geometry("geometry", self.saveGeometry())
        self.settings.set_geometry("splitter", self.recognise.splitter.saveState())
        if self.welcome is not None:
            self.welcome.close()
        for tab in tabs:
            tab.shutdown()  # their work (training saves a checkpoint) must end before the app does
        self.hide()  # the window goes at once; uncancellable work (importing torch) may need a few seconds more
        self.runner.shutdown(SHUTDOWN_TIMEOUT_MS)
        event.accept()


    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        # Ctrl+Z follows the area last worked in: the canvas's strokes or the gallery's edits.
        if not self._closing and event.type() in (QEvent.Type.FocusIn, QEvent.Type.MouseButtonPress):
            if watched is self.recognise.canvas:
                self.undo_actions.set_target(CANVAS)
            elif watched is self.recognise.gallery_view.grid:
                self.undo_actions.set_target(GALLERY)
        return super().eventFilter(watched, event)

    # ------------------------------------------------------------------ messages, status, tasks

    def show_message(self, level: str, text: str) -> None:
        """Show a message in the window's message bar."""
        if not self._closing:
            self.message_bar.show_message(level, text)

    def _track_task(self, task: Task) -> None:
        # Ranking and name look-ups are too quick to show; everything else shows its progress.
        if task.title not in ("Recognising", "Reading gallery names"):
            self.status.track(task, cancellable=not task.serial or task.title.startswith(("Embedding", "Import")))

    def _on_model_loading(self, text: str) -> None:
        self.status.set_model(None, "Model: loading…")
        if self.recognise.canvas.is_empty():
            self.recognise.results.show_hint(text)

    def _on_model_changed(self, info: ModelInfo) -> None:
        self.status.set_model(info)
        self._fill_device_menu(info)
        if self.recognise.canvas.is_empty():
            self.recognise.results.show_hint(
                "Draw a character on the canvas (or drop an image on it) to see which characters it looks like.")

    def _on_model_failed(self, text: str) -> None:
        self.status.set_model(self.session.model_info, None if self.session.model_info else "Model: none")
        self.message_bar.error(text, "Open Model…", self.open_model_dialog)
        if self.session.model_info is None and self.recognise.canvas.is_empty():
            self.recognise.results.show_hint("No model is loaded, so nothing can be ranked. Choose a weights "
                                             "file with File > Open model….")

    def _on_gallery_changed(self, snapshot: GallerySnapshot | None) -> None:
        self.recognise.gallery_view.set_snapshot(snapshot)
        self.status.set_gallery(snapshot)
        if snapshot is not None and self.settings.last_gallery != snapshot.path:
            self.settings.last_gallery = snapshot.path
            self._refresh_recent()
        elif snapshot is not None and self._gallery_names.get(snapshot.path) != snapshot.name:
            self._show_recent([p for p in self.settings.recent_galleries() if p.is_dir()], {})
        self.setWindowTitle(f"{snapshot.name} — Glyphs" if snapshot else "Glyphs")
        self._update_actions()

    def _refresh_recent(self) -> None:
        """List the recent galleries under the names they show (read from their indexes in a task)."""
        recent = [p for p in self.settings.recent_galleries() if p.is_dir()]
        self._show_recent(recent, {})
        task = self.session.gallery_names(recent)
        task.succeeded.connect(lambda names: self._show_recent(recent, names))

    def _show_recent(self, recent: list[Path], names: dict[Path, str]) -> None:
        self._gallery_names.update(names)
        snapshot = self.session.snapshot
        if snapshot is not None:
            self._gallery_names[snapshot.path] = snapshot.name
        labelled = [(path, self._gallery_names.get(path, path.name)) for path in recent]
        current = snapshot.path if snapshot else self.settings.last_gallery
        self.recognise.gallery_view.set_recent(labelled, current)
        self.recent_menu.clear()
        for path, name in labelled:
            self.recent_menu.addAction(name, lambda p=path: self.open_gallery(p)).setToolTip(str(path))
        self.recent_menu.setEnabled(bool(recent))

    def _update_actions(self) -> None:
        has_gallery = self.session.snapshot is not None
        selected = self.recognise.gallery_view.selected_names()
        self.act_rename.setEnabled(len(selected) == 1)
        self.act_delete.setEnabled(len(selected) >= 1)
        self.act_merge.setEnabled(len(selected) >= 2)
        for act in (self.act_export_zip, self.act_export_folder, self.act_add_images):
            act.setEnabled(has_gallery)

    def _fill_device_menu(self, info: ModelInfo) -> None:
        self.device_menu.clear()
        group = QActionGroup(self.device_menu)
        for name, label in (("auto", "Automatic (best available)"), *info.devices):
            act = self.device_menu.addAction(label, lambda n=name: self.set_device(n))
            act.setCheckable(True)
            act.setChecked(name == self.settings.device)
            group.addAction(act)
        self.device_menu.setEnabled(True)

    # ------------------------------------------------------------------ model

    def open_model_dialog(self) -> None:
        """Ask for a weights file and use it."""
        path = dialogs.open_file(self, "Open model", dialogs.WEIGHTS_FILTER)
        if path is not None:
            self.use_model(str(path))

    def use_model(self, path: str | None) -> Task:
        """Switch recognition to the weights at `path` (None = shipped model); remembered once it loads."""
        task = self.session.load_model(path, self.settings.device)
        task.succeeded.connect(lambda _info: setattr(self.settings, "last_model", Path(path) if path else None))
        task.succeeded.connect(lambda info: self.show_message("info", f"Now recognising with {info.name}."))
        return task

    def toggle_query_views(self) -> None:
        """Rank each drawing with distorted copies of itself too, or not (remembered)."""
        on = self.act_query_views.isChecked()
        self.settings.query_views = on
        self.session.set_query_views(on)

    def set_device(self, name: str) -> None:
        """Use compute device `name` ("auto", "cpu", "cuda:0"...) and reload the model there."""
        self.settings.device = name
        info = self.session.model_info
        self.session.load_model(str(info.path) if info and info.path else self.settings.last_model, name)

    # ------------------------------------------------------------------ galleries

    def show_welcome(self) -> None:
        """Show the welcome (first start, Help > Welcome, Gallery > Try an Omniglot alphabet)."""
        self.settings.welcomed = True
        if self.welcome is None:
            self.welcome = WelcomeDialog(self.runner, self, data_dir=self.settings.dataset_folder)
            self.welcome.create_requested.connect(self.new_gallery)
            self.welcome.import_requested.connect(self.import_dialog)
            self.welcome.alphabet_requested.connect(self.try_alphabet)
            self.welcome.dataset_folder_chosen.connect(self.use_dataset_folder)
            self.welcome.finished.connect(self._forget_welcome)
        self.welcome.open()

    def _forget_welcome(self) -> None:
        if self.welcome is not None:
            self.welcome.deleteLater()
        self.welcome = None

    def new_gallery(self) -> None:
        """Ask a name and create an empty gallery in the user data folder."""
        name = dialogs.ask_text(self, "New gallery", "Name of the new gallery:", "My alphabet")
        if name is not None:
            self.session.create_gallery(name, known=self.settings.recent_galleries())

    def open_gallery_dialog(self) -> None:
        """Ask for a gallery folder and open it."""
        folder = dialogs.open_folder(self, "Open gallery folder")
        if folder is not None:
            self.open_gallery(folder)

    def open_gallery(self, path: str | Path) -> Task:
        """Open the gallery folder `path`."""
        return self.session.open_gallery(Path(path))

    def import_font_dialog(self) -> None:
        """Show the "Import from font" dialog (it opens the gallery it makes or adds to)."""
        from .font_dialog import FontImportDialog

        dialog = FontImportDialog(self.runner, self.session, self, settings=self.settings)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.font_dialog = dialog
        dialog.open()

    def import_dialog(self, kind: str) -> None:
        """Ask for a folder or zip ("folder" / "zip") and import it as a new gallery ("font": the font dialog)."""
        if kind == "font":
            return self.import_font_dialog()
        if kind == "zip":
            source = dialogs.open_file(self, "Import alphabet from a zip file", "Zip archives (*.zip)")
        else:
            source = dialogs.open_folder(self, "Import alphabet from a folder")
        if source is not None:
            self.import_gallery(source)

    def import_gallery(self, source: str | Path) -> Task:
        """Import a folder or zip as a new gallery and switch to it."""
        task = self.session.import_gallery(source, known=self.settings.recent_galleries())
        task.cancelled.connect(lambda: self.show_message("info", "Import cancelled; nothing was changed."))
        return task

    def try_alphabet(self, alphabet: str, data_dir: str = "") -> Task:
        """Make a gallery of an Omniglot evaluation alphabet (from `data_dir`, else the default places) and
        switch to it."""
        return self.session.import_omniglot(alphabet, data_dir or None, known=self.settings.recent_galleries())

    def add_images_dialog(self) -> None:
        """Ask for image files and add them to the current gallery."""
        paths = dialogs.open_files(self, "Add images to the gallery")
        if paths:
            self.session.add_images(paths)

    def drop_on_gallery(self, paths: list[str]) -> None:
        """Folders and zips dropped on the gallery become new galleries; images join the current one."""
        images, others = [], []
        for p in map(Path, paths):
            if p.is_dir() or (p.suffix.lower() == ".zip" and zipfile.is_zipfile(p)):
                self.import_gallery(p)
            elif p.suffix.lower() in IMAGE_SUFFIXES or p.suffix.lower() == STROKE_SUFFIX:
                images.append(p)
            else:
                others.append(p.name)
        if images and self.session.snapshot is None:
            self.session.create_gallery("Imported images")  # queued first: the images go into it
        if images:
            self.session.add_images(images)
        if others:
            self.show_message("error", f"Not imported: {', '.join(others[:3])}. Drop image files, a folder of "
                                       "images or a zip of images.")

    def export_dialog(self, as_zip: bool) -> None:
        """Ask where and export the current gallery as a zip or a folder."""
        snapshot = self.session.snapshot
        if snapshot is None:
            return
        if as_zip:
            dest = dialogs.save_file(self, "Export gallery", f"{snapshot.name}.zip", "Zip archives (*.zip)")
        else:
            dest = dialogs.open_folder(self, "Export gallery into folder")
            dest = dest / snapshot.path.name if dest is not None else None
        if dest is not None:
            self.session.export(dest, as_zip)

    def rename_selected(self) -> None:
        """Rename the selected character (undoable)."""
        names = self.recognise.gallery_view.selected_names()
        if len(names) != 1:
            return
        new = dialogs.ask_text(self, "Rename character", f"New name for “{names[0]}”:", names[0])
        if new and new != names[0]:
            self.session.rename(names[0], new)

    def delete_selected(self) -> None:
        """Delete the selected characters (undoable with Edit > Undo)."""
        names = self.recognise.gallery_view.selected_names()
        if not names:
            return
        task = self.session.delete(names)
        task.succeeded.connect(lambda _result: self.message_bar.info(
            f"Deleted {characters_text(names)}. Undo with Edit > Undo ({shortcut_text(QKeySequence.StandardKey.Undo)}).",
            "Undo", self.session.undo))

    def merge_selected(self) -> None:
        """Merge the selected characters into one of them (asks which)."""
        names = self.recognise.gallery_view.selected_names()
        if len(names) < 2:
            return
        into = dialogs.ask_item(self, "Merge characters", "Keep the name:", names)
        if into is not None:
            self.session.merge(names, into)

    # ------------------------------------------------------------------ images, about

    def clear_canvas(self) -> None:
        """Clear the drawing (Esc); Undo then brings it back."""
        self.recognise.canvas.clear()
        self.undo_actions.set_target(CANVAS)

    def open_image_dialog(self) -> None:
        """Ask for an image file and recognise it."""
        path = dialogs.open_file(self, "Open image", dialogs.IMAGE_FILTER)
        if path is not None:
            self.recognise.open_image(path)

    def about(self) -> None:
        """Show what Glyphs is."""
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.about(self, "About Glyphs",
                          "<b>Glyphs</b><br>One-shot character recognition with a siamese network "
                          "(Koch et al. 2015) trained on Omniglot.<br>Draw a character to rank the characters "
                          "you enrolled; enrol a new alphabet with one example per character.")
