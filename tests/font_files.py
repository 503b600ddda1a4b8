"""Small TrueType fonts built with fontTools' FontBuilder, so font tests never depend on installed fonts.

Every drawable character is a few thick bars placed by a generator seeded with its code point, so each
character has its own shape and the same character looks the same in every font built here (a second
font can be given `shift` to draw it differently).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

UPM = 1000
# A font with Latin, Cyrillic and Runic letters, plus what must be skipped: a space, a control, a lone
# combining mark, a character drawn as .notdef, and one whose glyph is empty.
DEFAULT_CHARS = "ABCDEFGHжщᚠᚢᚦ"
SPACE, CONTROL, COMBINING, NOTDEF_CHAR, BLANK_CHAR = " ", "\x01", "\u0301", "\u2603", "Z"


def _bar(pen, x0: float, y0: float, x1: float, y1: float, width: float) -> None:
    """Draw a thick straight bar from (x0, y0) to (x1, y1) as one closed contour."""
    dx, dy = x1 - x0, y1 - y0
    length = max(np.hypot(dx, dy), 1e-6)
    nx, ny = -dy / length * width / 2, dx / length * width / 2
    points = [(x0 + nx, y0 + ny), (x1 + nx, y1 + ny), (x1 - nx, y1 - ny), (x0 - nx, y0 - ny)]
    pts = [(round(x), round(y)) for x, y in points]
    if (pts[1][0] - pts[0][0]) * (pts[2][1] - pts[0][1]) - (pts[1][1] - pts[0][1]) * (pts[2][0] - pts[0][0]) < 0:
        pts.reverse()  # TrueType outer contours run clockwise
    pen.moveTo(pts[0])
    for p in pts[1:]:
        pen.lineTo(p)
    pen.closePath()


def _glyph(cp: int, shift: int = 0, stroke: float = 90):
    """Return a TrueType glyph of three bars chosen by code point `cp` (and `shift`, for another style)."""
    rng = np.random.default_rng([cp, shift])
    pen = TTGlyphPen(None)
    for _ in range(3):
        while True:
            x0, y0, x1, y1 = rng.integers(100, 700, size=4)
            if np.hypot(x1 - x0, y1 - y0) > 250:
                break
        _bar(pen, x0, y0, x1, y1, stroke)
    return pen.glyph()


def _box():
    pen = TTGlyphPen(None)
    for x0, y0, x1, y1 in ((50, 0, 550, 60), (50, 640, 550, 700), (50, 0, 110, 700), (490, 0, 550, 700)):
        _bar(pen, x0, (y0 + y1) / 2, x1, (y0 + y1) / 2, y1 - y0) if y1 - y0 < 100 else \
            _bar(pen, (x0 + x1) / 2, y0, (x0 + x1) / 2, y1, x1 - x0)
    return pen.glyph()


def _empty():
    return TTGlyphPen(None).glyph()


def build_font(path: Path, chars: str = DEFAULT_CHARS, family: str = "Test Sans", style: str = "Regular",
               version: str = "1.000", shift: int = 0, extras: bool = True) -> Path:
    """Write a TrueType font to `path` drawing `chars`; with `extras`, also the characters to skip."""
    names = [".notdef"]
    cmap: dict[int, str] = {}
    glyphs = {".notdef": _box()}
    for c in dict.fromkeys(chars):
        name = f"uni{ord(c):04X}"
        names.append(name)
        cmap[ord(c)] = name
        glyphs[name] = _glyph(ord(c), shift)
    if extras:
        for c, glyph in ((SPACE, _empty()), (CONTROL, _glyph(1)), (COMBINING, _glyph(0x301)),
                         (BLANK_CHAR, _empty())):
            name = f"uni{ord(c):04X}"
            names.append(name)
            cmap[ord(c)] = name
            glyphs[name] = glyph
        # Fonts draw characters they lack with a copy of the missing-glyph box (a cmap entry pointing at
        # .notdef itself is dropped when the table is written).
        names.append("notdefcopy")
        cmap[ord(NOTDEF_CHAR)] = "notdefcopy"
        glyphs["notdefcopy"] = _box()
    fb = FontBuilder(UPM, isTTF=True)
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap(cmap)
    fb.setupGlyf(glyphs)
    fb.setupHorizontalMetrics({n: (800, glyphs[n].xMin if hasattr(glyphs[n], "xMin") else 0) for n in names})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": family, "styleName": style, "fullName": f"{family} {style}",
                       "version": f"Version {version}"})
    fb.setupOS2(sTypoAscender=800, sTypoDescender=-200, usWinAscent=800, usWinDescent=200)
    fb.setupPost()
    path.parent.mkdir(parents=True, exist_ok=True)
    fb.save(str(path))
    return path
