"""The architecture rule, stated as import-linter contracts in pyproject.toml: the engine never imports the app or
a GUI toolkit (not even inside a function), and benchmarks import nothing from the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

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


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("QT_API", None)
    return env


def test_the_import_contracts_are_kept():
    lint = shutil.which("lint-imports")
    if lint is None:
        pytest.fail("lint-imports not found: install the test extras (pip install -e .[test])")
    done = subprocess.run([lint, "--no-cache"], capture_output=True, text=True, cwd=REPO_ROOT, env=_env(),
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 broken" in done.stdout and "KEPT" in done.stdout, done.stdout  # contracts were read and checked


def test_importing_every_engine_module_loads_no_qt():
    """At run time too: a third-party package the engine uses must not pull in a GUI toolkit either."""
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO_ROOT, env=_env(),
                          timeout=300)
    assert done.returncode == 0, done.stderr
    report = dict(line.split(" ", 1) for line in done.stdout.splitlines() if line.startswith(("MODULES ", "QT ")))
    assert int(report["MODULES"]) >= 20, f"only {report['MODULES']} engine modules found"
    assert report["QT"].strip() == "", f"importing the engine loaded Qt modules: {report['QT']}"


def test_each_grouped_package_names_public_parts_that_exist_and_an_unknown_name_fails():
    import importlib

    import pytest

    for package in ("engine.recognition", "engine.evaluation", "engine.fonts"):
        module = importlib.import_module(package)
        assert module.__all__, package
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{package}.{name}"
        with pytest.raises(AttributeError, match="no attribute 'missing'"):
            module.missing
