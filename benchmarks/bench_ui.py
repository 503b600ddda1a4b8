"""The Train tab's cost: how long the UI event loop stalls while training runs at full speed, and how much the
UI slows training down.

Stalls: a 5 ms QTimer measures its own lateness (gap between ticks minus 5 ms) from the first step event until
the stop; max and 99th percentile are reported. Throughput: images/s from the Trainer's step events (steps x
batch over its clock), for a run continued from the Train tab (shown, its curves holding --prefill points of
history: a long run resumed) against the same Trainer with no tab while the main thread runs an empty event loop
with the same stall meter (the meter's 200 wake-ups a second cost a CPU that trains on every core something
too; that cost is reported apart, against a third run with no event loop at all). --rounds interleaved triples
of runs, medians compared, so that a shared machine's changing load cancels out. The runs without the tab
train at the priority the app gives training (app.training.training_niceness: lowered on the CPU), so the
comparison is the tab's cost alone; --baseline-niceness 0 compares with a trainer at normal priority instead (as
the command line trains), which on a machine busy with other programs adds what the lowered priority yields
to them.

Data: the real background set when found (--data-dir, $OMNIGLOT_DIR or .data/omniglot), else synthetic strokes.

--mode drawing: the Recognise tab's latency instead. A gallery of one alphabet of Omniglot's stroke files
(`strokes_background_subset.zip`, drawer 1 of each character) opens in the main window; other drawers' drawings
are replayed on the canvas with QTest mouse events at their own pace; every pen-up is timed until the ranking for
that drawing is painted (`pen_up_to_ranked_ms`: p50, p95), with the event loop's stalls while drawing and the
machine's load (a shared machine's load shows in both).

    python benchmarks/bench_ui.py --mode drawing [--drawings 40] [--alphabet 'Japanese_(katakana)'] [--json]

    python benchmarks/bench_ui.py [--preset tiny] [--seconds 10] [--rounds 3] [--device auto]
                                  [--prefill 100000] [--batch A,C,D] [--log-every 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")

from engine.data import DatasetMissing, OmniglotSet, load_omniglot  # noqa: E402
from engine.train import StepEvent, TrainConfig, Trainer, preset_defaults  # noqa: E402

TICK_MS = 5
WARMUP_EVENTS = 3  # step events skipped before measuring: first steps pay allocations and kernel choice


def synthetic_background(alphabets: int = 12, chars: int = 20, drawers: int = 20, seed: int = 0) -> OmniglotSet:
    """Return a background-like set of random 3-stroke glyphs (one shape per character, jittered per drawer)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:105, 0:105]
    images = []
    for _ in range(alphabets * chars):
        strokes = rng.integers(15, 90, size=(3, 4)).astype(float)
        for _ in range(drawers):
            ink = np.zeros((105, 105), bool)
            for x0, y0, x1, y1 in strokes + rng.normal(0, 2, size=strokes.shape):
                t = np.linspace(0, 1, 60)[:, None, None]
                px, py = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
                ink |= ((xx - px) ** 2 + (yy - py) ** 2 < 4).any(axis=0)
            images.append(np.packbits(ink, axis=-1))
    n_chars = alphabets * chars
    return OmniglotSet(name="background", images=np.stack(images),
                       char=np.repeat(np.arange(n_chars, dtype=np.int32), drawers),
                       drawer=np.tile(np.arange(1, drawers + 1, dtype=np.int16), n_chars),
                       char_alphabet=np.repeat(np.arange(alphabets, dtype=np.int32), chars),
                       char_names=[f"character{c % chars + 1:02d}" for c in range(n_chars)],
                       alphabets=[f"Alphabet_{a:02d}" for a in range(alphabets)])


def load_data(data_dir: str | None) -> tuple[OmniglotSet, str]:
    """Return the background set and where it came from (real Omniglot when found, else synthetic)."""
    candidates = [data_dir, os.environ.get("OMNIGLOT_DIR"), Path(__file__).resolve().parent.parent / ".data/omniglot"]
    for folder in [c for c in candidates if c]:
        try:
            return load_omniglot(folder, with_evaluation=False).background, f"omniglot ({folder})"
        except (DatasetMissing, OSError, ValueError):
            continue
    return synthetic_background(), "synthetic"


def throughput(events: list[StepEvent], batch: int) -> float:
    """Return images/s over the step events after the warm-up (steps x batch over the Trainer's clock)."""
    if len(events) < 2:
        raise RuntimeError("too few step events: raise --seconds or lower --batch")
    steady = events[min(WARMUP_EVENTS, len(events) - 2):]
    first, last = steady[0], steady[-1]
    return (last.step - first.step) * batch / max(last.elapsed_s - first.elapsed_s, 1e-9)


def run_alone(config: TrainConfig, data: OmniglotSet, seconds: float, warm_up: bool = False,
              with_meter: bool = False, niceness: int = 0) -> tuple[float, list[float]]:
    """Return (images/s, tick lateness in ms) of the Trainer with no UI ((0, []) for a warm-up run).

    It runs in a plain background thread, as in the app: on CPU the same torch steps measured 2-4x slower on the
    main thread than on another thread here, which would be mistaken for a gain from the UI. `with_meter`: the
    main thread meanwhile runs an empty Qt event loop with the stall meter ticking, so that the meter's own
    cost (200 wake-ups a second, which on a CPU whose every core trains is not free) is the same as in the
    run with the tab and the difference is the tab's alone. `niceness`: the thread's priority is lowered so
    many steps first (as app.training does for the tab's runs).
    """
    from app.training import lower_thread_priority

    events: list[StepEvent] = []

    def train() -> None:
        lower_thread_priority(niceness)
        with tempfile.TemporaryDirectory() as out:
            trainer = Trainer(replace(config, time_budget_s=seconds), data, out,
                              callback=lambda e: events.append(e) if isinstance(e, StepEvent) else None)
            trainer.run()

    worker = threading.Thread(target=train)
    late: list[float] = []
    if with_meter:
        from PySide6.QtCore import QEventLoop, QTimer
        from PySide6.QtWidgets import QApplication

        QApplication.instance() or QApplication([])
        meter, loop = StallMeter(), QEventLoop()

        def watch() -> None:
            meter.measuring = len(events) > WARMUP_EVENTS
            if not worker.is_alive():
                loop.quit()

        watcher = QTimer()
        watcher.timeout.connect(watch)
        watcher.start(20)  # as in the run with the tab
        worker.start()
        loop.exec()
        watcher.stop()
        meter.timer.stop()
        late = meter.late_ms
    else:
        worker.start()
    worker.join()
    return (0.0, []) if warm_up else (throughput(events, config.batch.size), late)


class StallMeter:
    """A 5 ms precise timer that records how late each tick comes, while `measuring` is set."""

    def __init__(self):
        from PySide6.QtCore import Qt, QTimer

        self.late_ms: list[float] = []
        self.measuring = False
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.measuring:
            self.late_ms.append(max(0.0, (now - self._last) * 1000 - TICK_MS))
        self._last = now


def make_long_run(folder: Path, config: TrainConfig, data: OmniglotSet, points: int) -> None:
    """Write a run folder whose checkpoint is at step `points` with that many logged steps (a long run to
    resume: its history fills the curves when the tab opens it)."""
    trainer = Trainer(config, data, folder)
    rng = np.random.default_rng(0)
    # As noisy as real batches: a flat pair-accuracy curve draws far fewer vertices than a real one.
    progress = np.arange(points) / max(points, 1)
    loss = np.exp(-progress) + 0.05 * rng.standard_normal(points)
    accuracy = np.clip(0.95 - 0.4 * np.exp(-5 * progress) + 0.04 * rng.standard_normal(points), 0, 1)
    lr = 1e-3 * 0.5 * (1 + np.cos(np.pi * progress))
    trainer.history = [{"kind": "step", "step": s + 1, "elapsed_s": 0.01 * s, "loss": float(loss[s]),
                        "pair_accuracy": float(accuracy[s]), "lr": float(lr[s]), "images_per_s": 1000.0}
                       for s in range(points)]
    trainer.step = points
    folder.mkdir(parents=True, exist_ok=True)
    trainer.save_last()


def idle_baseline(seconds: float) -> list[float]:
    """Return tick lateness (ms) with the event loop idle: the machine's own noise floor (a shared, loaded
    machine delays timers without any help from the app)."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    QApplication.instance() or QApplication([])
    meter = StallMeter()
    meter.measuring = True
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    meter.timer.stop()
    return meter.late_ms


def run_with_ui(config: TrainConfig, data: OmniglotSet, seconds: float, points: int) -> tuple[float, list[float]]:
    """Return (images/s, tick lateness in ms) for a long run resumed from the Train tab (shown) and trained
    for `seconds` under a real event loop."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.train_tab import TrainTab

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as out:
        run = Path(out) / "run"
        make_long_run(run, config, data, points)
        tab = TrainTab(auto_estimate=False)
        tab.resize(1400, 900)
        tab.show()
        tab.dataset.set_dataset({"background": data})
        tab.open_run(run)
        while tab.resume_step != points:  # the checkpoint (and its history) loads in a worker
            app.processEvents()
            time.sleep(0.01)
        tab.steps_spin.setValue(2 * points + 10**6)
        meter = StallMeter()
        seen: list[StepEvent] = []
        loop = QEventLoop()
        state = {"deadline": None}

        def watch() -> None:
            # Sampled every 20 ms: rates only need the first and last events seen (same Trainer clock).
            event = tab.last_step_event
            if event is not None and (not seen or event.step != seen[-1].step):
                seen.append(event)
                if state["deadline"] is None and len(seen) > WARMUP_EVENTS:
                    meter.measuring, state["deadline"] = True, time.perf_counter() + seconds
            if state["deadline"] and time.perf_counter() > state["deadline"] and tab.state == "running":
                meter.measuring = False
                tab.stop()
            if state["deadline"] and not tab.is_training() and tab.state == "idle":
                loop.quit()

        watcher = QTimer()
        watcher.timeout.connect(watch)
        watcher.start(20)
        tab.start()
        loop.exec()
        watcher.stop()
        meter.timer.stop()
        tab.shutdown()
        tab.close()
    return throughput(seen, config.batch.size), meter.late_ms


# ------------------------------------------------------------------------------------------------ drawing mode


def stroke_drawings(folder: Path, alphabet: str) -> dict[str, dict[int, list]]:
    """Return {character: {drawer: strokes}} of one alphabet of Omniglot's stroke files
    (`strokes_background_subset.zip` in `folder`), read with engine.strokes."""
    import zipfile

    from engine.strokes import parse_omniglot_strokes

    out: dict[str, dict[int, list]] = {}
    with zipfile.ZipFile(folder / "strokes_background_subset.zip") as zf:
        for name in sorted(zf.namelist()):
            parts = name.split("/")
            if len(parts) == 4 and parts[1] == alphabet and name.endswith(".txt"):
                drawer = int(Path(parts[3]).stem.split("_")[1])
                out.setdefault(parts[2], {})[drawer] = parse_omniglot_strokes(zf.read(name).decode("ascii"), name)
    if not out:
        raise SystemExit(f"no stroke files of {alphabet!r} in {folder / 'strokes_background_subset.zip'}")
    return out


def replay_schedule(strokes: list, start_ms: float, max_gap_ms: float, move_ms: float) -> list[tuple]:
    """Return (due ms, "press"|"move"|"release", x, y) events replaying `strokes` at the drawer's own pace:
    pen-up gaps capped at `max_gap_ms`, moves at most one per `move_ms` (a mouse's report rate)."""
    events, clock, last_t = [], start_ms, None
    for stroke in strokes:
        t = stroke.t if stroke.t is not None else np.arange(len(stroke.points)) * 10.0
        if last_t is not None:
            clock += min(max(float(t[0]) - last_t, 50.0), max_gap_ms)
        origin, sent = float(t[0]), -move_ms
        for i, ((x, y), ti) in enumerate(zip(stroke.points, t)):
            due = clock + float(ti) - origin
            kind = "press" if i == 0 else "release" if i == len(stroke.points) - 1 else "move"
            if kind == "move" and due - sent < move_ms:
                continue
            events.append((due, kind, float(x), float(y)))
            sent = due
        if len(stroke.points) == 1:
            events.append((events[-1][0] + move_ms, "release", *map(float, stroke.points[-1])))
        clock = events[-1][0]
        last_t = float(t[-1])
    return events


class DrawingReplay:
    """Replays drawings on the window's canvas with QTest mouse events from a precise timer, and times each
    pen-up until the ranking for that drawing is painted (a Paint event reaches the results after they show it).
    """

    def __init__(self, window, queries: list[tuple[str, list]], gap_ms: float, max_gap_ms: float,
                 move_ms: float) -> None:
        from PySide6.QtCore import QElapsedTimer, QEvent, QObject, Qt, QTimer

        self.window, self.tab = window, window.recognise
        self.events: list[tuple] = []
        start = 300.0
        for index, (name, strokes) in enumerate(queries):
            self.events.append((start - 150.0, "clear", index, name))
            schedule = replay_schedule(strokes, start, max_gap_ms, move_ms)
            self.events += [(due, kind, x, y, index, name) for due, kind, x, y in schedule]
            start = schedule[-1][0] + gap_ms
        self.end_ms = start
        self.pending: dict[int, tuple[float, bool, str]] = {}  # drawing id -> (pen-up ms, last stroke?, name)
        self.latencies: list[float] = []
        self.last_stroke_latencies: list[float] = []
        self.top1: list[bool] = []
        self.unanswered = 0
        self._next = 0
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.setInterval(2)
        self.timer.timeout.connect(self._tick)
        self._qevent = QEvent

        replay = self

        class PaintWatch(QObject):
            def eventFilter(self, watched, event):  # noqa: N802 - Qt override
                if event.type() == QEvent.Type.Paint:
                    replay._painted()
                return False

        self._watch = PaintWatch()
        for widget in (*self.tab.results.rows, self.tab.results.hint):
            widget.installEventFilter(self._watch)

    def run(self) -> None:
        """Replay everything (an event loop runs meanwhile) and return when done."""
        from PySide6.QtCore import QEventLoop

        self.loop = QEventLoop()
        self.clock.start()
        self.timer.start()
        self.loop.exec()
        self.timer.stop()

    def _tick(self) -> None:
        from PySide6.QtCore import QPointF, Qt
        from PySide6.QtTest import QTest

        now = self.clock.nsecsElapsed() / 1e6
        canvas = self.tab.canvas
        while self._next < len(self.events) and self.events[self._next][0] <= now:
            event = self.events[self._next]
            self._next += 1
            if event[1] == "clear":
                self.unanswered += len(self.pending)
                self.pending.clear()
                self.window.clear_canvas()
                continue
            _due, kind, x, y, index, name = event
            point = canvas.area_to_widget(QPointF(x, y)).toPoint()
            button, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
            if kind == "press":
                QTest.mousePress(canvas, button, mods, point)
            elif kind == "move":
                QTest.mouseMove(canvas, point)
            else:
                last = self._next >= len(self.events) or self.events[self._next][1] == "clear"
                up = self.clock.nsecsElapsed() / 1e6
                QTest.mouseRelease(canvas, button, mods, point)
                self.pending[self.tab.drawing_id] = (up, last, name)
        if self._next >= len(self.events) and now > self.end_ms:
            self.unanswered += len(self.pending)
            self.loop.quit()

    def _painted(self) -> None:
        outcome = self.tab.results.outcome
        if outcome is None or outcome.request_id not in self.pending:
            return
        up, last, name = self.pending.pop(outcome.request_id)
        elapsed = self.clock.nsecsElapsed() / 1e6 - up
        self.latencies.append(elapsed)
        if last:
            self.last_stroke_latencies.append(elapsed)
            self.top1.append(bool(outcome.matches) and outcome.matches[0].name == name)
        # Older pen-ups of this drawing were overtaken by this one: the person never saw their rankings.
        for stale in [i for i in self.pending if i < outcome.request_id]:
            self.pending.pop(stale)
            self.unanswered += 1


def _percentiles(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values) if values else np.full(1, np.nan)
    return {"p50": round(float(np.percentile(arr, 50)), 1), "p95": round(float(np.percentile(arr, 95)), 1),
            "max": round(float(arr.max()), 1), "n": len(values)}


def drawing_main(args: argparse.Namespace) -> int:
    """The drawing mode: real Omniglot drawings replayed on the Recognise tab; pen-up to ranked latency."""
    folder = Path(args.data_dir or os.environ.get("OMNIGLOT_DIR") or
                  Path(__file__).resolve().parent.parent / ".data/omniglot")
    drawings = stroke_drawings(folder, args.alphabet)
    home = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    for key, sub in (("GLYPHS_CACHE_HOME", "cache"), ("GLYPHS_DATA_HOME", "data"), ("GLYPHS_SETTINGS_DIR", "settings")):
        os.environ[key] = str(home / sub)  # the benchmark never touches the person's own settings or galleries

    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.settings import AppSettings
    from engine.gallery import Gallery
    from engine.glyph import render_strokes

    app = QApplication.instance() or QApplication([])
    characters = sorted(drawings)[:args.characters]
    gallery = Gallery.create(home / "gallery", args.alphabet)
    queries = []
    for name in characters:
        drawers = sorted(drawings[name])
        gallery.add_character(name, [render_strokes(drawings[name][drawers[0]], area=105.0, frame=True)])
        queries += [(name, drawings[name][d]) for d in drawers[1:]]
    rng = np.random.default_rng(args.seed)
    queries = [queries[i] for i in rng.permutation(len(queries))[:args.drawings]]
    settings = AppSettings(home / "settings")
    settings.last_gallery = home / "gallery"
    window = MainWindow(settings, welcome=False, work_tabs=False)
    window.resize(1180, 720)
    window.show()
    deadline = time.perf_counter() + 120
    while (window.session.model_info is None or window.session.snapshot is None or window.runner.busy) \
            and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.01)
    if window.session.snapshot is None:
        raise SystemExit("the gallery did not open")
    print(f"gallery: {len(characters)} characters of {args.alphabet}; {len(queries)} drawings by other drawers; "
          f"model {window.session.model_info.name} on {window.session.model_info.device_label}", file=sys.stderr)
    baseline = np.asarray(idle_baseline(3.0))
    if args.warm_up:
        DrawingReplay(window, queries[:2], args.gap_ms, args.max_gap_ms, args.move_ms).run()
    replay = DrawingReplay(window, queries, args.gap_ms, args.max_gap_ms, args.move_ms)
    meter = StallMeter()
    meter.measuring = True
    load_before = os.getloadavg()[0]
    replay.run()
    meter.timer.stop()
    late = np.asarray(meter.late_ms) if meter.late_ms else np.zeros(1)
    result = {"pen_up_to_ranked_ms": _percentiles(replay.latencies),
              "pen_up_to_ranked_last_stroke_ms": _percentiles(replay.last_stroke_latencies),
              "pen_ups_overtaken": replay.unanswered,
              "top1_accuracy": round(float(np.mean(replay.top1)), 3) if replay.top1 else None,
              "drawing_max_stall_ms": round(float(late.max()), 1),
              "drawing_p99_stall_ms": round(float(np.percentile(late, 99)), 1),
              "idle_max_stall_ms": round(float(baseline.max()), 1),
              "idle_p99_stall_ms": round(float(np.percentile(baseline, 99)), 1),
              "drawings": len(queries), "gallery_characters": len(characters), "alphabet": args.alphabet,
              "model": window.session.model_info.name, "device": window.session.model_info.device,
              "cpu_load_1min_before": round(load_before, 2), "cpu_load_1min_after": round(os.getloadavg()[0], 2),
              "cpus": os.cpu_count()}
    window.close()
    lat = result["pen_up_to_ranked_ms"]
    print(f"pen-up to ranked results painted: p50 {lat['p50']} ms, p95 {lat['p95']} ms, max {lat['max']} ms over "
          f"{lat['n']} pen-ups ({replay.unanswered} overtaken by the next pen-up); UI stalls while drawing: max "
          f"{result['drawing_max_stall_ms']} ms, p99 {result['drawing_p99_stall_ms']} ms (idle: max "
          f"{result['idle_max_stall_ms']} ms); top-1 {result['top1_accuracy']}; load {load_before:.2f} on "
          f"{os.cpu_count()} CPUs", file=sys.stderr)
    if args.json:
        print(json.dumps(result), flush=True)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="tiny")
    p.add_argument("--seconds", type=float, default=10.0, help="measured training time per run")
    p.add_argument("--rounds", type=int, default=3, help="alone/with-tab pairs of runs (medians are compared)")
    p.add_argument("--device", default="auto")
    p.add_argument("--prefill", type=int, default=100_000, help="steps of history in the curves")
    p.add_argument("--log-every", type=int, default=1, help="steps per step event (the app's default is 10)")
    p.add_argument("--batch", help="alphabets,characters,drawers per batch (default: the preset's)")
    p.add_argument("--switch-interval", type=float, help="sys.setswitchinterval (s): how often the GIL changes hands")
    p.add_argument("--torch-threads", type=int, help="torch intra-op threads (default: torch's)")
    p.add_argument("--baseline-niceness", type=int,
                   help="OS priority steps the runs without the tab are lowered by (default: as the app lowers "
                        "its training: app.training.training_niceness; 0: normal priority, as the command line)")
    p.add_argument("--data-dir")
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    p.add_argument("--mode", choices=("training", "drawing"), default="training",
                   help="drawing: replay real Omniglot drawings on the Recognise tab and time pen-up to ranked")
    p.add_argument("--alphabet", default="Japanese_(katakana)", help="drawing mode: the stroke files' alphabet")
    p.add_argument("--characters", type=int, default=47, help="drawing mode: characters in the gallery")
    p.add_argument("--drawings", type=int, default=40, help="drawing mode: drawings replayed")
    p.add_argument("--gap-ms", type=float, default=1200.0, help="drawing mode: pause between drawings")
    p.add_argument("--max-gap-ms", type=float, default=600.0, help="drawing mode: longest pause between strokes")
    p.add_argument("--move-ms", type=float, default=8.0, help="drawing mode: mouse report interval")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-warm-up", dest="warm_up", action="store_false")
    args = p.parse_args()
    if args.mode == "drawing":
        return drawing_main(args)

    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    data, source = load_data(args.data_dir)
    # Every step reported: the most events the UI can get (log_every 10 is the default), a conservative load.
    config = replace(preset_defaults(args.preset), val_every=0, checkpoint_every=0, device=args.device,
                     log_every=args.log_every)
    if args.batch:
        a, c, d = (int(v) for v in args.batch.split(","))
        config = replace(config, batch=replace(config.batch, alphabets=a, characters=c, drawers=d))
    print(f"data: {source}, {data.summary()}; preset {args.preset}, batch {config.batch.size}, device {args.device}",
          file=sys.stderr)
    from app.training import training_niceness

    app_niceness = training_niceness(args.device)
    niceness = app_niceness if args.baseline_niceness is None else args.baseline_niceness
    print(f"training priority: lowered by {app_niceness} in the app, by {niceness} without the tab", file=sys.stderr)
    run_alone(replace(config, steps=30), data, 5.0, warm_up=True)  # imports, allocations, caches
    baseline = np.asarray(idle_baseline(min(args.seconds, 5.0)))
    runs: dict[str, list[float]] = {"alone": [], "meter": [], "ui": []}
    late, bare_late = [], []
    for r in range(args.rounds):  # interleaved, order rotating: load drifts on a shared machine cancel out
        kinds = list(runs)
        for kind in kinds[r % 3:] + kinds[:r % 3]:
            if kind == "ui":
                ips, ticks = run_with_ui(config, data, args.seconds, args.prefill)
                late += ticks
            else:
                ips, ticks = run_alone(config, data, args.seconds, with_meter=kind == "meter", niceness=niceness)
                bare_late += ticks
            runs[kind].append(ips)
        print(f"round {r + 1}: alone {runs['alone'][-1]:.0f} images/s, with an empty event loop and the stall "
              f"meter {runs['meter'][-1]:.0f}, with the tab {runs['ui'][-1]:.0f}", file=sys.stderr)
    alone_ips, meter_ips, ui_ips = (float(np.median(runs[k])) for k in ("alone", "meter", "ui"))
    late_arr = np.asarray(late) if late else np.zeros(1)
    bare_arr = np.asarray(bare_late) if bare_late else np.zeros(1)
    result = {"max_stall_ms": round(float(late_arr.max()), 1),
              "p99_stall_ms": round(float(np.percentile(late_arr, 99)), 1),
              # The tab's cost: against the same training with the meter's event loop and no tab.
              "throughput_cost": round(1 - ui_ips / meter_ips, 3),
              "meter_cost": round(1 - meter_ips / alone_ips, 3),
              "throughput_cost_vs_no_event_loop": round(1 - ui_ips / alone_ips, 3),
              "bare_loop_max_stall_ms": round(float(bare_arr.max()), 1),
              "bare_loop_p99_stall_ms": round(float(np.percentile(bare_arr, 99)), 1),
              "images_per_s_alone": round(alone_ips, 1), "images_per_s_meter": round(meter_ips, 1),
              "images_per_s_ui": round(ui_ips, 1),
              "rounds_alone": [round(v, 1) for v in runs["alone"]],
              "rounds_meter": [round(v, 1) for v in runs["meter"]], "rounds_ui": [round(v, 1) for v in runs["ui"]],
              "ticks": len(late), "prefill_points": args.prefill, "preset": args.preset, "device": args.device,
              "data": source.split(" ")[0], "log_every": args.log_every, "batch": config.batch.size,
              "idle_max_stall_ms": round(float(baseline.max()), 1),
              "idle_p99_stall_ms": round(float(np.percentile(baseline, 99)), 1),
              "cpu_load_1min": round(os.getloadavg()[0], 1), "cpus": os.cpu_count(),
              "switch_interval_s": sys.getswitchinterval(), "app_niceness": app_niceness,
              "baseline_niceness": niceness}
    print(f"UI stalls while training: max {result['max_stall_ms']} ms, p99 {result['p99_stall_ms']} ms over "
          f"{len(late)} ticks (an empty loop while training: max {result['bare_loop_max_stall_ms']} ms, p99 "
          f"{result['bare_loop_p99_stall_ms']} ms; idle machine: max {result['idle_max_stall_ms']} ms, p99 "
          f"{result['idle_p99_stall_ms']} ms)\nmedian throughput {ui_ips:.0f} images/s with the tab vs "
          f"{meter_ips:.0f} with an empty event loop and the meter: cost of the tab {result['throughput_cost']:.1%} "
          f"(the meter's own cost: {result['meter_cost']:.1%}, against {alone_ips:.0f} images/s with no event "
          f"loop; the tab and meter together: {result['throughput_cost_vs_no_event_loop']:.1%})", file=sys.stderr)
    if args.json:
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
