"""Fit the stroke renderer to Omniglot's own renderer, and measure Omniglot's ink framing.

Omniglot's ``strokes_background_subset.zip`` holds the pen trajectories of 2,120 drawings whose images are
in ``images_background.zip`` under the same name. For each candidate (pen radius r, offset dx/dy, scale) the
drawings are rendered with `engine.glyph`'s renderer and compared with the real images by IoU of the ink;
the grid search runs coarse-to-fine on a random subset and the winner (and the shipped constants) are then
scored on every drawing. A second table gives the ink framing statistics of images_background (bounding box
size/centre, stroke-width estimate) that `glyph_from_image` normalises to.

    python benchmarks/stroke_renderer_fit.py [--omniglot-dir DIR] [--fit-drawings 200] [--framing-images 3000]

DIR defaults to $OMNIGLOT_DIR. Nothing is extracted: the zips are read in place. Takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import glyph as G  # noqa: E402
from engine.glyph.pen import distance_field  # noqa: E402
from engine.glyph.render import stroke_segments  # noqa: E402
from engine.glyph.thinning import stroke_width  # noqa: E402
from engine.strokes import iter_omniglot_stroke_pairs  # noqa: E402

RADII = np.round(np.arange(2.0, 3.001, 0.05), 3)
FINE_RADII = np.round(np.arange(2.3, 2.651, 0.025), 3)


def load_pairs(folder: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Return (name, segments in stroke units with y down, ink mask of the real image) for every drawing."""
    pairs = []
    for name, strokes, png in iter_omniglot_stroke_pairs(folder):
        ink = np.asarray(Image.open(io.BytesIO(png))) == 0
        pairs.append((name, stroke_segments(strokes), ink))
    return pairs


def ious(seg: np.ndarray, ink: np.ndarray, scale: float, dx: float, dy: float, radii=RADII) -> np.ndarray:
    """Return the IoU with `ink` of the drawing rendered at each radius (one distance field for all)."""
    c = G.GLYPH_SIZE / 2
    s = (seg - c) * scale + c + np.array([dx, dy, dx, dy])
    dist = distance_field(s, G.GLYPH_SIZE, float(max(radii)) + 1.0)
    m = dist[None] <= np.asarray(radii)[:, None, None]
    inter = (m & ink).sum(axis=(1, 2))
    union = (m | ink).sum(axis=(1, 2))
    return inter / np.maximum(union, 1)


def grid(pairs, scales, dxs, dys, radii=RADII) -> list[tuple[float, float, float, float, float]]:
    """Return (mean IoU, scale, dx, dy, r) for every grid point, best first."""
    rows = []
    for scale, dx, dy in itertools.product(scales, dxs, dys):
        score = np.mean([ious(seg, ink, scale, dx, dy, radii) for _, seg, ink in pairs], axis=0)
        rows += [(float(v), float(scale), float(dx), float(dy), float(r)) for v, r in zip(score, radii)]
    return sorted(rows, reverse=True)


def fit(pairs, n_fit: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    sub = [pairs[i] for i in rng.choice(len(pairs), min(n_fit, len(pairs)), replace=False)]
    t0 = time.time()
    # 1. Offset and radius, scale 1, coarse, on half the subset.
    steps = np.arange(-0.5, 1.51, 0.25)
    coarse = grid(sub[: max(1, len(sub) // 2)], [1.0], steps, steps)
    _, _, cdx, cdy, _ = coarse[0]
    # 2. Scale, with the offset free within a step.
    near = np.array([-0.125, 0.0, 0.125])
    scaled = grid(sub, [0.98, 0.99, 1.0, 1.01, 1.02], cdx + near, cdy + near)
    _, scale, sdx, sdy, _ = scaled[0]
    print(f"\nStages 1-2 on {len(sub)} random drawings ({time.time() - t0:.0f} s): coarse best dx={cdx:+.3f} "
          f"dy={cdy:+.3f}; best scale {scale:.2f}. Top settings of stage 2:\n")
    print(f"{'mean IoU':>9} {'scale':>6} {'dx':>7} {'dy':>7} {'r':>5} {'width':>6}")
    for v, sc, dx, dy, r in scaled[:8]:
        print(f"{v:9.4f} {sc:6.2f} {dx:+7.3f} {dy:+7.3f} {r:5.2f} {2 * r:6.2f}")
    # 3. Final offset and radius on every drawing.
    t0 = time.time()
    fine = grid(pairs, [scale], sdx + near / 2, sdy + near / 2, FINE_RADII)
    print(f"\nStage 3 on all {len(pairs)} drawings ({time.time() - t0:.0f} s), top settings:\n")
    print(f"{'mean IoU':>9} {'scale':>6} {'dx':>7} {'dy':>7} {'r':>6} {'width':>6}")
    for v, sc, dx, dy, r in fine[:8]:
        print(f"{v:9.4f} {sc:6.2f} {dx:+7.4f} {dy:+7.4f} {r:6.3f} {2 * r:6.2f}")

    _, scale, dx, dy, r = fine[0]
    shipped = (1.0, *G.STROKE_OFFSET, G.PEN_RADIUS)
    print(f"\nScored on all {len(pairs)} drawings:\n")
    print(f"{'setting':<52} {'mean':>6} {'median':>6} {'p5':>6} {'min':>6}")
    settings = [("best of stage 3", (scale, dx, dy, r)), ("shipped constants", shipped),
                ("shipped, r - 0.25", (*shipped[:3], shipped[3] - 0.25)),
                ("shipped, r + 0.25", (*shipped[:3], shipped[3] + 0.25)),
                ("shipped, no offset", (1.0, 0.0, 0.0, shipped[3]))]
    shipped_scores = None
    for label, (sc, ox, oy, rad) in settings:
        v = np.array([ious(seg, ink, sc, ox, oy, [rad])[0] for _, seg, ink in pairs])
        shipped_scores = v if label == "shipped constants" else shipped_scores
        print(f"{label + f' (r={rad:.3f} dx={ox:+.3f} dy={oy:+.3f} s={sc:.2f})':<52} {v.mean():6.3f} "
              f"{np.median(v):6.3f} {np.percentile(v, 5):6.3f} {v.min():6.3f}")

    by_alpha: dict[str, list[float]] = {}
    for (name, _, _), v in zip(pairs, shipped_scores):
        by_alpha.setdefault(name.split("/")[1], []).append(v)
    print(f"\n{'alphabet (shipped constants)':<30} {'n':>5} {'mean IoU':>9} {'median':>7}")
    for alpha, v in sorted(by_alpha.items()):
        print(f"{alpha:<30} {len(v):5d} {np.mean(v):9.3f} {np.median(v):7.3f}")
    order = np.argsort(shipped_scores)
    print("\nWorst drawings (shipped constants):")
    for i in order[:5]:
        print(f"  {shipped_scores[i]:.3f}  {pairs[i][0]}")


def framing(folder: Path, n_images: int, seed: int) -> None:
    """Print the ink framing statistics of images_background that glyph_from_image normalises to."""
    with zipfile.ZipFile(folder / "images_background.zip") as zi:
        names = sorted(n for n in zi.namelist() if n.endswith(".png"))
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(names), min(n_images, len(names)), replace=False)
        stats: dict[str, list[float]] = {k: [] for k in ("bbox longer side", "bbox width", "bbox height",
                                                         "bbox centre x", "bbox centre y", "ink pixels",
                                                         "stroke width est.")}
        for i in pick:
            ink = np.asarray(Image.open(io.BytesIO(zi.read(names[i])))) == 0
            ys, xs = np.nonzero(ink)
            x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
            for key, val in (("bbox longer side", max(x1 - x0, y1 - y0)), ("bbox width", x1 - x0),
                             ("bbox height", y1 - y0), ("bbox centre x", (x0 + x1) / 2),
                             ("bbox centre y", (y0 + y1) / 2), ("ink pixels", ink.sum()),
                             ("stroke width est.", stroke_width(ink))):
                stats[key].append(float(val))
    print(f"\nInk framing of {len(pick)} random images_background images (105-px frame, pixel-edge coordinates):\n")
    qs = [1, 2.5, 5, 10, 50, 90, 95, 97.5, 99]
    print(f"{'statistic':<18} {'mean':>6} {'sd':>5} " + " ".join(f"{'p' + format(q, 'g'):>6}" for q in qs))
    for key, v in stats.items():
        a = np.array(v)
        print(f"{key:<18} {a.mean():6.2f} {a.std():5.2f} " + " ".join(f"{p:6.1f}" for p in np.percentile(a, qs)))
    inside = {
        "FRAME_EXTENT_RANGE": (stats["bbox longer side"], G.FRAME_EXTENT_RANGE),
        "FRAME_CENTER_X_RANGE": (stats["bbox centre x"], G.FRAME_CENTER_X_RANGE),
        "FRAME_CENTER_Y_RANGE": (stats["bbox centre y"], G.FRAME_CENTER_Y_RANGE),
        "WIDTH_RANGE": (stats["stroke width est."], G.WIDTH_RANGE),
    }
    print("\nShipped ranges (glyph_from_image leaves an image alone inside all of them):")
    for key, (v, (lo, hi)) in inside.items():
        a = np.array(v)
        print(f"  {key:<21} {lo:5.1f} - {hi:5.1f}   holds {np.mean((a >= lo) & (a <= hi)):6.1%} of the images")

    # End to end: how much glyph_from_image changes real Omniglot images (it should leave most exactly alone).
    t0 = time.time()
    same, scores = 0, []
    with zipfile.ZipFile(folder / "images_background.zip") as zi:
        for i in pick:
            data = zi.read(names[i])
            ink = np.asarray(Image.open(io.BytesIO(data))) == 0
            out = G.glyph_from_image(data).pixels >= 0.5
            same += bool(np.array_equal(out, ink))
            scores.append((out & ink).sum() / max((out | ink).sum(), 1))
    print(f"\nglyph_from_image on the same {len(pick)} images ({(time.time() - t0) / len(pick) * 1000:.1f} ms each): "
          f"{same / len(pick):.1%} pixel-identical, mean IoU with the input {np.mean(scores):.3f} "
          f"(median {np.median(scores):.3f})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--omniglot-dir", type=Path, default=os.environ.get("OMNIGLOT_DIR"),
                    help="folder with images_background.zip and strokes_background_subset.zip (default $OMNIGLOT_DIR)")
    ap.add_argument("--fit-drawings", type=int, default=200)
    ap.add_argument("--framing-images", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    folder = args.omniglot_dir
    need = ("strokes_background_subset.zip", "images_background.zip")
    if folder is None or not all((Path(folder) / n).is_file() for n in need):
        print(f"skipped: needs {' and '.join(need)} in --omniglot-dir or $OMNIGLOT_DIR (got {folder})")
        return 0
    folder = Path(folder)
    pairs = load_pairs(folder)
    print(f"{len(pairs)} stroke/image pairs")
    fit(pairs, args.fit_drawings, args.seed)
    framing(folder, args.framing_images, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
