"""Measuring and thinning ink masks: stroke width, centre lines (Zhang-Suen) and their segments.

Used to redraw an image whose strokes are far thinner or thicker than Omniglot's with the calibrated pen.
"""

from __future__ import annotations

import math

import numpy as np

# Zhang-Suen removes a pixel with 2-6 ink neighbours; 2 erases two-pixel-thick staircase lines entirely (an
# anti-diagonal drawn 3-4 px wide thins to nothing). Lu & Wang (1986) ask for 3, which keeps them.
MIN_NEIGHBOURS = 3


def stroke_width(mask: np.ndarray) -> float:
    """Return a stroke-width estimate of a binary mask: 2 * area / perimeter (perimeter with Crofton's pi/4)."""
    m = np.pad(mask, 1).astype(np.int8)
    edges = np.count_nonzero(np.diff(m, axis=0)) + np.count_nonzero(np.diff(m, axis=1))
    area = np.count_nonzero(mask)
    # Counting pixel edges overestimates an oblique boundary's length by |cos|+|sin|, 4/pi on average.
    return 2.0 * area / (edges * math.pi / 4) if edges else 0.0


def thin(mask: np.ndarray) -> np.ndarray:
    """Return the one-pixel-wide centre lines of a binary mask (Zhang-Suen thinning with Lu and Wang's
    neighbour rule, vectorised)."""
    img = np.pad(mask.astype(bool), 1)
    passes = 0
    while True:
        changed = False
        passes += 1
        for first in (True, False):
            p2, p3, p4 = img[:-2, 1:-1], img[:-2, 2:], img[1:-1, 2:]
            p5, p6, p7 = img[2:, 2:], img[2:, 1:-1], img[2:, :-2]
            p8, p9 = img[1:-1, :-2], img[:-2, :-2]
            ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
            count = sum(p.astype(np.uint8) for p in ring[:8])
            transitions = sum((~ring[i] & ring[i + 1]).astype(np.uint8) for i in range(8))
            if first:
                cond = ~(p2 & p4 & p6) & ~(p4 & p6 & p8)
            else:
                cond = ~(p2 & p4 & p8) & ~(p2 & p6 & p8)
            core = img[1:-1, 1:-1]
            remove = core & (count >= MIN_NEIGHBOURS) & (count <= 6) & (transitions == 1) & cond
            if remove.any():
                core[remove] = False
                changed = True
        if not changed:
            break
    skel = img[1:-1, 1:-1]
    # Zhang-Suen erases some tiny blobs (a 2x2 square) entirely. Every pixel of a surviving stroke lies within
    # about twice the number of passes of its centre line, so ink farther than that from any line was such a
    # blob: keep it.
    return skel | (mask & ~dilate(skel, 2 * passes + 2))


def dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    """Return a binary mask grown by `steps` pixels (8-neighbourhood)."""
    out = mask.copy()
    for _ in range(steps):
        p = np.pad(out, 1)
        out = (p[:-2, :-2] | p[:-2, 1:-1] | p[:-2, 2:] | p[1:-1, :-2] | p[1:-1, 1:-1] | p[1:-1, 2:]
               | p[2:, :-2] | p[2:, 1:-1] | p[2:, 2:])
    return out


def max_pool(mask: np.ndarray, k: int) -> np.ndarray:
    """Return a binary mask shrunk by an integer factor, a block being ink if any of its pixels is (lines survive)."""
    if k <= 1:
        return mask
    h, w = mask.shape
    p = np.pad(mask, ((0, -h % k), (0, -w % k)))
    return p.reshape(p.shape[0] // k, k, p.shape[1] // k, k).any(axis=(1, 3))


def skeleton_segments(skel: np.ndarray) -> np.ndarray:
    """Return segments (m, 4; pixel-centre coordinates) joining 8-adjacent skeleton pixels, plus dots."""
    rows, cols = np.nonzero(skel)
    segs = [np.stack([cols, rows, cols, rows], axis=1).astype(np.float64)]  # every pixel a dot: none is lost
    p = np.pad(skel, 1)
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        nb = p[1 + dr:1 + dr + skel.shape[0], 1 + dc:1 + dc + skel.shape[1]]
        r, c = np.nonzero(skel & nb)
        segs.append(np.stack([c, r, c + dc, r + dr], axis=1).astype(np.float64))
    return np.concatenate(segs) + 0.5
