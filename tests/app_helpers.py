"""Helpers for the app tests: waiting for a window's work, drawing, sample drawings and galleries (the fixtures,
`make_window` among them, are in conftest.py).

Drawings are replayed with real QTest mouse events: Omniglot pen trajectories when $OMNIGLOT_DIR holds
``strokes_background_subset.zip``, else synthetic shapes.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

Drawing = list  # a drawing: a list of (n, 2) arrays of x, y in the 105-unit square, y down

TIMEOUT_MS = 20_000


def _wait(qtbot, window, condition, what: str) -> None:
    """waitUntil that, on timeout, says what was awaited and what the window was showing."""
    try:
        qtbot.waitUntil(condition, timeout=TIMEOUT_MS)
    except Exception as exc:  # pytest-qt's TimeoutError
        raise AssertionError(f"timed out waiting for {what}; message bar: {window.message_bar.label.text()!r}; "
                             f"tasks: {[t.title for t in window.runner.active_tasks()]}") from exc


def wait_idle(qtbot, window) -> None:
    """Wait until the window's task runner has nothing queued or running."""
    _wait(qtbot, window, lambda: not window.runner.busy, "no running tasks")


def wait_gallery(qtbot, window, characters: int | None = None):
    """Wait until a gallery is open (with `characters` characters, if given) and all work is done."""
    def ready() -> bool:
        s = window.session.snapshot
        return s is not None and (characters is None or len(s.characters) == characters) and not window.runner.busy

    _wait(qtbot, window, ready, f"a gallery of {characters} characters")
    return window.session.snapshot


def draw(qtbot, canvas, strokes: Drawing) -> None:
    """Replay `strokes` on the canvas with QTest mouse press / move / release events."""
    for stroke in strokes:
        points = [canvas.area_to_widget(QPointF(float(x), float(y))).toPoint() for x, y in np.asarray(stroke)]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
        for p in points[1:]:
            QTest.mouseMove(canvas, p)
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])


def wait_ranked(qtbot, window, state: str | None = "ranked"):
    """Wait until the results show the outcome for the drawing on screen (in `state`); return it."""
    tab = window.recognise

    def current():
        o = tab.results.outcome
        return o is not None and o.request_id == tab.drawing_id and (state is None or o.state == state)

    _wait(qtbot, window, lambda: current() and not window.runner.busy, f"a {state} outcome")
    return tab.results.outcome


# ---------------------------------------------------------------------------------------------- drawings


def _synthetic() -> dict[str, tuple[Drawing, Drawing]]:
    """Return {name: (reference drawing, query drawing)} of simple, clearly different shapes."""
    t = np.linspace(0, 2 * np.pi, 48)

    def circle(cx, cy, r):
        return [np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)])]

    def cross(c, h):
        return [np.array([[c - h, c], [c + h, c]]), np.array([[c, c - h], [c, c + h]])]

    def zigzag(o):
        return [np.array([[25 + o, 25], [80 + o, 25], [25 - o, 80], [80 - o, 80]])]

    return {"ring": (circle(52, 52, 28), circle(54, 50, 25)),
            "cross": (cross(52, 30), cross(50, 27)),
            "zed": (zigzag(0), zigzag(3))}


def _omniglot(folder: Path) -> dict[str, tuple[Drawing, Drawing]] | None:
    """Return three Tagalog characters (drawer 01 as reference, drawer 02 as query) from the stroke files."""
    from engine.strokes import parse_omniglot_strokes

    archive = folder / "strokes_background_subset.zip"
    if not archive.is_file():
        return None
    out = {}
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        for ch, (ref_id, query_id) in {"character01": ("0893_01", "0893_02"), "character05": ("0897_01", "0897_02"),
                                       "character09": ("0901_01", "0901_02")}.items():
            files = [f"strokes_background/Tagalog/{ch}/{i}.txt" for i in (ref_id, query_id)]
            if not all(f in names for f in files):
                return None
            ref, query = (parse_omniglot_strokes(zf.read(f).decode("ascii"), f) for f in files)
            out[f"tagalog-{ch[-2:]}"] = ([s.points for s in ref], [s.points for s in query])
    return out


def sample_drawings() -> dict[str, tuple[Drawing, Drawing]]:
    """Return {name: (reference drawing, query drawing)}: Omniglot strokes if $OMNIGLOT_DIR has them, else shapes."""
    folder = os.environ.get("OMNIGLOT_DIR")
    real = _omniglot(Path(folder)) if folder else None
    return real or _synthetic()


def write_glyph_png(path: Path, drawing: Drawing) -> Path:
    """Render `drawing` with the engine and save it as an Omniglot-style PNG (black ink on white)."""
    from engine.glyph import render_strokes
    from engine.strokes import Stroke

    glyph = render_strokes([Stroke(s) for s in drawing], area=105.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    glyph.to_image().save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def make_gallery(folder: Path, drawings: dict[str, tuple[Drawing, Drawing]], name: str = "Test alphabet") -> Path:
    """Create a gallery in `folder` with each drawing's reference as one character; return the folder."""
    from engine.gallery import Gallery
    from engine.glyph import render_strokes
    from engine.strokes import Stroke

    gallery = Gallery.create(folder, name)
    for char, (reference, _query) in drawings.items():
        gallery.add_character(char, [render_strokes([Stroke(s) for s in reference], area=105.0, frame=True)])
    return folder


def in_view(widget, window) -> bool:
    """Return True when all of `widget` is on screen inside `window` (not scrolled away, not cut off)."""
    top_left = widget.mapTo(window, QPoint(0, 0))
    inside = window.rect().contains(top_left) and window.rect().contains(top_left + QPoint(widget.width() - 1,
                                                                                           widget.height() - 1))
    return widget.isVisible() and inside and widget.visibleRegion().boundingRect().size() == widget.size()
