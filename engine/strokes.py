"""Pen strokes: the app's drawings and Omniglot's stroke files (``strokes_*/ALPHABET/characterNN/IIII_DD.txt``).

A drawing is a list of `Stroke`s, one per pen-down..pen-up, in a square drawing area whose side the caller
knows (the app's canvas side, or 105 for Omniglot's files); x grows to the right and y grows DOWN, as in image
and Qt coordinates. `engine.glyph.render_strokes` turns a drawing into a glyph.

Omniglot's stroke file format: a ``START`` line, then one ``x,y,t`` line per pen sample (t in ms), and a
``BREAK`` line after each stroke (pen up). Its y axis grows UPWARDS (the values are negative), so the loader
negates y. The samples are raw: unevenly spaced, sometimes repeated, and a stroke may be a single sample (a dot).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Stroke", "StrokeFileError", "parse_omniglot_strokes", "load_omniglot_strokes"]


class StrokeFileError(ValueError):
    """A stroke file (or text) that does not follow Omniglot's stroke format; the message names the source."""


def _optional_column(values: Sequence[float] | np.ndarray | None, n: int, name: str) -> np.ndarray | None:
    if values is None:
        return None
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.shape != (n,):
        raise ValueError(f"Stroke.{name} must have one value per point ({n}), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"Stroke.{name} must be finite")
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class Stroke:
    """One pen-down..pen-up trace.

    `points` is an (n, 2) float64 array of (x, y) in the drawing area's coordinates, y growing down, n >= 1
    (a single point is a dot). `t` (ms since some origin) and `pressure` (0..1, as Qt reports it) are optional
    (n,) arrays. The arrays are copied and made read-only, so a Stroke can be shared safely. Equality is
    identity (the fields are arrays); compare `points` with `np.array_equal` when needed.
    """

    points: np.ndarray
    t: np.ndarray | None = field(default=None)
    pressure: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        pts = np.array(self.points, dtype=np.float64)  # a copy: callers may reuse their buffer
        if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 1:
            raise ValueError(f"Stroke.points must be an (n, 2) array with n >= 1, got shape {pts.shape}")
        if not np.all(np.isfinite(pts)):
            raise ValueError("Stroke.points must be finite")
        pts.flags.writeable = False
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "t", _optional_column(self.t, len(pts), "t"))
        object.__setattr__(self, "pressure", _optional_column(self.pressure, len(pts), "pressure"))

    def __len__(self) -> int:
        return len(self.points)

    def scaled(self, factor: float) -> Stroke:
        """Return a copy with the points multiplied by `factor` (e.g. from one drawing-area size to another)."""
        return Stroke(self.points * factor, self.t, self.pressure)


def parse_omniglot_strokes(text: str, source: str = "<text>") -> list[Stroke]:
    """Return the strokes of one Omniglot stroke file's text, y flipped to grow down, t in ms.

    Raises `StrokeFileError` (a ValueError) naming `source` and the line for anything malformed: no ``START``
    first, a line that is not ``x,y,t`` numbers, an empty stroke (``BREAK`` with no samples) or a last stroke
    without its ``BREAK``. Blank lines and surrounding whitespace (including Windows line ends) are ignored.
    A file with ``START`` and no strokes is valid and gives [] (nothing was drawn).
    """
    lines = [(no, line.strip()) for no, line in enumerate(text.splitlines(), start=1)]
    lines = [(no, line) for no, line in lines if line]
    if not lines or lines[0][1] != "START":
        raise StrokeFileError(f"{source}: not an Omniglot stroke file (it must begin with a START line)")
    strokes: list[Stroke] = []
    current: list[tuple[float, float, float]] = []
    for no, line in lines[1:]:
        if line == "BREAK":
            if not current:
                raise StrokeFileError(f"{source}, line {no}: BREAK ends a stroke with no samples")
            xyt = np.array(current, dtype=np.float64)
            # The files' y grows upwards (negative values); ours grows down like image rows.
            strokes.append(Stroke(np.column_stack([xyt[:, 0], -xyt[:, 1]]), t=xyt[:, 2]))
            current = []
        elif line == "START":
            raise StrokeFileError(f"{source}, line {no}: a second START (one drawing per file)")
        else:
            parts = line.split(",")
            try:
                if len(parts) != 3:
                    raise ValueError
                sample = (float(parts[0]), float(parts[1]), float(parts[2]))
            except ValueError:
                raise StrokeFileError(f"{source}, line {no}: expected 'x,y,t' numbers, got {line[:60]!r}") from None
            if not all(np.isfinite(sample)):
                raise StrokeFileError(f"{source}, line {no}: non-finite number in {line[:60]!r}")
            current.append(sample)
    if current:
        raise StrokeFileError(f"{source}: the last stroke has no closing BREAK (truncated file?)")
    return strokes


def load_omniglot_strokes(path: str | os.PathLike[str]) -> list[Stroke]:
    """Return the strokes of the Omniglot stroke file at `path` (see `parse_omniglot_strokes`).

    Raises `StrokeFileError` naming the file if it cannot be read as text or is malformed (OSError, e.g. a
    missing file, propagates unchanged).
    """
    p = Path(path)
    data = p.read_bytes()
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise StrokeFileError(f"{p}: not an Omniglot stroke file (not plain ASCII text)") from None
    return parse_omniglot_strokes(text, source=str(p))


def iter_omniglot_stroke_pairs(folder: str | os.PathLike) -> Iterator[tuple[str, list[Stroke], bytes]]:
    """Yield (stroke file name, its strokes, PNG bytes of the image made from them), in name order.

    Reads `strokes_background_subset.zip` and `images_background.zip` in `folder`; drawings whose image is
    missing are skipped. Use the pairs to check a stroke renderer against Omniglot's own images.
    """
    folder = Path(folder)
    with zipfile.ZipFile(folder / "strokes_background_subset.zip") as zs, \
            zipfile.ZipFile(folder / "images_background.zip") as zi:
        images = set(zi.namelist())
        for name in sorted(n for n in zs.namelist() if n.endswith(".txt")):
            png = name.replace("strokes_background/", "images_background/", 1)[:-4] + ".png"
            if png in images:
                yield name, parse_omniglot_strokes(zs.read(name).decode("ascii"), source=name), zi.read(png)
