"""Smoke runs of the symbol-search and start-up benchmarks at tiny sizes, so that a refactor cannot break them
unseen: each exits 0 and ends with its JSON line holding the numbers the README quotes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from engine.paths import REPO_ROOT


def run_bench(name: str, *args: str, env: dict | None = None) -> dict:
    done = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / name), *args, "--json"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_bench_symbol_search_runs(make_font, tmp_path):
    out = run_bench("bench_symbol_search.py", "--font", str(make_font()), "--sample", "4",
                    env={"GLYPHS_CACHE_HOME": str(tmp_path / "cache")})
    assert out["first"]["characters"] == 13 and out["first"]["first_answer_s"] <= out["first"]["all_ready_s"]
    assert out["again"]["reopen_embedded"] == 0 and out["phases"]["embed_fused_cpu_ms_per_char"] > 0


def test_bench_startup_runs(tmp_path):
    out = run_bench("bench_startup.py", "--runs", "1", env={"QT_QPA_PLATFORM": "offscreen"})
    run = out["runs"][0]
    assert 0 < run["window"] <= run["ranked"] and run["ready"] <= run["ranked"]
    assert {"import_torch", "read_weights", "first_rank"} <= set(out["stages"])
