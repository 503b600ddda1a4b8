"""Synthetic glyphs for tests: simple, clearly different shapes (1 = ink), shared by the gallery and ranking tests."""

from __future__ import annotations

import numpy as np

S = 105


def shape(kind: str, dx: int = 0, dy: int = 0) -> np.ndarray:
    """Return a synthetic binary glyph (1 = ink), optionally shifted."""
    g = np.zeros((S, S), np.float32)
    yy, xx = np.mgrid[0:S, 0:S]
    if kind == "bar":
        g[50:56, 20:85] = 1
    elif kind == "pole":
        g[20:85, 50:56] = 1
    elif kind == "box":
        g[25:80, 25:80] = 1
        g[31:74, 31:74] = 0
    elif kind == "ring":
        r = np.hypot(yy - 52, xx - 52)
        g[(r > 25) & (r < 31)] = 1
    elif kind == "diag":
        g[np.abs(yy - xx) < 4] = 1
        g[:15], g[-15:] = 0, 0
    elif kind == "ell":
        g[20:85, 25:31] = 1
        g[79:85, 25:80] = 1
    else:
        raise ValueError(kind)
    return np.roll(g, (dy, dx), axis=(0, 1))
