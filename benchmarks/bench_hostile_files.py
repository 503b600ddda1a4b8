"""Time and peak memory of reading very large valid inputs (issue 15, item 15): what each costs to read as a
glyph, refused or not, each in a fresh process.

    python benchmarks/bench_hostile_files.py [--cases WORD...] [--json]

Cases: a 13,000 x 13,000 PNG (refused from its header), the same as a JPEG (decoded at 1/8 scale), gray and
colour PNGs just under the decoding bounds (the most a PNG may cost), a 12-megapixel phone photo, and
200,000-sample Omniglot stroke files (random points: refused; a dense spiral: downsampled and drawn).
Peak memory is the growth of the process's peak resident set over what the imports and a small warm-up
took, so it counts Pillow's buffers as well as numpy's. Goal: well under a second and 200 MB each.
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import resource, sys, time
sys.path.insert(0, {repo!r})
import numpy as np
from engine.gallery import read_glyph
from engine.glyph import GlyphError, glyph_from_image
glyph_from_image(np.full((300, 300), 255, np.uint8))  # warm-up: first-call allocations are not the case's
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    g = read_glyph({path!r})
    outcome = f"glyph, {{g.ink_pixels}} ink pixels"
except GlyphError as exc:
    outcome = "refused: " + str(exc).split(": ", 1)[1][:110]
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{{seconds:.4f}} {{(peak - base) / 1024:.1f}} {{outcome}}")
"""


def png_1bit(width: int, height: int) -> bytes:
    """A valid white 1-bit PNG of any size, written without holding its pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def drawing(width: int, height: int, mode: str = "L") -> Image.Image:
    """A cross drawn with a pen ~1/100 of the image wide."""
    im = Image.new(mode, (width, height), "white")
    d = ImageDraw.Draw(im)
    s, pen = min(width, height), max(2, min(width, height) // 100)
    cx, cy = width / 2, height / 2
    d.line([(cx - 0.3 * s, cy), (cx + 0.3 * s, cy)], fill="black", width=pen)
    d.line([(cx, cy - 0.3 * s), (cx, cy + 0.3 * s)], fill="black", width=pen)
    return im


def encoded(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def stroke_file(points: np.ndarray, per_stroke: int) -> str:
    lines = ["START"]
    for i, (x, y) in enumerate(points):
        lines.append(f"{x:.4f},{-y:.4f},{i * 10}")
        if i % per_stroke == per_stroke - 1:
            lines.append("BREAK")
    return "\n".join(lines) + "\n"


def make_cases(folder: Path, only: list[str] | None = None) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    theta = np.linspace(0, 6 * np.pi, 200_000)
    r = 8 + theta * 2
    cases = {
        "13,000 x 13,000 PNG": ("poster.png", png_1bit(13_000, 13_000)),
        "13,000 x 13,000 JPEG": ("poster.jpg", lambda: encoded(drawing(13_000, 13_000), "JPEG", quality=85)),
        "40 MP gray PNG (7,300 x 5,475)": ("scan.png", lambda: encoded(drawing(7_300, 5_475), "PNG",
                                                                        compress_level=1)),
        "25 MP colour PNG (6,100 x 4,090)": ("colour.png", lambda: encoded(drawing(6_100, 4_090, "RGB"), "PNG",
                                                                          compress_level=1)),
        "12 MP phone photo JPEG": ("photo.jpg", lambda: encoded(drawing(4_000, 3_000, "RGB"), "JPEG", quality=90)),
        "200,000 random points (.txt)": ("random.txt", stroke_file(rng.uniform(0, 105, (200_000, 2)), 1_000)),
        "200,000-point spiral (.txt)": ("spiral.txt", stroke_file(
            np.column_stack([52 + r * np.cos(theta), 52 + r * np.sin(theta)]), 50_000)),
    }
    out = {}
    for label, (name, data) in cases.items():
        if only and not any(word.lower() in label.lower() for word in only):
            continue
        data = data() if callable(data) else data
        path = folder / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode("ascii"))
        out[label] = path
    return out


def measure(path: Path) -> tuple[float, float, str]:
    """Return (seconds, peak MB over the warmed-up process, outcome) of reading `path` in a fresh process."""
    done = subprocess.run([sys.executable, "-c", CHILD.format(repo=str(REPO), path=str(path))],
                          capture_output=True, text=True, check=True)
    seconds, mb, outcome = done.stdout.strip().split(" ", 2)
    return float(seconds), float(mb), outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="end with one line of JSON")
    parser.add_argument("--cases", nargs="+", metavar="WORD", help="only the cases whose name holds one of these "
                                                                  "words (e.g. spiral JPEG)")
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in make_cases(Path(tmp), args.cases).items():
            seconds, mb, outcome = measure(path)
            size = path.stat().st_size
            rows[label] = {"seconds": seconds, "peak_mb": mb, "file_mb": size / 1e6, "outcome": outcome}
            print(f"{label:<30} {seconds * 1000:7.0f} ms {mb:7.1f} MB   ({size / 1e6:5.1f} MB file) {outcome}")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
