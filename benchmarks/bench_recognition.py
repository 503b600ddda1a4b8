"""Recognition benchmark: query latency against galleries of 10 to 100,000 references, accuracy on replayed
Omniglot strokes, and the calibration of the "no confident match" threshold.

    python benchmarks/bench_recognition.py [--sizes 10,1000,10000,100000] [--queries 60] [--references 1000] [--threads N]
                                           [--data-dir DIR] [--calibrate] [--json]

Latency: one query end to end through `Recognizer.rank` (the glyph's pixels to the model's input, the
forward pass, scoring against every reference, per-character max, top 5) with the default model on the
CPU, p50 and p95 over `--queries` drawings. The references of the 10 and 1,000 galleries are real
embeddings of real glyphs; larger galleries repeat those with a little noise (synthetic embeddings: the
query path is the same real one). Beside it, the naive way: every reference passed through the twin
network together with the query (`model(query, reference)`), as often as fits; a size whose naive query
would take over `--naive-budget` seconds (predicted from the previous size) is not run (null).

With the Omniglot data (--data-dir or $OMNIGLOT_DIR):
- accuracy: the drawings of ``strokes_background_subset.zip`` (3 alphabets, drawers 11-20) replayed
  through the canvas's stroke renderer, and the stored images of the same drawings, ranked against
  one-reference galleries of the alphabet built from other drawers (1, 2 and 3); they should agree.
- --calibrate: the threshold sweep on the background set's held-out validation alphabets (never the
  evaluation alphabets; see `calibrate`).
With --json the last line of stdout is one JSON object with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.recognition.embedding import embed_glyphs  # noqa: E402
from engine.gallery import Gallery  # noqa: E402
from engine.glyph import glyph_from_omniglot_png, render_strokes  # noqa: E402
from engine.evaluation.evaluate import character_logits, embed_for_views  # noqa: E402
from engine.recognition.index import ReferenceIndex  # noqa: E402
from engine.recognition.views import card_views, describe_views  # noqa: E402
from engine.recognition.recognize import Recognizer  # noqa: E402
from engine.strokes import Stroke, iter_omniglot_stroke_pairs  # noqa: E402
from engine.weights import load_weights  # noqa: E402

KEEP_RIGHT = 0.95  # calibration: share of right answers the threshold must leave "confident"
NAIVE_BATCH = 256  # pairs per forward pass of the naive way
REFS_PER_CHAR = 2  # galleries of N references hold N/2 characters (exercises the per-character max)


def log(msg: str = "") -> None:
    print(msg, file=sys.stderr if ARGS.json else sys.stdout, flush=True)


def rss_mb() -> float:
    """Return the resident memory of this process in MiB (Linux; peak RSS elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 if sys.platform != "darwin" else 1 << 20)


def load_average() -> float:
    """Return the 1-minute load average (NaN where the system does not say)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


# ------------------------------------------------------------------------------------------------- inputs


def random_drawings(n: int, seed: int) -> list[list[Stroke]]:
    """Return `n` random pen drawings (2-4 strokes of 2-6 points) in Omniglot's 105-unit area."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        strokes = []
        for _ in range(rng.integers(2, 5)):
            pts = np.cumsum(rng.normal(0, 12, (rng.integers(2, 7), 2)), 0) + rng.uniform(30, 75, 2)
            strokes.append(Stroke(np.clip(pts, 15, 90)))
        out.append(strokes)
    return out


def load_stroke_pairs(data_dir: Path) -> list[tuple[str, str, int, list[Stroke], np.ndarray]]:
    """Return (alphabet, character, drawer, strokes, stored image pixels) for every drawing of the subset."""
    pairs = []
    for name, strokes, png in iter_omniglot_stroke_pairs(data_dir):
        _, alphabet, character, file = name.split("/")
        pixels = glyph_from_omniglot_png(png).pixels
        pairs.append((alphabet, character, int(file[:-4].split("_")[1]), strokes, pixels))
    return pairs


def data_dir_or_none() -> Path | None:
    d = ARGS.data_dir or os.environ.get("OMNIGLOT_DIR")
    return Path(d) if d and (Path(d) / "images_background.zip").exists() else None


# ------------------------------------------------------------------------------------------------ latency


def time_calls(fn, inputs: list, warmup: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Return the wall and the process CPU time (ms) of fn(x) for each x, after `warmup` untimed calls.

    CPU time is the honest number on a shared machine: other programs stretch the wall time, not it (with
    one torch thread it is the work done; with more it also counts threads waiting for each other).
    """
    for x in inputs[:warmup]:
        fn(x)
    wall, cpu = [], []
    for x in inputs:
        t, c = time.perf_counter(), time.process_time()
        fn(x)
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    return np.asarray(wall), np.asarray(cpu)


def synthetic_index(model, real: torch.Tensor, n: int, rng: np.random.Generator) -> ReferenceIndex:
    """Return an index of `n` references: the real embeddings, then noisy copies of them."""
    reps = -(-n // len(real))
    emb = real.repeat(reps, 1)[:n].clone()
    if n > len(real):
        noise = torch.from_numpy(rng.normal(0, 0.05, (n - len(real), emb.shape[1])).astype(np.float32))
        emb[len(real):] = (emb[len(real):] + noise).clamp(0, 1)
    n_chars = -(-n // REFS_PER_CHAR)
    counts = [REFS_PER_CHAR] * (n // REFS_PER_CHAR) + ([n % REFS_PER_CHAR] if n % REFS_PER_CHAR else [])
    return ReferenceIndex(model, emb, counts, [f"c{i:06d}" for i in range(n_chars)])


@torch.inference_mode()
def naive_rank(model, query: np.ndarray, refs: torch.Tensor, counts: list[int], k: int = 5) -> list[int]:
    """Rank the naive way: the twin network on (query, reference) for every reference, no embedding reuse."""
    q = model.prepare(torch.from_numpy(np.array(query, np.float32))[None])
    sims = torch.cat([model(q.expand(len(b), -1, -1, -1), model.prepare(b)) for b in refs.split(NAIVE_BATCH)])
    owner = torch.repeat_interleave(torch.arange(len(counts)), torch.as_tensor(counts))
    best = torch.full((len(counts),), -1.0).scatter_reduce(0, owner, sims, reduce="amax")
    return torch.topk(best, min(k, len(counts))).indices.tolist()


def naive_pair_ms(model, query: np.ndarray, ref_pixels: np.ndarray) -> float:
    """Return the naive way's cost per reference (ms), timed on one full batch after a warm-up."""
    batch = min(NAIVE_BATCH, 8 * len(ref_pixels))  # a small --references run stays small
    refs = torch.from_numpy(ref_pixels[np.arange(batch) % len(ref_pixels)])
    naive_rank(model, query, refs[:8], [1] * min(8, batch))
    t = time.perf_counter()
    naive_rank(model, query, refs, [1] * batch)
    return (time.perf_counter() - t) * 1000 / batch


def latency(loaded, sizes: list[int], data: Path | None) -> dict:
    model = loaded.model
    rng = np.random.default_rng(0)
    if data is not None:
        pairs = load_stroke_pairs(data)
        picks = rng.choice(len(pairs), ARGS.queries + ARGS.references, replace=False)
        query_strokes = [pairs[i][3] for i in picks[:ARGS.queries]]
        ref_pixels = np.stack([pairs[i][4] for i in picks[ARGS.queries:]])
        source = "Omniglot strokes (queries) and images (references)"
    else:
        query_strokes = random_drawings(ARGS.queries, seed=1)
        ref_pixels = np.stack([render_strokes(s).pixels for s in random_drawings(ARGS.references, seed=2)])
        source = "random pen drawings (no Omniglot data found)"
    queries = [render_strokes(s) for s in query_strokes]
    log(f"Queries: {len(queries)} drawings; references: {source}")
    t = time.perf_counter()
    real = embed_glyphs(model, ref_pixels, batch_size=128)
    log(f"Embedded {len(real)} real references in {time.perf_counter() - t:.1f} s (the one-off cost a gallery pays)")
    rec = Recognizer(loaded, Gallery.in_memory("bench"))
    render_ms, _ = time_calls(render_strokes, query_strokes)
    log(f"Stroke rendering (canvas -> glyph, not in the numbers below): p50 {np.median(render_ms):.2f} ms")
    log(f"Load average {load_average():.1f} on {os.cpu_count()} cores (wall times count other programs too)")
    out = {"p50_ms": {}, "p95_ms": {}, "naive_p50_ms": {}, "cpu_p50_ms": {}, "index_mb": {}, "rss_mb": {},
           "render_p50_ms": float(np.median(render_ms))}
    naive_per_ref = naive_pair_ms(model, queries[0].pixels, ref_pixels)
    log(f"Naive cost measured on one batch of {NAIVE_BATCH} pairs: {naive_per_ref:.2f} ms per reference "
        f"(used only to decide which sizes fit the {ARGS.naive_budget:.0f} s budget)")
    log(f"\n{'refs':>8} {'p50 ms':>8} {'p95 ms':>8} {'CPU p50':>8} {'naive p50':>10} {'index MB':>9} {'RSS MB':>8}")
    for n in sizes:
        index = synthetic_index(model, real, n, rng)
        rec.use_index(index)
        ms, cpu = time_calls(lambda g: rec.rank(g, k=5), queries)
        naive = None
        predicted = naive_per_ref * n
        if predicted <= ARGS.naive_budget * 1000:
            refs = torch.from_numpy(ref_pixels[np.arange(n) % len(ref_pixels)])
            # Spend at most about half the budget on this size's naive queries.
            reps = max(1, min(len(queries), int(ARGS.naive_budget * 500 // max(predicted, 1.0))))
            counts = [REFS_PER_CHAR] * (n // REFS_PER_CHAR) + ([n % REFS_PER_CHAR] if n % REFS_PER_CHAR else [])
            naive_ms, _ = time_calls(lambda g: naive_rank(model, g.pixels, refs, counts), queries[:reps],
                                     warmup=1 if n <= 100 else 0)
            naive = float(np.median(naive_ms))
        key = str(n)
        out["p50_ms"][key], out["p95_ms"][key] = float(np.median(ms)), float(np.percentile(ms, 95))
        out["naive_p50_ms"][key], out["cpu_p50_ms"][key] = naive, float(np.median(cpu))
        out["index_mb"][key], out["rss_mb"][key] = index.nbytes / 2**20, rss_mb()
        naive_s = f"{naive:10.1f}" if naive is not None else f"{'skipped':>10}"
        log(f"{n:>8} {out['p50_ms'][key]:8.2f} {out['p95_ms'][key]:8.2f} {out['cpu_p50_ms'][key]:8.2f} {naive_s} "
            f"{out['index_mb'][key]:9.1f} {out['rss_mb'][key]:8.0f}")
        del index
    return out


# ----------------------------------------------------------------------------------------------- accuracy


def stroke_accuracy(loaded, data: Path) -> dict:
    """Rank replayed strokes and the stored images of the same drawings against other drawers' galleries."""
    pairs = load_stroke_pairs(data)
    out = {}
    for alphabet in sorted({p[0] for p in pairs}):
        rows = [p for p in pairs if p[0] == alphabet]
        queries = [p for p in rows if p[2] >= 11]
        truth = [p[1] for p in queries]
        hits_s = hits_i = agree = 0
        diffs = []
        embedded = None
        for ref_drawer in (1, 2, 3):
            gallery = Gallery.in_memory(alphabet)
            for p in sorted((p for p in rows if p[2] == ref_drawer), key=lambda p: p[1]):
                gallery.add_character(p[1], [p[4]])
            rec = Recognizer(loaded, gallery)
            if embedded is None:  # the queries are the same for every gallery: embed them once
                embedded = [torch.cat([rec.embed_queries(np.stack(px[i:i + 128])) for i in range(0, len(px), 128)])
                            for px in ([render_strokes(p[3]).pixels for p in queries], [p[4] for p in queries])]
            rs, ri = (rec.rank_embeddings(e, k=1) for e in embedded)
            for t, a, b in zip(truth, rs, ri):
                hits_s += a.matches[0].name == t
                hits_i += b.matches[0].name == t
                agree += a.matches[0].name == b.matches[0].name
                diffs.append(abs(a.matches[0].score - b.matches[0].score))
        n = 3 * len(queries)
        r = out[alphabet] = {"characters": len({p[1] for p in rows}), "queries": n, "strokes_top1": hits_s / n,
                             "images_top1": hits_i / n, "agreement": agree / n,
                             "mean_abs_score_diff": float(np.mean(diffs))}
        log(f"  {alphabet:<22} {r['characters']:>3}-way  strokes {r['strokes_top1']:.1%}  images "
            f"{r['images_top1']:.1%}  same top-1 {r['agreement']:.1%}  "
            f"mean |score diff| {r['mean_abs_score_diff']:.3f}")
    return out


# -------------------------------------------------------------------------------------------- calibration


def calibrate(loaded, data: Path) -> dict:
    """Sweep the threshold on open-set queries from the background set's held-out validation alphabets.

    For each validation alphabet and each of 5 reference drawers: a one-shot gallery (one reference per
    character, that drawer's), queried with every other drawer's image of every character. A query's
    "impostor best" is its best score over the OTHER characters, i.e. the best score it would get if its
    own character were not enrolled (leave-one-character-out); "kept" means its top-1 is right and
    scores at least the threshold. The evaluation alphabets are not touched.
    """
    from engine.data import SplitConfig, load_omniglot, split_background

    bg = load_omniglot(data, with_evaluation=False).background
    val = (loaded.card.get("split") or {}).get("val_alphabets") or \
        split_background(bg, SplitConfig()).val_alphabets
    views = card_views(loaded.card)  # scored as the app scores: the card's reference and query views
    genuine, impostor, correct = [], [], []
    for alphabet in val:
        chars = bg.alphabet_characters(bg.alphabets.index(alphabet))
        idx = np.flatnonzero(np.isin(bg.char, chars))
        emb = embed_for_views(loaded.model, bg.pixels(idx), views, batch_size=64)
        char_of = {c: i for i, c in enumerate(chars)}
        label = np.asarray([char_of[c] for c in bg.char[idx]])
        drawer = bg.drawer[idx]
        for ref_drawer in (1, 5, 9, 13, 17):
            ref_rows = [np.flatnonzero((label == j) & (drawer == ref_drawer))[0] for j in range(len(chars))]
            q = np.flatnonzero(drawer != ref_drawer)
            logits = character_logits(loaded.model, emb[ref_rows][:, None], emb[q], views)
            scores = torch.sigmoid(logits).numpy()
            own = scores[np.arange(len(q)), label[q]]
            others = scores.copy()
            others[np.arange(len(q)), label[q]] = -1
            genuine.append(own)
            impostor.append(others.max(1))
            correct.append(own > others.max(1))
    genuine, impostor, correct = map(np.concatenate, (genuine, impostor, correct))
    log(f"  validation alphabets: {', '.join(val)}; {len(genuine)} queries, one-shot top-1 {correct.mean():.1%}; "
        f"{describe_views(views)}")
    log(f"  {'threshold':>9} {'unknown rejected':>17} {'right+kept':>11} {'genuine >= t':>13}")
    table = {}
    for t in np.round(np.arange(0.05, 1.0, 0.05), 2).tolist() + [0.97, 0.98, 0.99]:
        rejected, kept = float((impostor < t).mean()), float((correct & (genuine >= t)).mean())
        table[f"{t:.2f}"] = {"unknown_rejected": rejected, "right_and_kept": kept,
                             "genuine_above": float((genuine >= t).mean())}
        log(f"  {t:9.2f} {rejected:17.1%} {kept:11.1%} {table[f'{t:.2f}']['genuine_above']:13.1%}")
    quantiles = {f"impostor_q{q}": float(np.quantile(impostor, q / 100)) for q in (50, 75, 80, 90, 95)}
    log("  impostor-best quantiles: " + ", ".join(f"{k[10:]}% {v:.3f}" for k, v in quantiles.items()))
    # The rule: the highest threshold that still keeps KEEP_RIGHT of the right answers confident.
    grid = np.round(np.arange(0.01, 1.0, 0.01), 2)
    kept_share = np.asarray([(correct & (genuine >= t)).mean() / correct.mean() for t in grid])
    chosen = float(grid[kept_share >= KEEP_RIGHT].max())
    rejected = float((impostor < chosen).mean())
    log(f"  recommended threshold {chosen:.2f}: keeps {kept_share[grid == chosen][0]:.1%} of the right answers "
        f"confident, rejects {rejected:.1%} of queries whose character is not enrolled")
    return {"validation_alphabets": val, "queries": int(len(genuine)), "top1": float(correct.mean()),
            "views": views.to_dict(),
            "sweep": table, **quantiles, "recommended": chosen, "recommended_unknown_rejected": rejected,
            "recommended_right_kept_share": float(kept_share[grid == chosen][0])}


# ----------------------------------------------------------------------------------------------------- main


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10,1000,10000,100000", help="gallery sizes (references), comma-separated")
    p.add_argument("--queries", type=int, default=60, help="timed queries per size")
    p.add_argument("--references", type=int, default=1000, help="real references embedded (larger sizes repeat them)")
    p.add_argument("--naive-budget", type=float, default=60.0, help="longest naive query to run, seconds")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--weights", help="model weights (default: the shipped model)")
    p.add_argument("--data-dir", help="Omniglot folder (default: $OMNIGLOT_DIR)")
    p.add_argument("--calibrate", action="store_true", help="threshold sweep on the validation alphabets")
    p.add_argument("--skip-accuracy", action="store_true", help="no stroke accuracy section")
    p.add_argument("--json", action="store_true", help="end with one line of JSON (human output to stderr)")
    return p.parse_args(argv)


def main() -> None:
    if ARGS.threads:
        torch.set_num_threads(ARGS.threads)
    torch.set_grad_enabled(False)
    loaded = load_weights(ARGS.weights, "cpu")
    data = data_dir_or_none()
    log(f"Model {loaded.name} ({loaded.model.config.preset}, fingerprint {loaded.fingerprint}); CPU, "
        f"{torch.get_num_threads()} torch threads, {os.cpu_count()} cores")
    result = latency(loaded, [int(s) for s in ARGS.sizes.split(",")], data)
    result["threads"], result["load_average"] = torch.get_num_threads(), load_average()
    result["accuracy"] = result["calibration"] = None
    if data is not None and not ARGS.skip_accuracy:
        log("\nAccuracy on replayed strokes vs stored images (1-reference galleries from drawers 1, 2, 3; "
            "queries: drawers 11-20)")
        result["accuracy"] = stroke_accuracy(loaded, data)
    if data is not None and ARGS.calibrate:
        log("\nThreshold calibration (open set, validation alphabets)")
        result["calibration"] = calibrate(loaded, data)
    elif data is None:
        log("\n(no Omniglot data: set OMNIGLOT_DIR or --data-dir for the accuracy and calibration sections)")
    if ARGS.json:
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    ARGS = parse_args()
    main()
