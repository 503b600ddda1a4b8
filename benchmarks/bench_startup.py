"""Start-up benchmark: seconds from launching the app to the window, to a ready model, to a drawing's ranking.

    python benchmarks/bench_startup.py [--runs 3] [--json]

Each run starts a fresh Python process (nothing imported yet, as after a restart) that runs the app as
`main.py` does, headless (QT_QPA_PLATFORM=offscreen), with a fresh settings folder whose last gallery is a small
gallery (10 characters, its embedding cache filled by a first run). A drawing is put on the canvas as soon as
the window shows, as a person drawing at once would (it is ranked once the model is ready). Times from the
process launch:

- window: the main window is shown and has painted once;
- ready: the model is loaded and the gallery's recogniser built (the status shows the model);
- ranked: the drawing's ranking is on screen.

Then, in another fresh process, the stages on their own: importing torch, reading the weights, building the
recogniser (its fused encoder checked by a first forward pass), embedding one reference, the first and second
ranking. The median of `--runs` runs is printed with the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STROKES = [[(30.0, 20.0), (30.0, 80.0)], [(30.0, 20.0), (70.0, 20.0)]]  # in glyph units (105 px)


def child(settings_dir: str) -> None:
    """(In the launched process) Run the app, record the moments, print them as one JSON line, quit."""
    sys.path.insert(0, str(ROOT))
    import main as app_main

    moments: dict[str, float] = {}
    app, window = app_main.start(["glyphs", "--settings-dir", settings_dir])
    from PySide6.QtCore import QTimer

    from engine.units import OMNIGLOT_STROKE_AREA as AREA

    def ranked(outcome) -> None:
        if outcome.state == "ranked" and "ranked" not in moments:
            moments["ranked"] = time.time()
            QTimer.singleShot(0, app.quit)

    def ready(_info) -> None:
        moments.setdefault("ready", time.time())

    window.session.model_changed.connect(ready)
    window.session.ranked.connect(ranked)
    app.processEvents()
    window.repaint()
    moments["window"] = time.time()
    scale = AREA / 105.0
    window.session.rank(10**6, [[(x * scale, y * scale) for x, y in s] for s in STROKES])  # drawn at once
    QTimer.singleShot(120_000, app.quit)
    app.exec()
    print(json.dumps(moments), flush=True)
    os._exit(0)  # the measurement is done: no need to wait for the window's shutdown


def stages() -> dict[str, float]:
    """Return the seconds of each start-up stage, measured one after another in this (fresh) process."""
    out, t = {}, time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        out[name] = round(now - t, 2)
        t = now

    import torch  # noqa: F401
    lap("import_torch")
    from engine.weights import load_weights
    loaded = load_weights()
    lap("read_weights")
    import numpy as np

    from engine.gallery import Gallery
    from engine.recognition.recognize import Recognizer
    gallery = Gallery.in_memory("bench")
    glyph = np.zeros((105, 105), np.float32)
    glyph[20:80, 30:36] = 1
    gallery.add_character("a", [glyph])
    recognizer = Recognizer(loaded, gallery)
    lap("build_recogniser")
    recognizer.refresh()
    lap("embed_one_reference")
    recognizer.rank(glyph)
    lap("first_rank")
    recognizer.rank(glyph)
    lap("second_rank")
    return out


def make_gallery(folder: Path) -> Path:
    """Return a small gallery (10 characters from DejaVu Sans, or drawn bars without it) in `folder`."""
    from engine.gallery import Gallery

    dejavu = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if dejavu.is_file():
        from engine.fonts.faces import import_font

        return import_font(dejavu, folder, text="ABCDEFGHIJ").gallery.path
    import numpy as np

    gallery = Gallery.create(folder, "bench")
    for i in range(10):
        glyph = np.zeros((105, 105), np.float32)
        glyph[10 + 8 * i:16 + 8 * i, 10:95] = 1
        gallery.add_character(f"bar{i}", [glyph])
    return folder


def launch(settings: Path, env: dict) -> dict[str, float]:
    t0 = time.time()
    done = subprocess.run([sys.executable, __file__, "--child", str(settings)],
                          capture_output=True, text=True, env=env, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        sys.exit(f"the app run failed:\n{done.stderr[-3000:]}")
    return {k: round(v - t0, 2) for k, v in json.loads(lines[-1]).items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--stages", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args.child)
    if args.stages:
        print(json.dumps(stages()), flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", GLYPHS_CACHE_HOME=str(tmp / "cache"),
                   GLYPHS_DATA_HOME=str(tmp / "data"), PYTHONPATH=str(ROOT))
        sys.path.insert(0, str(ROOT))
        os.environ.update(GLYPHS_DATA_HOME=env["GLYPHS_DATA_HOME"], GLYPHS_CACHE_HOME=env["GLYPHS_CACHE_HOME"])
        gallery = make_gallery(tmp / "gallery")
        settings = tmp / "settings"
        settings.mkdir()
        from app.settings import AppSettings

        AppSettings(str(settings)).last_gallery = Path(gallery)
        load_start = round(os.getloadavg()[0], 2)
        print(f"load {load_start}", flush=True)
        launch(settings, env)  # fills the gallery's embedding cache, warms the disk cache
        runs = [launch(settings, env) for _ in range(args.runs)]
        for r in runs:
            print(f"  window {r.get('window')} s, model ready {r.get('ready')} s, drawing ranked {r.get('ranked')} s",
                  flush=True)
        median = {k: statistics.median(r[k] for r in runs) for k in ("window", "ready", "ranked")}
        print(f"median: window {median['window']} s, ready {median['ready']} s, ranked {median['ranked']} s",
              flush=True)
        done = subprocess.run([sys.executable, __file__, "--stages"], capture_output=True, text=True, env=env)
        stage = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
        print("stages (s): " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in stage.items()), flush=True)
        out = {"load_start": load_start, "load_end": round(os.getloadavg()[0], 2), "runs": runs, "median": median, "stages": stage}
        print(f"load at the end {out['load_end']}", flush=True)
        if args.json:
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
