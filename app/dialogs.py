"""Every question the app asks the person, in one place (so tests can answer them by monkeypatching).

Each function returns the answer, or None when the person cancelled.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QLineEdit, QMessageBox, QWidget

from engine.glyph import IMAGE_SUFFIXES, STROKE_SUFFIX

IMAGE_FILTER = (f"Images ({' '.join('*' + s for s in sorted(IMAGE_SUFFIXES))});;"
                f"Omniglot stroke files (*{STROKE_SUFFIX});;All files (*)")
WEIGHTS_FILTER = "Glyphs weights (*.safetensors);;All files (*)"


def ask_text(parent: QWidget, title: str, label: str, default: str = "") -> str | None:
    """Return the text typed (stripped), or None if cancelled or left empty."""
    text, ok = QInputDialog.getText(parent, title, label, QLineEdit.EchoMode.Normal, default)
    text = text.strip()
    return text if ok and text else None


def ask_item(parent: QWidget, title: str, label: str, items: list[str]) -> str | None:
    """Return one of `items` chosen from a list, or None."""
    item, ok = QInputDialog.getItem(parent, title, label, items, 0, False)
    return item if ok and item else None


def confirm(parent: QWidget, title: str, text: str) -> bool:
    """Return True if the person confirmed."""
    answer = QMessageBox.question(parent, title, text)
    return answer == QMessageBox.StandardButton.Yes


def open_file(parent: QWidget, title: str, filter: str = "All files (*)") -> Path | None:  # noqa: A002
    """Return a file chosen to open, or None."""
    path, _ = QFileDialog.getOpenFileName(parent, title, "", filter)
    return Path(path) if path else None


def open_files(parent: QWidget, title: str, filter: str = IMAGE_FILTER) -> list[Path]:  # noqa: A002
    """Return the files chosen to open (empty when cancelled)."""
    paths, _ = QFileDialog.getOpenFileNames(parent, title, "", filter)
    return [Path(p) for p in paths]


def open_folder(parent: QWidget, title: str) -> Path | None:
    """Return a folder chosen to open, or None."""
    path = QFileDialog.getExistingDirectory(parent, title)
    return Path(path) if path else None


def save_file(parent: QWidget, title: str, default: str, filter: str) -> Path | None:  # noqa: A002
    """Return a path to save to, or None."""
    path, _ = QFileDialog.getSaveFileName(parent, title, default, filter)
    return Path(path) if path else None
