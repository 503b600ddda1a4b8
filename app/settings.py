"""Persistent app settings (QSettings): window geometry, last gallery, last model, recent galleries, the
Omniglot folder, the last font imported from and the last training run.

Set ``GLYPHS_SETTINGS_DIR`` (or pass a folder) to keep the settings in ``<folder>/Glyphs.ini`` instead of the
platform's usual place; the tests use that to start each window from a clean slate in a temp folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ENV_VAR = "GLYPHS_SETTINGS_DIR"
MAX_RECENT = 8


class AppSettings:
    """Typed access to the app's QSettings; every setter writes through at once."""

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        folder = folder or os.environ.get(ENV_VAR)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self._qs = QSettings(str(Path(folder) / "Glyphs.ini"), QSettings.Format.IniFormat)
        else:
            self._qs = QSettings("Glyphs", "Glyphs")

    @property
    def file_name(self) -> str:
        """Return where the settings are stored (a path, or a registry key on Windows)."""
        return self._qs.fileName()

    def _path(self, key: str) -> Path | None:
        value = self._qs.value(key, "")
        return Path(str(value)) if value else None

    def _set_path(self, key: str, value: Path | None) -> None:
        self._qs.setValue(key, str(value) if value else "")
        self._qs.sync()

    @property
    def last_gallery(self) -> Path | None:
        """Return the gallery folder open when the app last ran, or None."""
        return self._path("gallery/last")

    @last_gallery.setter
    def last_gallery(self, path: Path | None) -> None:
        self._set_path("gallery/last", path)
        if path:
            self.add_recent_gallery(path)

    @property
    def last_model(self) -> Path | None:
        """Return the weights file chosen by the user, or None for the shipped model."""
        return self._path("model/last")

    @last_model.setter
    def last_model(self, path: Path | None) -> None:
        self._set_path("model/last", path)

    @property
    def dataset_folder(self) -> Path | None:
        """Return the app's Omniglot folder (chosen in the welcome, the Train or the Evaluate tab), or None."""
        return self._path("data/folder")

    @dataset_folder.setter
    def dataset_folder(self, path: Path | None) -> None:
        self._set_path("data/folder", path)

    @property
    def last_font(self) -> tuple[Path, int] | None:
        """Return the font file (and face index) last read in the Import from Font dialog, or None."""
        path = self._path("fonts/last")
        return (path, int(self._qs.value("fonts/last_index", 0) or 0)) if path else None

    @last_font.setter
    def last_font(self, font: tuple[Path, int] | None) -> None:
        self._qs.setValue("fonts/last_index", font[1] if font else 0)
        self._set_path("fonts/last", font[0] if font else None)

    @property
    def last_run(self) -> Path | None:
        """Return the folder of the training run last started from the Train tab, or None."""
        return self._path("train/last_run")

    @last_run.setter
    def last_run(self, path: Path | None) -> None:
        self._set_path("train/last_run", path)

    @property
    def device(self) -> str:
        """Return the compute device name ("auto", "cpu", "cuda:0", ...)."""
        return str(self._qs.value("model/device", "auto") or "auto")

    @device.setter
    def device(self, name: str) -> None:
        self._qs.setValue("model/device", name)
        self._qs.sync()

    @property
    def query_views(self) -> bool:
        """Return True if drawings are ranked with distorted copies of themselves too (slower, a little surer)."""
        return str(self._qs.value("model/query_views", "false")).lower() == "true"

    @query_views.setter
    def query_views(self, value: bool) -> None:
        self._qs.setValue("model/query_views", "true" if value else "false")
        self._qs.sync()

    @property
    def welcomed(self) -> bool:
        """Return True once the user has seen the first-start welcome."""
        return str(self._qs.value("app/welcomed", "false")).lower() == "true"

    @welcomed.setter
    def welcomed(self, value: bool) -> None:
        self._qs.setValue("app/welcomed", "true" if value else "false")
        self._qs.sync()

    def recent_galleries(self) -> list[Path]:
        """Return recently used gallery folders, newest first (missing folders included)."""
        raw = self._qs.value("gallery/recent", [])
        items = [raw] if isinstance(raw, str) else list(raw or [])
        return [Path(str(p)) for p in items if p]

    def add_recent_gallery(self, path: Path) -> None:
        """Put `path` first in the recent galleries list."""
        items = [p for p in self.recent_galleries() if p != Path(path)]
        self._qs.setValue("gallery/recent", [str(p) for p in [Path(path), *items][:MAX_RECENT]])
        self._qs.sync()

    def forget_gallery(self, path: Path) -> None:
        """Remove `path` from the recent list (e.g. it was deleted from disk)."""
        self._qs.setValue("gallery/recent", [str(p) for p in self.recent_galleries() if p != Path(path)])
        if self.last_gallery == Path(path):
            self._qs.setValue("gallery/last", "")
        self._qs.sync()

    def geometry(self, key: str) -> QByteArray | None:
        """Return saved widget geometry/state bytes for `key`, or None."""
        value = self._qs.value(f"window/{key}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, key: str, value: QByteArray) -> None:
        self._qs.setValue(f"window/{key}", value)
        self._qs.sync()
