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

# Bounds on what a stroke file may hold (Omniglot's have under 20 strokes and a few hundred samples); larger
# files are refused with a message before they cost seconds. Dense drawings within them are thinned when
# rendered (`engine.glyph.render`).
MAX_STROKE_FILE_BYTES = 8_000_000
MAX_STROKES = 10_000
MAX_SAMPLES = 20_000


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


def parse_omniglot_strokes(text: str, source: str = "<text>", max_samples: int | None = MAX_SAMPLES) -> list[Stroke]:
    """Return the strokes of one Omniglot stroke file's text, y flipped to grow down, t in ms.

    Raises `StrokeFileError` (a ValueError) naming `source` and the line for anything malformed: no ``START``
    first, a line that is not ``x,y,t`` numbers, an empty stroke (``BREAK`` with no samples) or a last stroke
    without its ``BREAK``. Blank lines and surrounding whitespace (including Windows line ends) are ignored.
    A file with ``START`` and no strokes is valid and gives [] (nothing was drawn). A drawing of more than
    `max_samples` samples (no real one comes near) is downsampled evenly: every k-th sample of each stroke
    and its last are kept. More than `MAX_STROKES` strokes raise StrokeFileError.
    """
    fast = _parse_well_formed(text, source, max_samples)
    if fast is not None:
        return fast
    # Something is wrong (or unusual): go line by line to say exactly what and where.
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
    if len(strokes) > MAX_STROKES:
        raise StrokeFileError(f"{source}: {len(strokes):,} strokes; a drawing has at most {MAX_STROKES:,}")
    ends = np.cumsum([len(st) for st in strokes])
    if strokes and max_samples is not None and ends[-1] > max_samples:
        keep = _keep_evenly(ends, max_samples)
        xyt = np.concatenate([np.column_stack([st.points[:, 0], -st.points[:, 1], st.t]) for st in strokes])
        strokes = _strokes_of(xyt[keep], np.cumsum(keep)[ends - 1])
    return strokes


def _parse_well_formed(text: str, source: str, max_samples: int | None) -> list[Stroke] | None:
    """Return the strokes of a well-formed stroke text at numpy speed, or None to let the careful parser
    find what is wrong (or read unusual spacing such as ``1, 2, 3``).

    With more than `max_samples` samples, only the kept ones (see `_keep_evenly`) are converted to numbers,
    so a 200,000-sample file costs about what a 20,000-sample one does.
    """
    tokens = text.split()  # one token a line, blank lines and line ends gone...
    if len(tokens) != sum(1 for line in text.splitlines() if line and not line.isspace()):
        return None  # ...unless a line has spaces inside (or is only spaces): the careful parser reads those
    if not tokens or tokens[0] != "START" or max(map(len, tokens)) > 80:
        return None  # (numpy would make every token as wide as the longest)
    body = np.array(tokens[1:], dtype=str)
    is_break = body == "BREAK"
    if len(body) and (not is_break[-1] or is_break[0] or np.any(is_break[1:] & is_break[:-1])):
        return None  # a last stroke without BREAK, or an empty stroke
    samples = body[~is_break]
    if not len(samples):
        return []
    if np.any(samples == "START") or np.any(np.char.count(samples, ",") != 2):
        return None
    ends = np.cumsum(~is_break)[is_break]  # samples before each BREAK
    if len(ends) > MAX_STROKES:
        raise StrokeFileError(f"{source}: {len(ends):,} strokes; a drawing has at most {MAX_STROKES:,}")
    keep = _keep_evenly(ends, max_samples)
    try:
        xyt = np.array(",".join(samples[keep].tolist()).split(","), dtype=np.float64).reshape(-1, 3)
    except ValueError:
        return None
    if not np.all(np.isfinite(xyt)):
        return None
    return _strokes_of(xyt, np.cumsum(keep)[ends - 1])


def _keep_evenly(ends: np.ndarray, max_samples: int | None) -> np.ndarray:
    """Return a mask over all samples keeping every k-th of each stroke and its last, k the smallest factor
    that keeps the total within `max_samples` (all of them when there are no more)."""
    n = int(ends[-1])
    keep = np.ones(n, bool)
    if max_samples is None or n <= max_samples:
        return keep
    budget = max_samples - 2 * len(ends)  # each stroke may add its last sample (and rounds up its first)
    k = -(-n // budget) if budget > 0 else n
    starts = np.concatenate([[0], ends[:-1]])
    pos = np.arange(n) - np.repeat(starts, ends - starts)
    keep[:] = pos % k == 0
    keep[ends - 1] = True
    return keep


def _strokes_of(xyt: np.ndarray, ends: np.ndarray) -> list[Stroke]:
    """Return strokes of (x, y, t) rows in the files' axes, split after the rows counted by `ends`."""
    strokes = []
    for start, end in zip(np.concatenate([[0], ends[:-1]]), ends):
        part = xyt[start:end]
        # The files' y grows upwards (negative values); ours grows down like image rows.
        strokes.append(Stroke(np.column_stack([part[:, 0], -part[:, 1]]), t=part[:, 2]))
    return strokes


def load_omniglot_strokes(path: str | os.PathLike[str]) -> list[Stroke]:
    """Return the strokes of the Omniglot stroke file at `path` (see `parse_omniglot_strokes`).

    Raises `StrokeFileError` naming the file if it cannot be read as text or is malformed (OSError, e.g. a
    missing file, propagates unchanged).
    """
    p = Path(path)
    size = p.stat().st_size
    if size > MAX_STROKE_FILE_BYTES:
        raise StrokeFileError(f"{p}: {size / 1e6:.0f} MB is too large for an Omniglot stroke file (at most "
                              f"{MAX_STROKE_FILE_BYTES / 1e6:.0f} MB, about {MAX_STROKE_FILE_BYTES // 25:,} samples)")
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
