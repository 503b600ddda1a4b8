"""Every script in benchmarks/ runs to its end at tiny sizes (its own flags), so a refactor cannot break one
unseen. Each runs as a person runs it, `python benchmarks/NAME.py ...`, in a fresh process, with the tests'
private user folders; the numbers printed are not checked here (the scripts measure, the README quotes them),
only that the script ends well and prints what it says it prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"
TIMEOUT_S = 600  # the shared 2-core machine can be very busy; each takes seconds to a minute there

pytestmark = pytest.mark.slow

# script -> (arguments at tiny sizes, needs the real Omniglot data, ends with a JSON line)
SMOKE = {
    "bench_training.py": (["--device", "cpu", "--presets", "tiny", "--naive-presets", "", "--seconds", "0.5",
                           "--warm-up", "0", "--alphabets", "2", "--json"], False, True),
    "bench_distributed.py": (["--device", "cpu", "--nprocs", "2", "--steps", "6", "--alphabets", "1",
                              "--characters", "2", "--drawers", "2", "--synthetic-alphabets", "2", "--json"], False, True),
    "bench_recognition.py": (["--sizes", "10,100", "--queries", "8", "--references", "20", "--naive-budget", "2",
                              "--skip-accuracy", "--threads", "1", "--json"], False, True),
    "bench_hostile_files.py": (["--cases", "spiral", "--json"], False, True),
    "bench_ui.py": (["--preset", "tiny", "--seconds", "2", "--rounds", "1", "--prefill", "200", "--batch", "1,2,2",
                     "--device", "cpu", "--json"], False, True),
    "bench_accuracy.py": (["--val-tasks", "2", "--eval-tasks", "0", "--font", "", "--no-official-runs",
                           "--latency-chars", "20", "--latency-queries", "8", "--check-tasks", "1", "--threads", "1",
                           "--json"], True, True),
    "bench_fonts.py": (["--skip-whole", "--drawers", "1", "--threads", "1", "--json"], True, True),
    "stroke_renderer_fit.py": (["--fit-drawings", "4", "--framing-images", "20"], True, False),
    "bench_faults.py": (["--only", "sweep", "link", "utf8", "names", "--json"], False, True),
    "bench_transcribe.py": (["--split", "validation", "--lines", "1", "--conditions", "clean", "--json"], True, True),
    "typeface_levers.py": (["--faces", "DejaVuSans", "--drawers", "1", "--second-model", ""], True, False),
}
# Scripts whose smoke run is a test of its own below (it checks what they print in more detail).
OWN_TESTS = {"plot_training.py", "bench_symbol_search.py", "bench_startup.py"}
LIBRARIES = {"other_sources.py"}  # imported by scripts (bench_accuracy.py, typeface_levers.py), not run on its own


def _run(script: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT_S)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OMNIGLOT_DIR"}
    env.update(QT_QPA_PLATFORM="offscreen", **extra)
    return env


def test_every_benchmark_script_has_a_smoke_run():
    scripts = {p.name for p in BENCHMARKS.glob("*.py")}
    assert scripts - LIBRARIES == set(SMOKE) | OWN_TESTS, "a benchmark script without a smoke run here"


@pytest.mark.parametrize("script", sorted(SMOKE))
def test_the_benchmark_runs_at_tiny_sizes(script, request):
    args, realdata, ends_with_json = SMOKE[script]
    env = _env()
    if realdata:
        env["OMNIGLOT_DIR"] = str(request.getfixturevalue("real_omniglot_dir"))
        env["GLYPHS_CACHE_HOME"] = str(request.getfixturevalue("real_omniglot_cache"))  # decoded once
    if script == "bench_fonts.py":
        env_font = request.getfixturevalue("installed_font")
        args = [*args, "--fonts", str(env_font)]
    done = _run(script, args, env)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    if ends_with_json:
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert isinstance(result, dict) and result
    else:
        assert done.stdout.strip() and "skipped" not in done.stdout


def test_the_drawing_mode_of_the_ui_benchmark_times_pen_ups(real_omniglot_dir):
    done = _run("bench_ui.py", ["--mode", "drawing", "--drawings", "2", "--characters", "5", "--gap-ms", "300",
                                "--no-warm-up", "--json"], _env(OMNIGLOT_DIR=str(real_omniglot_dir)))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["pen_up_to_ranked_ms"]["n"] >= 1 and result["drawings"] == 2


def test_plot_training_writes_the_curves_png_without_matplotlib(tmp_path):
    log = tmp_path / "log.jsonl"
    rows = [{"kind": "step", "step": i, "elapsed_s": 6.0 * i, "loss": 1.0 / (1 + i)} for i in range(1, 40)]
    rows += [{"kind": "val", "step": i, "elapsed_s": 6.0 * i, "accuracy": 0.5 + i / 100} for i in (10, 20, 30)]
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "curves.png"
    done = _run("plot_training.py", [str(log), "--out", str(out), "--label", "run", "--target", "0.9",
                                     "--width", "600", "--height", "240"], _env())
    assert done.returncode == 0, done.stderr[-3000:]
    assert "matplotlib" not in done.stderr
    from PySide6.QtGui import QImage

    image = QImage(str(out))
    assert not image.isNull() and image.width() == 600


def run_bench(name: str, *args: str, env: dict | None = None) -> dict:
    """Run a benchmark with `--json`; return the JSON line it ends with."""
    done = _run(name, [*args, "--json"], _env(**(env or {})))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_bench_symbol_search_runs(make_font, tmp_path):
    out = run_bench("bench_symbol_search.py", "--font", str(make_font()), "--sample", "4",
                    env={"GLYPHS_CACHE_HOME": str(tmp_path / "cache")})
    assert out["first"]["characters"] == 13 and out["first"]["first_answer_s"] <= out["first"]["all_ready_s"]
    assert out["again"]["reopen_embedded"] == 0 and out["phases"]["embed_fused_cpu_ms_per_char"] > 0


def test_bench_startup_runs(tmp_path):
    out = run_bench("bench_startup.py", "--runs", "1")
    run = out["runs"][0]
    assert 0 < run["window"] <= run["ranked"] and run["ready"] <= run["ranked"]
    assert {"import_torch", "read_weights", "first_rank"} <= set(out["stages"])
