"""``python main.py --demo-screenshot PATH``: the real window with a gallery and a drawn character, saved as PNG.

Settings and user data go to a temporary folder (the person's own are untouched). With the Omniglot files
in $OMNIGLOT_DIR, the gallery is Omniglot's Tagalog alphabet (drawer 01's images, imported through the app's
own import) and the drawing replays drawer 02's pen strokes of one character; otherwise simple shapes.
"""

from __future__ import annotations

import os
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

ALPHABET = "Tagalog"
CHARACTER = ("character05", "0897_02")  # the character drawn, and whose drawing (drawer 02)


def _wait(app: QApplication, condition: Callable[[], bool], timeout_s: float = 120.0) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the demo window did not get ready in time")
        app.processEvents()
        time.sleep(0.01)


def _omniglot_demo(folder: Path, work: Path) -> tuple[Path, list[np.ndarray]] | None:
    """Return (an alphabet folder of drawer-01 images, the strokes to draw) from Omniglot, or None."""
    from engine.strokes import parse_omniglot_strokes

    images, strokes = folder / "images_background.zip", folder / "strokes_background_subset.zip"
    if not (images.is_file() and strokes.is_file()):
        return None
    out = work / ALPHABET
    with zipfile.ZipFile(images) as zf:
        for name in zf.namelist():
            parts = name.split("/")
            if len(parts) == 4 and parts[1] == ALPHABET and parts[3].endswith("_01.png"):
                (out / parts[2]).mkdir(parents=True, exist_ok=True)
                (out / parts[2] / parts[3]).write_bytes(zf.read(name))
    with zipfile.ZipFile(strokes) as zf:
        text = zf.read(f"strokes_background/{ALPHABET}/{CHARACTER[0]}/{CHARACTER[1]}.txt").decode("ascii")
    return out, [s.points for s in parse_omniglot_strokes(text)]


def _shapes_demo(work: Path) -> tuple[Path, list[np.ndarray]]:
    """Return (a folder of simple shape images, the strokes of a ring to draw)."""
    from engine.glyph import render_strokes
    from engine.strokes import Stroke

    t = np.linspace(0, 2 * np.pi, 60)
    shapes = {
        "ring": [np.column_stack([52 + 28 * np.cos(t), 52 + 28 * np.sin(t)])],
        "cross": [np.array([[22, 52], [82, 52]]), np.array([[52, 22], [52, 82]])],
        "zed": [np.array([[25, 25], [80, 25], [25, 80], [80, 80]])],
        "wave": [np.column_stack([np.linspace(20, 85, 60), 52 + 15 * np.sin(t * 1.5)])],
    }
    out = work / "Shapes"
    out.mkdir(parents=True)
    for name, strokes in shapes.items():
        render_strokes([Stroke(s) for s in strokes]).to_image().save(out / f"{name}.png")
    return out, [np.column_stack([54 + 25 * np.cos(t), 50 + 26 * np.sin(t)])]


def _draw(canvas, strokes: list[np.ndarray]) -> None:
    for stroke in strokes:
        pts = [canvas.area_to_widget(QPointF(float(x), float(y))).toPoint() for x, y in stroke]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[0])
        for p in pts[1:]:
            QTest.mouseMove(canvas, p)
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[-1])


def run_demo(app: QApplication, output: Path) -> int:
    """Build the demo window, draw, save a screenshot to `output`; return 0 (or raise)."""
    work = Path(tempfile.mkdtemp(prefix="glyphs-demo-"))
    os.environ["GLYPHS_DATA_HOME"] = str(work / "data")
    from .main_window import MainWindow
    from .settings import AppSettings

    omniglot = os.environ.get("OMNIGLOT_DIR")
    demo = (_omniglot_demo(Path(omniglot), work) if omniglot else None) or _shapes_demo(work)
    source, strokes = demo
    window = MainWindow(AppSettings(work / "settings"), welcome=False)
    window.resize(1280, 800)
    window.show()
    _wait(app, lambda: window.session.model_info is not None and not window.runner.busy)
    window.import_gallery(source)
    _wait(app, lambda: window.session.snapshot is not None and not window.runner.busy)
    tab = window.recognise
    tab.gallery_view.select([tab.gallery_view.grid.item(0).text()])
    _draw(tab.canvas, strokes)
    _wait(app, lambda: tab.outcome is not None and tab.outcome.request_id == tab.drawing_id
          and tab.outcome.state == "ranked" and not window.runner.busy)
    window.message_bar.dismiss()
    for _ in range(20):  # let every widget repaint
        app.processEvents()
        time.sleep(0.01)
    output.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(output))
    window.close()
    print(f"Saved {output}: top match {tab.outcome.matches[0].name} ({tab.outcome.matches[0].score:.0%})")
    return 0
