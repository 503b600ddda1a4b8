"""The engine never imports Qt: every engine module imports in a fresh process without pulling in a GUI toolkit."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

from engine.paths import REPO_ROOT

QT_PACKAGES = ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "shiboken2", "pyqtgraph", "superqt", "qtpy",
               "app")

SCRIPT = f"""
import importlib, pkgutil, sys
import engine
names = sorted(m.name for m in pkgutil.walk_packages(engine.__path__, "engine.")
               if not m.name.endswith("__main__"))  # __main__ runs the command line
for name in names:
    importlib.import_module(name)
qt = sorted(m for m in sys.modules if m.split(".")[0] in {QT_PACKAGES!r})
print("MODULES", len(names))
print("QT", " ".join(qt))
"""


def test_importing_every_engine_module_loads_no_qt():
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("QT_API", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO_ROOT, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    report = dict(line.split(" ", 1) for line in done.stdout.splitlines() if line.startswith(("MODULES ", "QT ")))
    assert int(report["MODULES"]) >= 20, f"only {report['MODULES']} engine modules found"
    assert report["QT"].strip() == "", f"importing the engine loaded Qt modules: {report['QT']}"


def test_no_engine_source_mentions_a_qt_import():
    """A static check too, so that a Qt import inside a function (not run at import time) is caught as well."""
    offenders = []
    for path in sorted((REPO_ROOT / "engine").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.ImportFrom) and node.level >= 2 and (node.module or "").startswith("app"):
                names = ["app"]  # from ..app import ... (reaching out of the engine package)
            offenders += [f"{path.relative_to(REPO_ROOT)}:{node.lineno} {n}" for n in names
                          if n.split(".")[0] in QT_PACKAGES]
    assert not offenders, f"engine code imports Qt or the app: {offenders}"
