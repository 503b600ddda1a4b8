"""Composing pages with known truth from single glyph drawings: what the benchmark and the tests transcribe.

A page is written line by line: each drawing's ink box is scaled so that its longer side is a random size,
placed after a random gap, its baseline jittered; lines are stacked with a random line spacing. `scan_like`
turns a clean page into something a scanner gives (grey paper, ink not quite black, blur, sensor noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class PageLayout:
    """Where glyphs go: sizes of their longer side (px), gaps and baseline jitter (fractions of the size)."""

    size_range: tuple[float, float] = (35.0, 60.0)
    gap_range: tuple[float, float] = (0.3, 0.7)     # x the line's mean glyph size
    jitter: float = 0.12                            # baseline offset, up to +- this x the line's size
    line_spacing: tuple[float, float] = (1.5, 1.9)  # baseline to baseline, x the line's largest glyph
    margin: int = 40


@dataclass
class ComposedPage:
    """A composed page: `ink` float32 (H, W) in [0, 1] (1 = ink), the truth per line ((label, box) pairs) and
    each glyph's ink as placed (scaled), line by line."""

    ink: np.ndarray
    lines: list[list[tuple[str, Box]]]
    glyphs: list[list[np.ndarray]]

    def luminance(self) -> np.ndarray:
        """Return the page as 8-bit grey levels, black ink on white."""
        return np.round((1.0 - self.ink) * 255).astype(np.uint8)


def _scaled(ink: np.ndarray, size: float) -> np.ndarray:
    """Return a drawing's ink box scaled so its longer side is `size` px (area average down, bilinear up)."""
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float32)
    f = size / max(crop.shape)
    w, h = max(1, round(crop.shape[1] * f)), max(1, round(crop.shape[0] * f))
    method = Image.Resampling.BOX if f < 1 else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(crop, mode="F").resize((w, h), method))


def compose_page(lines: list[list[tuple[str, np.ndarray]]], rng: np.random.Generator,
                 layout: PageLayout | None = None, rtl: bool = False) -> ComposedPage:
    """Return a page writing each line's (label, ink (H, W), 1 = ink) glyphs in order, with their truth boxes.

    `rtl` writes each line from the right edge leftwards (the truth stays in writing order).
    """
    layout = layout or PageLayout()
    placed: list[list[tuple[str, np.ndarray, int, int]]] = []
    widths, y = [], layout.margin
    for line in lines:
        scaled = [(label, _scaled(ink, rng.uniform(*layout.size_range))) for label, ink in line]
        size = float(np.mean([max(g.shape) for _, g in scaled])) if scaled else layout.size_range[1]
        tallest = max((g.shape[0] for _, g in scaled), default=int(size))
        base = y + tallest
        x, row = layout.margin, []
        for label, g in scaled:
            dy = int(round(rng.uniform(-layout.jitter, layout.jitter) * size))
            row.append((label, g, x, base - g.shape[0] + dy))
            x += g.shape[1] + int(round(rng.uniform(*layout.gap_range) * size))
        widths.append(x)
        placed.append(row)
        y = base + int(round((rng.uniform(*layout.line_spacing) - 1.0) * tallest))
    width = max(widths, default=2 * layout.margin) + layout.margin
    height = y + layout.margin
    page = np.zeros((height, width), np.float32)
    truth, glyphs = [], []
    for row in placed:
        glyphs.append([g for _, g, _, _ in row])
        out = []
        for label, g, x, top in row:
            if rtl:
                x = width - x - g.shape[1]
            top = max(top, 0)
            region = page[top:top + g.shape[0], x:x + g.shape[1]]
            np.maximum(region, g[:region.shape[0], :region.shape[1]], out=region)
            out.append((label, _ink_box(g, x, top)))
        truth.append(out)
    return ComposedPage(page, truth, glyphs)


def _ink_box(g: np.ndarray, x: int, y: int) -> Box:
    m = g >= 0.5
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    if len(rows) == 0:
        return (x, y, x + g.shape[1], y + g.shape[0])
    return (x + int(cols[0]), y + int(rows[0]), x + int(cols[-1]) + 1, y + int(rows[-1]) + 1)


def scan_like(page: ComposedPage, rng: np.random.Generator) -> np.ndarray:
    """Return the page as a scanner gives it: 8-bit grey paper (0.75-0.9), ink 0.1-0.3, blur, noise."""
    paper, ink = rng.uniform(0.75, 0.9), rng.uniform(0.1, 0.3)
    lum = paper - (paper - ink) * page.ink
    blurred = ndimage.gaussian_filter(lum.astype(np.float32), rng.uniform(0.7, 1.2))
    noisy = blurred + rng.normal(0.0, rng.uniform(0.02, 0.05), size=blurred.shape)
    return np.round(np.clip(noisy, 0.0, 1.0) * 255).astype(np.uint8)
