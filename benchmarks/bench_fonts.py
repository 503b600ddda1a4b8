"""Font benchmark: one-shot from a typeface to handwriting and to another typeface, and a whole font's size.

    python benchmarks/bench_fonts.py [--fonts FILE...] [--whole-font FILE] [--queries 200] [--data-dir DIR]
                                     [--weights FILE] [--threads N] [--skip-whole | --only-whole] [--json]

1. Typeface to handwriting: a gallery of a font's a-z (one reference each, from `import_font`) against every
   drawing of Omniglot's handwritten Latin (a validation alphabet of the background set: lowercase a-z,
   character01 = "a"), 26-way, all 20 drawers (520 queries), top-1 accuracy. Each face alone, then the faces
   of `GROUP` together (each character then has one reference per face and scores by its best one).
2. Typeface to typeface: a gallery of the first font's a-z, A-Z and 0-9 (62 characters) against the same
   characters rendered from each other face (62-way): how far one font's shapes carry to another's.
3. A whole font: time to import every drawable character into a new gallery folder (rendering, writing;
   also its CPU seconds, worker processes included, which say more than the wall time on a busy machine),
   time to embed its references with the model, and the latency of one query (p50, p95 over `--queries`
   Omniglot Latin drawings; `Recognizer.rank`, top 5) at that size.

Fonts default to the DejaVu faces under /usr/share/fonts/truetype/dejavu (any installed TrueType font works
via --fonts). Needs the Omniglot background set (--data-dir or $OMNIGLOT_DIR) for 1 and 3's queries.
With --json the last line of stdout is one JSON object with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data import load_omniglot  # noqa: E402
from engine.fonts.render import available_cores  # noqa: E402
from engine.gallery import Gallery  # noqa: E402
from engine.fonts.faces import import_font, open_font  # noqa: E402
from engine.recognition.recognize import Recognizer  # noqa: E402
from engine.weights import load_weights  # noqa: E402

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
DEFAULT_FACES = ["DejaVuSans.ttf", "DejaVuSansCondensed.ttf", "DejaVuSansMono.ttf", "DejaVuSans-ExtraLight.ttf",
                 "DejaVuSerif.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif-Italic.ttf"]
# Sans and mono faces, fixed in advance (not chosen by the numbers below): the multi-font gallery.
GROUP = ["DejaVuSans.ttf", "DejaVuSansCondensed.ttf", "DejaVuSansMono.ttf", "DejaVuSans-ExtraLight.ttf"]
LOWER = "abcdefghijklmnopqrstuvwxyz"
ALNUM = LOWER + LOWER.upper() + "0123456789"


def log(msg: str = "") -> None:
    print(msg, file=sys.stderr if ARGS.json else sys.stdout, flush=True)


def latin_queries(data_dir: str | None, drawers: int = 20) -> tuple[np.ndarray, list[str]]:
    """Return Omniglot's handwritten Latin drawings by the first `drawers` drawers (n, 105, 105; 1 = ink) and
    their letters."""
    data = load_omniglot(data_dir, with_evaluation=False).background
    alphabet = data.alphabets.index("Latin")
    chars = list(data.alphabet_characters(alphabet))
    idx = np.flatnonzero(np.isin(data.char, chars) & (data.drawer <= drawers))
    letters = [LOWER[chars.index(c)] for c in data.char[idx]]
    return data.pixels(idx).astype(np.float32), letters


def font_gallery(fonts: list[Path], text: str) -> Gallery:
    """Return an in-memory gallery of `text` from each font in turn (one reference per font and character)."""
    gallery = Gallery.in_memory("fonts")
    for font in fonts:
        import_font(font, gallery, text=text)
    return gallery


def accuracy(loaded, gallery: Gallery, queries: np.ndarray, truth: list[str]) -> float:
    """Return the share of queries whose top-ranked character is the right one."""
    recognizer = Recognizer(loaded, gallery)
    recognizer.refresh()
    results = recognizer.rank_many(list(queries), k=1)
    return float(np.mean([r.best is not None and r.best.name == t for r, t in zip(results, truth)]))


def rendered(font: Path, text: str) -> tuple[np.ndarray, list[str]]:
    """Return `text` of `font` as glyph pixels (as the gallery would hold them) and the characters."""
    g = import_font(font, None, text=text).gallery
    return np.stack([c.references[0].pixels for c in g.characters]), g.names()


def whole_font(loaded, font: Path, queries: np.ndarray, n_queries: int) -> dict:
    """Return import, embedding and query times for every drawable character of `font`."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-fonts-"))
    try:
        t0, cpu0 = time.perf_counter(), cpu_seconds()
        result = import_font(font, tmp / "gallery")
        import_s, import_cpu_s = time.perf_counter() - t0, cpu_seconds() - cpu0
        log(f"  imported {result.added_characters} characters in {import_s:.1f} s ({import_cpu_s:.1f} CPU seconds "
            f"over {available_cores()} cores, worker processes included; {result.skipped_summary()})")
        recognizer = Recognizer(loaded, result.gallery)
        t0 = time.perf_counter()
        recognizer.refresh()
        embed_s = time.perf_counter() - t0
        log(f"  embedded them in {embed_s:.1f} s")
        picks = queries[np.random.default_rng(0).choice(len(queries), size=min(n_queries, len(queries)),
                                                        replace=False)]
        for q in picks[:5]:
            recognizer.rank(q)  # warm-up
        times, cpu = [], []
        for q in picks:
            t0, c0 = time.perf_counter(), time.process_time()
            recognizer.rank(q)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        return {"font": font.name, "characters": result.added_characters, "import_s": round(import_s, 2),
                "import_cpu_s": round(import_cpu_s, 2), "cores": available_cores(),
                "embed_s": round(embed_s, 2), "query_ms_p50": round(float(np.percentile(times, 50)), 2),
                "query_ms_p95": round(float(np.percentile(times, 95)), 2),
                "query_cpu_ms_p50": round(float(np.percentile(cpu, 50)), 2), "queries": len(times)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cpu_seconds() -> float:
    """Return the CPU time (user + system) of this process and its finished child processes."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fonts", nargs="+", type=Path, help="font files (default: the DejaVu faces listed in the code)")
    p.add_argument("--whole-font", type=Path, help="font to import whole (default: the first font)")
    p.add_argument("--skip-whole", action="store_true", help="skip the whole-font import and latency")
    p.add_argument("--only-whole", action="store_true", help="only the whole-font import and latency")
    p.add_argument("--queries", type=int, default=200, help="queries for the latency at the whole font's size")
    p.add_argument("--drawers", type=int, default=20, help="Latin drawers whose drawings are queries (all: 20)")
    p.add_argument("--data-dir", help="Omniglot folder (default: $OMNIGLOT_DIR or the per-user folder)")
    p.add_argument("--weights", help="model weights (default: the shipped model)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--json", action="store_true", help="end with one line of JSON (human output to stderr)")
    return p.parse_args(argv)


def main() -> None:
    fonts = ARGS.fonts or [DEJAVU / f for f in DEFAULT_FACES if (DEJAVU / f).is_file()]
    if not fonts:
        sys.exit("No fonts: give --fonts FILE... (no DejaVu fonts under /usr/share/fonts/truetype/dejavu)")
    if ARGS.threads:
        torch.set_num_threads(ARGS.threads)
    loaded = load_weights(ARGS.weights, torch.device("cpu"))
    out: dict = {"model": loaded.name, "machine": platform.processor() or platform.machine(),
                 "cpu_threads": torch.get_num_threads(), "load_average_start": load_average(),
                 "torch": torch.__version__}
    queries, letters = latin_queries(ARGS.data_dir, ARGS.drawers)
    if not ARGS.only_whole:
        accuracy_tables(loaded, fonts, queries, letters, out)
    if not ARGS.skip_whole:
        whole = ARGS.whole_font or fonts[0]
        log(f"Whole font: {whole.name}")
        out["whole_font"] = whole_font(loaded, whole, queries, ARGS.queries)
        log(f"  query p50 {out['whole_font']['query_ms_p50']} ms, p95 {out['whole_font']['query_ms_p95']} ms "
            f"(CPU time p50 {out['whole_font']['query_cpu_ms_p50']} ms) at {out['whole_font']['characters']} "
            f"characters")
    out["load_average_end"] = load_average()
    if ARGS.json:
        print(json.dumps(out), flush=True)


def accuracy_tables(loaded, fonts: list[Path], queries: np.ndarray, letters: list[str], out: dict) -> None:
    """Add the typeface-to-handwriting and typeface-to-typeface accuracies to `out`."""
    log(f"Typeface a-z -> Omniglot handwritten Latin, 26-way, {len(queries)} drawings ({loaded.name}):")
    per_face = {}
    for font in fonts:
        per_face[font.name] = accuracy(loaded, font_gallery([font], LOWER), queries, letters)
        log(f"  {open_font(font).full_name:<32} {per_face[font.name]:.1%}")
    group = [f for f in fonts if f.name in GROUP]
    out["typeface_to_latin"] = {"per_face": per_face}
    if len(group) > 1:
        acc = accuracy(loaded, font_gallery(group, LOWER), queries, letters)
        out["typeface_to_latin"]["group"] = {"faces": [f.name for f in group], "accuracy": acc}
        log(f"  {len(group)} faces together ({', '.join(f.stem for f in group)}): {acc:.1%}")

    log(f"Typeface to typeface: {fonts[0].stem}'s a-z A-Z 0-9 against the others', 62-way:")
    source = font_gallery([fonts[0]], ALNUM)
    out["typeface_to_typeface"] = {"gallery": fonts[0].name, "per_face": {}}
    for font in fonts[1:]:
        pixels, truth = rendered(font, ALNUM)
        acc = accuracy(loaded, source, pixels, truth)
        out["typeface_to_typeface"]["per_face"][font.name] = acc
        log(f"  -> {open_font(font).full_name:<32} {acc:.1%}")


if __name__ == "__main__":
    ARGS = parse_args()
    main()
