"""Drawing a font's characters as glyphs: FreeType (through Pillow), then the normalisation of any image.

Framing. Each character is drawn black on white and centred in a square canvas sized so that its ink covers
`INK_FILL` of the side, whatever its size in the font: people draw a letter to fill the box, whether the
typeface makes it tall (``l``) or short (``o``). 0.55 of the side (ink 58 of 105 px; Omniglot's median
drawing spans 68, its 2.5th percentile 38) was chosen on Omniglot's handwritten Latin, a validation alphabet
(26-way, 520 drawings, shipped model; a-z of DejaVu Sans / Serif / Sans Mono / Sans ExtraLight / Sans Bold,
with the pen below): 0.45: 88.7/81.3/85.8/86.0/87.7%; 0.50: 89.2/81.3/86.0/88.8/87.7%; 0.55:
91.3/82.9/87.5/90.6/91.3%; 0.62: 88.8/84.0/85.4/88.3/91.5%. (Before the pen rule, Omniglot's median framing,
0.65, gave 88.7/80.6/84.4% for the first three.) Rendering at 110 or 220 px per em instead of 160 changed
little.

A mark smaller than `MIN_INK_EM` of the em (``.``, ``'``) is framed as if it were that size, so it stays
small and `glyph_from_image` only brings it up to Omniglot's smallest framing.

Pen. The character goes through `glyph_from_image`, the normalisation of every image, which thins it to centre
lines and redraws them with Omniglot's pen, so every face, light or bold, comes out with the same pen. (Before
images were redrawn too, strokes were first thickened past Omniglot's width range to force the redraw; a light
face's 2-3 px stems were otherwise kept, DejaVu Sans ExtraLight reaching 60.6% on the Latin check.) The only
difference from an image file is the framing range: the framing above already brought the character to 0.55
of the frame, and a small mark keeps its smallness (Omniglot's framing range, `FONT_NORMALISATION`).

This module imports only numpy and Pillow (not torch, not the gallery package), because a large selection
is rendered by worker processes running it (`python -m engine.fonts.render`), which start fast only when
their imports are light.
"""

from __future__ import annotations

import os
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..glyph import FRAME_EXTENT_RANGE, GLYPH_SIZE, Normalisation, glyph_from_image

RENDER_EM_PX = 160  # px per em: ~1.7x the glyph's resolution for a full-size letter
INK_FILL = 0.55  # the ink's longer side over the canvas side (see the module docstring)
MIN_INK_EM = 0.4  # marks smaller than this (in ems) keep their smallness
# Redrawn with Omniglot's pen like any image, within Omniglot's framing range (see the module docstring).
FONT_NORMALISATION = Normalisation(extent=FRAME_EXTENT_RANGE, redraw=True)
POOL_MIN = 300  # fewer characters than this render in-process (starting a worker costs ~0.5 s)
CHUNK = 48  # characters per work item: progress and cancel act at this grain


class RenderCancelled(Exception):
    """Raised by `render_codepoints` when its cancel event is set."""


class FaceRenderer:
    """Renders characters of one font face as glyph pixels. Raises OSError if FreeType cannot open it."""

    def __init__(self, path: str, index: int = 0):
        self.font = ImageFont.truetype(path, RENDER_EM_PX, index=index, layout_engine=ImageFont.Layout.BASIC)

    def ink(self, char: str) -> np.ndarray | None:
        """Return the character's ink (uint8, 255 = ink, cropped to it), or None when it draws nothing."""
        left, top, right, bottom = self.font.getbbox(char)
        if right <= left or bottom <= top:
            return None
        m = 2
        img = Image.new("L", (right - left + 2 * m, bottom - top + 2 * m), 0)
        ImageDraw.Draw(img).text((m - left, m - top), char, font=self.font, fill=255)
        ink = np.asarray(img)
        rows, cols = np.flatnonzero(ink.max(axis=1) >= 128), np.flatnonzero(ink.max(axis=0) >= 128)
        if len(rows) == 0:
            return None
        return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]

    def glyph_pixels(self, char: str) -> np.ndarray | None:
        """Return the normalised glyph pixels (float32 (105, 105), 1 = ink) of `char`, or None if blank."""
        ink = self.ink(char)
        if ink is None:
            return None
        h, w = ink.shape
        side = int(np.ceil(max(h, w, MIN_INK_EM * RENDER_EM_PX) / INK_FILL))
        canvas = np.zeros((side, side), np.uint8)
        y, x = (side - h) // 2, (side - w) // 2
        canvas[y:y + h, x:x + w] = ink
        glyph = glyph_from_image(255 - canvas, FONT_NORMALISATION)
        return None if glyph.no_ink else glyph.pixels


def unpack_glyph(packed: np.ndarray) -> np.ndarray:
    """Return glyph pixels (float32 (105, 105), 0/1) from `np.packbits` of a binary glyph."""
    bits = np.unpackbits(packed, count=GLYPH_SIZE * GLYPH_SIZE)
    return bits.reshape(GLYPH_SIZE, GLYPH_SIZE).astype(np.float32)


def render_codepoints(path: str, index: int, codepoints: Sequence[int],
                      progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None,
                      total: int | None = None, workers: int | None = None, unmapped: int | None = None
                      ) -> tuple[list[tuple[int, np.ndarray]], list[int], list[int]]:
    """Return ([(code point, packed glyph)], code points that render blank, those drawn as the .notdef box)
    for face `index` of font `path`.

    Order follows `codepoints`. `unmapped`, a code point the font does not map, shows what its missing-glyph
    box looks like (FreeType draws .notdef for it): characters drawn exactly like it are set apart. Selections
    of `POOL_MIN` or more use `workers` processes (default: the cores this process may use). `progress(done,
    total)` as characters finish; setting `cancel` raises `RenderCancelled`. Raises OSError/ValueError when
    FreeType cannot open the font or draw a glyph.
    """
    codepoints = list(codepoints)
    total = total or len(codepoints)
    workers = workers or available_cores()
    chunks = [codepoints[i:i + CHUNK] for i in range(0, len(codepoints), CHUNK)]
    results: list[list[np.ndarray | None] | None] = [None] * len(chunks)
    renderer = FaceRenderer(path, index)  # fails here, before any worker starts, if FreeType cannot open it
    if workers <= 1 or len(codepoints) < POOL_MIN:
        done = 0
        for i, chunk in enumerate(chunks):
            _check(cancel)
            results[i] = [pack_glyph(renderer.glyph_pixels(chr(cp))) for cp in chunk]
            done += len(chunk)
            if progress:
                progress(done, total)
    else:
        _render_in_pool(path, index, chunks, results, workers, progress, cancel, total)
    box = pack_glyph(renderer.glyph_pixels(chr(unmapped))) if unmapped is not None else None
    rendered, blank, notdef = [], [], []
    for chunk, packed in zip(chunks, results):
        for cp, px in zip(chunk, packed):
            if px is None:
                blank.append(cp)
            elif box is not None and np.array_equal(px, box):
                notdef.append(cp)
            else:
                rendered.append((cp, px))
    return rendered, blank, notdef


RECORD = struct.Struct("<iB")  # code point, 1 = a packed glyph follows (0 = blank)
PACKED_BYTES = (GLYPH_SIZE * GLYPH_SIZE + 7) // 8


def _render_in_pool(path: str, index: int, chunks: list[list[int]], results: list, workers: int,
                    progress: Callable[[int, int], None] | None, cancel: threading.Event | None, total: int) -> None:
    codepoints = [cp for chunk in chunks for cp in chunk]
    found: dict[int, np.ndarray | None] = {}
    with RenderStream(path, index, codepoints, workers) as stream:
        while not stream.finished:
            found.update(stream.take(timeout=0.1))
            _check(cancel)
            if progress:
                progress(len(found), total)
    for i, chunk in enumerate(chunks):
        results[i] = [found[cp] for cp in chunk]


class RenderStream:
    """Renders code points of one face in `workers` processes, in the background; `take` returns what is done.

    Each worker gets a stride of the code points (a share of every block) and sends them in that order. Use it
    as a context manager (or `close` it): the workers are stopped when it ends."""

    def __init__(self, path: str, index: int, codepoints: Sequence[int], workers: int | None = None):
        # Worker processes run this module (`python -m engine.fonts.render`), not multiprocessing: spawn would
        # re-run the caller's main script in each worker, and forking a threaded app (the GUI) is unsafe.
        self.codepoints = list(codepoints)
        workers = max(1, min(workers or available_cores(), len(self.codepoints) or 1))
        parts = [self.codepoints[i::workers] for i in range(workers)]
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._received = 0
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(Path(__file__).resolve().parents[1]), *filter(None, [os.environ.get("PYTHONPATH")])]))
        self._procs = [subprocess.Popen([sys.executable, "-m", "engine.fonts.render", path, str(index)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=env) for part in parts if part]
        self._readers = [threading.Thread(target=_read_records, args=(p, part, self._queue), daemon=True)
                         for p, part in zip(self._procs, parts)]
        for p, part, reader in zip(self._procs, parts, self._readers):
            reader.start()
            p.stdin.write(" ".join(map(str, part)).encode())
            p.stdin.close()

    def __enter__(self) -> "RenderStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def finished(self) -> bool:
        """Return True once every code point has been taken. Raises OSError if a worker failed before that."""
        if self._received == len(self.codepoints):
            return True
        if any(r.is_alive() for r in self._readers) or not self._queue.empty():
            return False
        for p in self._procs:
            if p.wait() != 0:
                message = p.stderr.read().decode("utf-8", "replace").strip().splitlines()
                raise OSError(message[-1] if message else f"a font worker failed (exit code {p.returncode})")
        raise OSError("a font worker stopped before it had drawn every character")

    def take(self, limit: int | None = None, timeout: float = 0.0) -> list[tuple[int, np.ndarray | None]]:
        """Return up to `limit` (code point, packed glyph or None for a blank) rendered since the last call,
        waiting up to `timeout` seconds for the first one."""
        out = []
        try:
            out.append(self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait())
            while limit is None or len(out) < limit:
                out.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        self._received += len(out)
        return out

    def close(self) -> None:
        """Stop the workers (those still rendering are killed) and release their pipes."""
        for p in self._procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            for stream in (p.stdout, p.stderr):
                stream.close()


def _read_records(proc: subprocess.Popen, part: list[int], out: queue.SimpleQueue) -> None:
    """Put a worker's records on `out` as (code point, packed glyph or None) until it closes its output."""
    stream = proc.stdout
    try:
        for _ in part:
            head = stream.read(RECORD.size)
            if len(head) < RECORD.size:
                return
            cp, has_glyph = RECORD.unpack(head)
            packed = np.frombuffer(stream.read(PACKED_BYTES), np.uint8).copy() if has_glyph else None
            out.put((cp, packed))
    except (OSError, ValueError):  # the pipe was closed: the stream is being shut down
        return


def _worker_main(argv: list[str]) -> int:
    """Render the code points read from stdin (spaces between) and write one record each to stdout."""
    path, index = argv[0], int(argv[1])
    codepoints = [int(t) for t in sys.stdin.buffer.read().split()]
    out = sys.stdout.buffer
    renderer = FaceRenderer(path, index)
    for cp in codepoints:
        packed = pack_glyph(renderer.glyph_pixels(chr(cp)))
        out.write(RECORD.pack(cp, 0) if packed is None else RECORD.pack(cp, 1) + packed.tobytes())
        out.flush()
    return 0


def pack_glyph(pixels: np.ndarray | None) -> np.ndarray | None:
    """Return glyph pixels as np.packbits of their binary image (None stays None: a blank)."""
    return None if pixels is None else np.packbits(pixels >= 0.5)


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise RenderCancelled("cancelled")


def available_cores() -> int:
    """Return how many cores this process may use (its CPU affinity where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


__all__ = ["CHUNK", "FONT_NORMALISATION", "INK_FILL", "MIN_INK_EM", "POOL_MIN", "RENDER_EM_PX", "FaceRenderer",
           "RenderCancelled", "RenderStream", "available_cores", "pack_glyph", "render_codepoints", "unpack_glyph"]


if __name__ == "__main__":
    raise SystemExit(_worker_main(sys.argv[1:]))
