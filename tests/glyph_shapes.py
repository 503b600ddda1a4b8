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


DRAWN_SHAPES = ("triangle", "circle", "cross", "square", "zigzag")


def drawn_shape(kind: str, size: int, width: int, antialias: bool) -> "Image.Image":
    """Return a simple shape drawn with PIL (black lines `width` image px wide on white) in a `size`-px image;
    antialiased shapes are drawn 4x larger and shrunk with Lanczos, two-level ones drawn directly."""
    from PIL import Image, ImageDraw

    k = 4 if antialias else 1
    side = size * k
    im = Image.new("L", (side, side), 255)
    d = ImageDraw.Draw(im)
    w = width * k

    def at(*p: float) -> list[float]:
        return [v * side for v in p]

    if kind == "triangle":
        d.line(at(0.5, 0.2, 0.8, 0.75, 0.2, 0.75, 0.5, 0.2), fill=0, width=w, joint="curve")
    elif kind == "circle":
        d.ellipse(at(0.22, 0.22, 0.78, 0.78), outline=0, width=w)
    elif kind == "cross":
        d.line(at(0.25, 0.25, 0.75, 0.75), fill=0, width=w)
        d.line(at(0.75, 0.25, 0.25, 0.75), fill=0, width=w)
    elif kind == "square":
        d.rectangle(at(0.25, 0.25, 0.75, 0.75), outline=0, width=w)
    elif kind == "zigzag":
        d.line(at(0.2, 0.3, 0.4, 0.7, 0.6, 0.3, 0.8, 0.7), fill=0, width=w, joint="curve")
    else:
        raise ValueError(kind)
    return im.resize((size, size), Image.Resampling.LANCZOS) if antialias else im
