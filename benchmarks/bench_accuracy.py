"""What each recognition technique gives, side by side: one-shot accuracy with and without reference views
and query views, on the validation alphabets, on seeded evaluation tasks, on Lake's 20 official runs, on a
typeface's a-z against Omniglot's handwritten Latin, and the query latency at 1,000 characters; then each
image normalisation (`engine.glyph.Normalisation`) on the checks of other sources (`other_sources.py`: other
pens and sizes, scans, typefaces as image folders).

    python benchmarks/bench_accuracy.py [--weights A.safetensors B.safetensors] [--font FONT.ttf] [--json]
                                        [--val-tasks 2000] [--eval-tasks 2000] [--no-official-runs]
                                        [--latency-chars 1000] [--latency-queries 40] [--check-tasks 100]
    python benchmarks/bench_accuracy.py --quick          # small task counts, for a busy machine

Each model embeds every image once with the most views any configuration uses (view i is the same distortion
whatever the count, engine.recognition.views), and every configuration is scored from those embeddings through the same
functions `engine evaluate`, `engine rank` and the app use. Choices are made on the validation alphabets (the
model card's held-out background alphabets) and the typeface check (Latin is one of them); the evaluation
alphabets and the official runs are only reported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_recognition import load_average, random_drawings, time_calls  # noqa: E402
from other_sources import Checks  # noqa: E402
from engine.data import load_omniglot, validation_split_of  # noqa: E402
from engine.data.locate import find_runs  # noqa: E402
from engine.data.splits import split_background  # noqa: E402
from engine.evaluation.evaluate import OneShotConfig, choose, embed_for_views, episode_images, make_episodes, score_episodes  # noqa: E402,E501
from engine.gallery import Gallery  # noqa: E402
from engine.fonts.faces import import_font  # noqa: E402
from engine.glyph import DEFAULT_NORMALISATION, Normalisation, render_strokes  # noqa: E402
from engine.recognition.index import ReferenceIndex  # noqa: E402
from engine.evaluation.official_runs import read_runs  # noqa: E402
from engine.recognition.recognize import Recognizer  # noqa: E402
from engine.recognition.views import ViewConfig  # noqa: E402
from engine.weights import load_weights  # noqa: E402

CONFIGS = {
    "plain": ViewConfig(),
    "ink centred": ViewConfig(center=True),
    "ref views 8, max": ViewConfig(8),
    "ref views 8, max, centred": ViewConfig(8, center=True),
    "ref views 8, prototype, centred": ViewConfig(8, rule="prototype", center=True),
    "ref views 8 + query views 4, centred": ViewConfig(8, 4, center=True),
}
# Image normalisations compared on the other-source checks: framing (Omniglot's 38-91 px, or at least 58) and the
# pen redraw, each on and off; the one equal to engine.glyph.DEFAULT_NORMALISATION is marked shipped.
NORMALISATIONS = {
    "38-91 px, redraw out-of-range widths (before)": Normalisation(extent=(38, 91), redraw=False),
    "38-91 px, always redraw": Normalisation(extent=(38, 91), redraw=True),
    "58-91 px, redraw out-of-range widths": Normalisation(extent=(58, 91), redraw=False),
    "58-91 px, always redraw": Normalisation(extent=(58, 91), redraw=True),
    "58 px, always redraw": Normalisation(extent=(58, 58), redraw=True),
}
LATIN = "Latin"
LETTERS = "abcdefghijklmnopqrstuvwxyz"  # Omniglot's Latin characters 1-26, in this order
DEFAULT_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def log(msg: str = "") -> None:
    print(msg, file=sys.stderr if ARGS.json else sys.stdout, flush=True)


def embed_all(model, glyphs: np.ndarray) -> dict[bool, torch.Tensor]:
    """Return the glyphs' view embeddings with the most views any configuration uses, as they are (False) and with
    their ink centred (True), for the configurations that ask for each."""
    views = ViewConfig(max(c.reference_views for c in CONFIGS.values()), max(c.query_views for c in CONFIGS.values()))
    return {center: embed_for_views(model, glyphs, replace(views, center=center), batch_size=64)
            for center in sorted({c.center for c in CONFIGS.values()})}


def seeded(model, data, chars, tasks: int, way: int) -> dict[str, float]:
    """Accuracy of every configuration on the same seeded tasks (seed 0), from one embedding pass."""
    config = OneShotConfig(way=way, shot=1, tasks=tasks, seed=0)
    episodes = make_episodes(data, config, chars)
    images = episode_images(episodes)
    emb = embed_all(model, data.pixels(images))
    return {name: score_episodes(model, data, episodes, images, emb[v.center], config, v).accuracy
            for name, v in CONFIGS.items()}


def official_runs(model, runs_path: Path) -> dict[str, float]:
    runs = read_runs(runs_path).runs
    right = {name: 0 for name in CONFIGS}
    total = 0
    for run in runs:
        emb = embed_all(model, np.concatenate([run.references, run.tests]))
        n = len(run.references)
        for name, v in CONFIGS.items():
            refs, tests = emb[v.center][:n, None], emb[v.center][n:]
            right[name] += int((choose(model, refs, tests, v).cpu().numpy() == run.answers).sum())
        total += len(run.tests)
    return {name: r / total for name, r in right.items()}


def typeface_glyphs(font_path: str) -> np.ndarray:
    """Return a-z of a font as the app's font import enrols them (engine.fonts.faces): (26, 105, 105)."""
    gallery = import_font(font_path, None, text=LETTERS).gallery
    by_char = {c.char: c.references[0].pixels for c in gallery.characters}
    return np.stack([by_char[ch] for ch in LETTERS])


def typeface(model, background, font_path: str) -> dict[str, float]:
    """26-way: every Latin drawing (20 drawers) against a typeface's a-z, one reference each."""
    a = background.alphabets.index(LATIN)
    chars = background.alphabet_characters(a)
    index = np.flatnonzero(np.isin(background.char, chars))
    truth = np.searchsorted(chars, background.char[index])
    refs = embed_all(model, typeface_glyphs(font_path))
    queries = embed_all(model, background.pixels(index))
    return {name: float((choose(model, refs[v.center][:, None], queries[v.center], v).cpu().numpy() == truth).mean())
            for name, v in CONFIGS.items()}


def latency(loaded, real: torch.Tensor, n_chars: int = 1000, queries: int = 40) -> dict[str, float]:
    """p50 ms of one drawn query end to end against `n_chars` characters, per configuration."""
    drawings = [render_strokes(s) for s in random_drawings(queries, seed=1)]
    out = {}
    for name, v in CONFIGS.items():
        rec = Recognizer(loaded, Gallery.in_memory("bench"), views=v)
        rows = torch.cat([real] * (n_chars * v.rows_per_reference // len(real) + 1))[: n_chars * v.rows_per_reference]
        rec.use_index(ReferenceIndex(loaded.model, rows, [1] * n_chars, [str(i) for i in range(n_chars)],
                                     v.rows_per_reference))
        ms, _ = time_calls(lambda g: rec.rank(g, k=5), drawings)
        out[name] = float(np.median(ms))
    return out


def measure(weights: str | None, data_dir: str | None) -> dict:
    loaded = load_weights(weights)
    model = loaded.model
    data = load_omniglot(data_dir, with_evaluation=ARGS.eval_tasks > 0)
    bg = data.background
    split = split_background(bg, validation_split_of(loaded.card))
    log(f"\n{loaded.name}: validation alphabets {', '.join(split.val_alphabets)}")
    rows: dict[str, dict] = {name: {} for name in CONFIGS}

    def put(column: str, values: dict[str, float]) -> None:
        for name, value in values.items():
            rows[name][column] = value
        log(f"  {column}: " + ", ".join(f"{n} {x:.1%}" if column != "p50_ms" else f"{n} {x:.1f}"
                                          for n, x in values.items()))

    if ARGS.only_other_sources:
        return {"model": loaded.name, "weights": str(loaded.path), "validation_alphabets": split.val_alphabets,
                "rows": {}, "other_sources": other_sources(model, bg, split.val_alphabets, data_dir)}
    t = time.perf_counter()
    counts = np.bincount(bg.char_alphabet[split.val_chars])
    put("validation", seeded(model, bg, split.val_chars, ARGS.val_tasks, min(20, int(counts.max()))))
    if ARGS.eval_tasks:
        put("seeded_evaluation", seeded(model, data.evaluation, None, ARGS.eval_tasks, 20))
    runs = find_runs(data_dir) if ARGS.official_runs else None
    if runs is not None:
        put("official_runs", official_runs(model, runs))
    if LATIN in split.val_alphabets and ARGS.font and Path(ARGS.font).is_file():
        put("typeface_latin", typeface(model, bg, ARGS.font))
    real = embed_for_views(model, bg.pixels(np.flatnonzero(np.isin(bg.char, split.val_chars))[:min(500, ARGS.latency_chars)]),
                           ViewConfig(), batch_size=64)[:, 0]
    put("p50_ms", latency(loaded, real, ARGS.latency_chars, ARGS.latency_queries))
    log(f"  ({time.perf_counter() - t:.0f} s)")
    other = other_sources(model, bg, split.val_alphabets, data_dir) if ARGS.check_tasks else {}
    return {"model": loaded.name, "weights": str(loaded.path), "validation_alphabets": split.val_alphabets,
            "rows": rows, "other_sources": other}


def other_sources(model, bg, val_alphabets: list[str], data_dir: str | None) -> dict[str, dict[str, float]]:
    """{normalisation: {check: accuracy}} on the other-source checks (ink centred, no views)."""
    t = time.perf_counter()
    checks = Checks(model, bg, val_alphabets, Path(data_dir or ""), ARGS.check_tasks)
    named = {name + (" (shipped)" if n == DEFAULT_NORMALISATION else ""): n for name, n in NORMALISATIONS.items()}
    out: dict[str, dict[str, float]] = {name: {} for name in named}
    for column, check in checks.columns().items():
        for name, normalisation in named.items():
            value = check(normalisation)
            if value is not None:
                out[name][column] = value
        log(f"  {column}: " + ", ".join(f"{n} {out[n][column]:.1%}" for n in named if column in out[n]))
    log(f"  ({time.perf_counter() - t:.0f} s)")
    return out


def table(result: dict) -> str:
    cols = ["validation", "seeded_evaluation", "official_runs", "typeface_latin", "p50_ms"]
    heads = ["validation", f"seeded eval ({ARGS.eval_tasks})", "official runs", "typeface->Latin", "p50 @1000"]
    lines = [f"{result['model']}", "| pipeline | " + " | ".join(heads) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in result["rows"].items():
        cells = [("" if c not in row else f"{row[c]:.1f} ms" if c == "p50_ms" else f"{row[c]:.1%}") for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    other = result.get("other_sources") or {}
    cols = list(dict.fromkeys(c for row in other.values() for c in row))
    if cols:
        lines += ["", f"other sources ({ARGS.check_tasks} tasks a pen or scan check; typefaces: 520 Latin drawings)",
                  "| normalisation | " + " | ".join(cols) + " | mean |", "|---" * (len(cols) + 2) + "|"]
        for name, row in other.items():
            cells = [f"{row[c]:.1%}" if c in row else "" for c in cols]
            mean = f"{np.mean([row[c] for c in cols if c in row]):.1%}" if row else ""
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {mean} |")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", nargs="*", default=[None], help="models to compare (default: the shipped one)")
    p.add_argument("--data-dir", default=os.environ.get("OMNIGLOT_DIR"), help="Omniglot folder")
    p.add_argument("--val-tasks", type=int, default=2000, help="seeded 20-way tasks on the validation alphabets")
    p.add_argument("--eval-tasks", type=int, default=2000, help="seeded 20-way tasks on the evaluation alphabets "
                                                                "(0: skip; the slowest part)")
    p.add_argument("--font", default=DEFAULT_FONT, help="a TrueType/OpenType font for the typeface check ('': skip)")
    p.add_argument("--no-official-runs", dest="official_runs", action="store_false",
                   help="skip Lake's official runs even when all_runs.zip is found")
    p.add_argument("--latency-chars", type=int, default=1000, help="gallery size of the latency column")
    p.add_argument("--latency-queries", type=int, default=40, help="timed queries per configuration")
    p.add_argument("--check-tasks", type=int, default=100, help="20-way tasks per pen and scan check of other "
                                                                 "sources (0: skip them)")
    p.add_argument("--only-other-sources", action="store_true", help="only the checks of other sources (the "
                                                                        "normalisation does not touch the others)")
    p.add_argument("--quick", action="store_true", help="300 validation and evaluation tasks, 25 a check")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--json", action="store_true", help="end with one line of JSON (tables to stderr)")
    args = p.parse_args(argv)
    if args.quick:
        args.val_tasks, args.eval_tasks, args.check_tasks = 300, 300, 25
    return args


def main() -> None:
    if ARGS.threads:
        torch.set_num_threads(ARGS.threads)
    log(f"Load average {load_average():.1f} on {os.cpu_count()} cores; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads")
    results = [measure(w, ARGS.data_dir) for w in ARGS.weights]
    for r in results:
        log("\n" + table(r))
    if ARGS.json:
        print(json.dumps({"results": results, "configs": {k: v.to_dict() for k, v in CONFIGS.items()},
                          "load_average": load_average(), "cpus": os.cpu_count()}))


if __name__ == "__main__":
    ARGS = parse_args()
    main()
