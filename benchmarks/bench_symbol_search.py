"""Symbol search benchmark: how soon a whole font answers a drawing, and how soon it is all there.

    python benchmarks/bench_symbol_search.py [--font FILE] [--limit N] [--threads N] [--step 64] [--json]

1. Where the time goes: one core's time per character to render (FreeType + `glyph_from_image`) and to embed
   (a batch of the font's glyphs through `model.embed`, and through the folded encoder the search uses on a
   CPU), measured on a sample of the font's characters.
2. The pipeline as the app runs it (`engine.fonts.search.FontSearch`, steps of `--step` characters, torch with
   `--threads` threads like the app's ranking thread): seconds from the start (the click) to the first ranked
   answer, characters ready after 10, 30 and 60 s, seconds until all are ready, and the CPU seconds spent
   (worker processes included). The cache starts empty (a temporary folder).
3. The same font again with the same model: seconds until all are ready (from the cache), then saving the
   gallery, and reopening it as a gallery (references embedded then: 0).

The default font is DejaVu Sans (5,681 drawable characters). The machine's load average is printed at the start
and the end: on a shared machine the times say as much about the other jobs as about Glyphs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.recognition.centering import center_ink  # noqa: E402
from engine.recognition.embedding import embed_glyph_views  # noqa: E402
from engine.fonts.render import FaceRenderer, available_cores  # noqa: E402
from engine.fonts.search import FontSearch  # noqa: E402
from engine.gallery import Gallery  # noqa: E402
from engine.fonts.faces import open_font, select_characters  # noqa: E402
from engine.model import fast_encoder  # noqa: E402
from engine.recognition.recognize import Recognizer  # noqa: E402
from engine.recognition.views import card_views  # noqa: E402
from engine.weights import load_weights  # noqa: E402

DEJAVU_SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def cpu_seconds() -> float:
    """Return the CPU time (user + system) of this process and its finished child processes."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def load() -> float:
    return round(os.getloadavg()[0], 2)


def phases(loaded, face, sample: int) -> dict:
    """Return one core's milliseconds per character to render and to embed, on `sample` spread characters."""
    cps = select_characters(face).codepoints
    picks = cps[::max(1, len(cps) // sample)][:sample]
    renderer = FaceRenderer(str(face.path), face.index)
    t0 = time.process_time()
    pixels = [p for p in (renderer.glyph_pixels(chr(cp)) for cp in picks) if p is not None]
    render_ms = (time.process_time() - t0) * 1000 / len(picks)
    views = card_views(loaded.card).for_gallery(len(cps))
    with torch.inference_mode():
        embed_glyph_views(loaded.model, np.stack(pixels[:8]), 0, center=views.center)  # warm-up
        t0, w0 = time.process_time(), time.perf_counter()
        embed_glyph_views(loaded.model, np.stack(pixels), views.reference_views, views.seed, batch_size=64,
                          center=views.center)
        embed_cpu_ms = (time.process_time() - t0) * 1000 / len(pixels)
        embed_wall_ms = (time.perf_counter() - w0) * 1000 / len(pixels)
        fused = fast_encoder(loaded.model)  # what the search embeds with on a CPU
        x = torch.from_numpy(np.stack(pixels)).unsqueeze(1)
        x = loaded.model.prepare(center_ink(x) if views.center else x)
        fused(x[:8])  # warm-up
        t0 = time.process_time()
        for start in range(0, len(x), 64):
            fused(x[start:start + 64])
        fused_ms = (time.process_time() - t0) * 1000 / len(pixels)
    return {"sample": len(picks), "render_cpu_ms_per_char": round(render_ms, 2),
            "embed_cpu_ms_per_char": round(embed_cpu_ms, 2), "embed_wall_ms_per_char": round(embed_wall_ms, 2),
            "embed_fused_cpu_ms_per_char": round(fused_ms, 2)}


def pipeline(loaded, face, cache: Path, step: int, limit: int | None) -> dict:
    """Return the times of a first search (empty cache) as the app runs it."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    codepoints = select_characters(face).codepoints[:limit] if limit else None
    search = FontSearch(loaded, face, codepoints, cache_folder=cache)
    first, marks, at = None, {}, [10, 30, 60]
    while not search.complete:
        search.step(batch=step, wait=0.5)
        now = time.perf_counter() - t0
        if first is None and search.ready:
            first = now
            search.rank(search.pixels(search.codepoints[0]))  # the first drawing's answer
            first = time.perf_counter() - t0
            print(f"  first answer after {first:.1f} s ({search.ready} of {search.total} ready)", flush=True)
        while at and now >= at[0]:
            marks[f"ready_at_{at[0]}s"] = search.ready
            print(f"  {search.ready:,} of {search.total:,} ready after {at.pop(0)} s", flush=True)
    search.close()
    total = time.perf_counter() - t0
    print(f"  all {search.total:,} ready after {total:.1f} s ({cpu_seconds() - c0:.0f} CPU seconds)", flush=True)
    return {"characters": search.total, "first_answer_s": round(first or total, 2), **marks,
            "all_ready_s": round(total, 2), "cpu_s": round(cpu_seconds() - c0, 1)}


def again(loaded, face, cache: Path, limit: int | None, tmp: Path) -> dict:
    """Return the times of the same search again (from the cache), of saving it and reopening the gallery."""
    t0 = time.perf_counter()
    codepoints = select_characters(face).codepoints[:limit] if limit else None
    search = FontSearch(loaded, face, codepoints, cache_folder=cache)
    assert search.complete, "the second search was not complete from the cache"
    query = search.pixels(search.codepoints[0])
    search.rank(query)
    ready = time.perf_counter() - t0
    print(f"  again: all ready and ranked after {ready:.2f} s", flush=True)
    t0 = time.perf_counter()
    search.save_gallery(tmp / "gallery", "bench symbols")
    saved = time.perf_counter() - t0
    t0 = time.perf_counter()
    recognizer = Recognizer(loaded, Gallery.open(tmp / "gallery"))
    recognizer.refresh()
    reopened = time.perf_counter() - t0
    print(f"  saved as a gallery in {saved:.1f} s; reopened in {reopened:.1f} s, embedding "
          f"{recognizer.embedded_count} references", flush=True)
    return {"again_ready_s": round(ready, 2), "save_s": round(saved, 2), "reopen_s": round(reopened, 2),
            "reopen_embedded": recognizer.embedded_count}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--font", type=Path, default=DEJAVU_SANS, help="font file (default: DejaVu Sans)")
    p.add_argument("--limit", type=int, help="only the first N drawable characters (a quick run)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the app's engine thread)")
    p.add_argument("--step", type=int, default=64, help="characters embedded per step (default 64, as the app)")
    p.add_argument("--sample", type=int, default=200, help="characters timed for the per-phase costs")
    p.add_argument("--weights", help="model weights (default: the shipped model)")
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    args = p.parse_args()
    if not args.font.is_file():
        sys.exit(f"{args.font}: no such font file (give --font FILE)")
    torch.set_num_threads(args.threads)
    loaded = load_weights(args.weights, torch.device("cpu"))
    face = open_font(args.font)
    out = {"font": face.full_name, "model": loaded.name, "cores": available_cores(), "torch_threads": args.threads,
           "load_start": load()}
    print(f"{face.full_name}, {loaded.name}, {available_cores()} cores, load {out['load_start']}", flush=True)
    out["phases"] = phases(loaded, face, args.sample)
    ph = out["phases"]
    print(f"  one core: render {ph['render_cpu_ms_per_char']} ms, embed {ph['embed_cpu_ms_per_char']} ms "
          f"(model.embed) or {ph['embed_fused_cpu_ms_per_char']} ms (folded, as the search does) of CPU per "
          f"character", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-search-"))
    try:
        out["first"] = pipeline(loaded, face, tmp / "cache", args.step, args.limit)
        out["again"] = again(loaded, face, tmp / "cache", args.limit, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["load_end"] = load()
    print(f"load at the end {out['load_end']}", flush=True)
    if args.json:
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
