"""Fixtures shared by every test: private user folders, tiny synthetic Omniglots (written by tests/synthetic.py),
the real one when present, the app's windows, and a guard against tests that leave threads running.

App fixtures import Qt only when a test asks for them, so the engine's tests never load it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from synthetic import (SYNTHETIC_CHARACTERS, SYNTHETIC_LAYOUT, SyntheticOmniglot, SyntheticRuns, write_folder_set,
                       write_runs, write_synthetic_set)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # app tests run headless

@pytest.fixture(scope="session")
def synthetic_omniglot(tmp_path_factory) -> SyntheticOmniglot:
    """A tiny Omniglot in the official layout, as zips (zip_dir) and as extracted folders (folder_dir).

    Session-wide and shared: tests must not modify it (copy it into tmp_path first).
    """
    base = tmp_path_factory.mktemp("synthetic-omniglot")
    data = SyntheticOmniglot(zip_dir=base / "zips", folder_dir=base / "folders", alphabets=SYNTHETIC_LAYOUT)
    first_id = 1
    for seed, (name, alphabets) in enumerate(SYNTHETIC_LAYOUT.items()):
        data.ink[name] = write_synthetic_set(data.folder_dir, data.zip_dir, name, alphabets, seed=seed,
                                             first_id=first_id)
        first_id += len(alphabets) * SYNTHETIC_CHARACTERS
    return data


@pytest.fixture(scope="session")
def synthetic_data(synthetic_omniglot):
    """The synthetic dataset loaded once (engine.data.Omniglot); tests must not modify its arrays."""
    from engine.data import load_omniglot

    return load_omniglot(synthetic_omniglot.zip_dir, cache=False)


@pytest.fixture(scope="session")
def real_omniglot_dir() -> Path:
    """The folder holding the real Omniglot archives ($OMNIGLOT_DIR), or skip the test."""
    folder = os.environ.get("OMNIGLOT_DIR")
    if not folder:
        pytest.skip("OMNIGLOT_DIR not set: real-data test skipped")
    return Path(folder)


@pytest.fixture(scope="session")
def real_omniglot(real_omniglot_dir, tmp_path_factory):
    """The real dataset, decoded once per session (through a session-private cache)."""
    from engine.data import load_omniglot

    cache = tmp_path_factory.mktemp("real-omniglot-cache")
    old = os.environ.get("GLYPHS_CACHE_HOME")
    os.environ["GLYPHS_CACHE_HOME"] = str(cache)
    try:
        return load_omniglot(real_omniglot_dir)
    finally:
        if old is None:
            os.environ.pop("GLYPHS_CACHE_HOME", None)
        else:
            os.environ["GLYPHS_CACHE_HOME"] = old


@pytest.fixture(scope="session")
def real_omniglot_cache(real_omniglot_dir, tmp_path_factory) -> Path:
    """A session-private cache folder where the real dataset is decoded once, for the processes a test starts
    (point their GLYPHS_CACHE_HOME at it)."""
    from engine.data import load_omniglot

    cache = tmp_path_factory.mktemp("real-omniglot-subprocess-cache")
    old = os.environ.get("GLYPHS_CACHE_HOME")
    os.environ["GLYPHS_CACHE_HOME"] = str(cache)
    try:
        load_omniglot(real_omniglot_dir)
    finally:
        if old is None:
            os.environ.pop("GLYPHS_CACHE_HOME", None)
        else:
            os.environ["GLYPHS_CACHE_HOME"] = old
    return cache


@pytest.fixture(autouse=True)
def private_user_folders(tmp_path_factory, monkeypatch) -> dict[str, Path]:
    """Point the engine's (and app's) per-user folders at fresh tmp folders, so no test touches the user's."""
    base = tmp_path_factory.mktemp("user")
    folders = {"cache": base / "cache", "data": base / "data", "settings": base / "settings"}
    monkeypatch.setenv("GLYPHS_CACHE_HOME", str(folders["cache"]))
    monkeypatch.setenv("GLYPHS_DATA_HOME", str(folders["data"]))
    monkeypatch.setenv("GLYPHS_SETTINGS_DIR", str(folders["settings"]))
    return folders


@pytest.fixture(autouse=True)
def no_threads_left_running(request):
    """Fail a test that leaves a non-daemon Python thread or a worker of the app's runner running.

    A Qt test is checked before qtbot closes its widgets (closing a tab stops its work, which would hide a leak).
    A thread that was told to stop may need a moment to finish; real work does not end in 2 s.
    """
    if "qtbot" in request.fixturenames:
        request.getfixturevalue("qtbot")  # set up first, so torn down after this check
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
        left += _running_workers()
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not left, f"test left {len(left)} thread(s) running: {left}"


def _running_workers() -> list:
    """The app's runner workers (QThreadPool runnables) still running; none if Qt was never imported."""
    if "PySide6.QtCore" not in sys.modules:
        return []
    from PySide6.QtCore import QThreadPool

    pool = QThreadPool.globalInstance()
    active = pool.activeThreadCount()
    return [f"{active} pool thread(s)"] if active else []


@pytest.fixture
def no_surprise_dialogs(monkeypatch):
    """A modal dialog would hang an offscreen test: an unexpected question is answered Yes, then fails the test.

    Raising inside the dialog instead would surface in a Qt virtual (closeEvent) and hide the real failure.
    """
    from PySide6.QtWidgets import QMessageBox

    asked: list[tuple] = []

    def unexpected(*args, **kwargs):
        asked.append(args[1:3])
        return QMessageBox.Yes

    monkeypatch.setattr(QMessageBox, "question", unexpected)
    yield
    assert not asked, f"unexpected dialog(s): {asked}"


@pytest.fixture(scope="session")
def one_torch_thread():
    """Make timings measure the app, not torch: import what the first optimiser imports (torch._dynamo, ~5 s
    here) once, and use one intra-op thread, since OpenMP threads spinning on a shared 2-core machine can make a
    tiny step 5x slower."""
    import torch
    import torch._dynamo  # noqa: F401

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def omniglot_dir(tmp_path_factory) -> Path:
    """A synthetic background set of 3 alphabets (Alphabet_0..2) as extracted folders."""
    return write_folder_set(tmp_path_factory.mktemp("omniglot"))


@pytest.fixture(scope="session")
def evaluation_dir(tmp_path_factory) -> Path:
    """A synthetic evaluation set of 3 alphabets as extracted folders."""
    return write_folder_set(tmp_path_factory.mktemp("omniglot-eval"), "evaluation", seed=1)


@pytest.fixture(scope="session")
def both_sets_dir(tmp_path_factory) -> Path:
    """A folder holding a synthetic background set (Alphabet_0..2) and an evaluation set."""
    both = write_folder_set(tmp_path_factory.mktemp("omniglot-both"), "background", seed=2)
    return write_folder_set(both, "evaluation", seed=1)


# --- the app ------------------------------------------------------------------------------------------------------

@pytest.fixture
def app_env(private_user_folders) -> dict[str, Path]:
    """Return this test's private settings, user data and cache folders (conftest points the app at them)."""
    return private_user_folders


@pytest.fixture
def make_window(qtbot, app_env):
    """Return a factory of shown MainWindows (model loaded) sharing this test's settings; closes them after."""
    from app.main_window import MainWindow
    from app.settings import AppSettings
    from app_helpers import TIMEOUT_MS

    windows = []

    def factory(wait_model: bool = True, size: tuple[int, int] | None = (1200, 760), **kwargs) -> MainWindow:
        kwargs.setdefault("welcome", False)
        kwargs.setdefault("work_tabs", False)
        window = MainWindow(AppSettings(app_env["settings"]), **kwargs)
        qtbot.addWidget(window)
        if size is not None:
            window.resize(*size)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        if wait_model:
            qtbot.waitUntil(lambda: window.session.model_info is not None and not window.runner.busy,
                            timeout=TIMEOUT_MS)
        return window

    yield factory
    for window in windows:
        window.close()


# --- small training set-ups ------------------------------------------------------------------------------------------


@pytest.fixture
def micro_preset(monkeypatch) -> str:
    """Register test-only presets: "micro" (32 px, a few thousand weights: milliseconds a step on CPU) and
    "micro105" (full 105-px input, no resizing, for tests that look at the training images themselves)."""
    from engine.model import PRESETS, ModelConfig

    monkeypatch.setitem(PRESETS, "micro", ModelConfig("micro", 32, "vgg", (8, 16, 16), 64))
    monkeypatch.setitem(PRESETS, "micro105", ModelConfig("micro105", 105, "vgg", (4, 8), 16))
    return "micro"


@pytest.fixture(scope="session")
def synthetic_runs(synthetic_omniglot, tmp_path_factory) -> SyntheticRuns:
    """Synthetic runs (all labels right) as a folder, a zip, and a zip beside the image archives. Shared: copy
    before changing."""
    import shutil

    base = tmp_path_factory.mktemp("synthetic-runs")
    omniglot_dir = base / "omniglot"
    omniglot_dir.mkdir()
    for name in SYNTHETIC_LAYOUT:
        shutil.copyfile(synthetic_omniglot.zip(name), omniglot_dir / f"images_{name}.zip")
    write_runs(base / "all_runs", synthetic_omniglot.ink["evaluation"], zip_path=omniglot_dir / "all_runs.zip")
    return SyntheticRuns(base / "all_runs", omniglot_dir / "all_runs.zip", omniglot_dir)


@pytest.fixture
def runs_writer(synthetic_omniglot):
    """Return write_runs bound to the synthetic evaluation set: `runs_writer(folder, wrong=..., zip_path=...)`."""
    return lambda folder, wrong=None, zip_path=None: write_runs(folder, synthetic_omniglot.ink["evaluation"], wrong,
                                                                  zip_path)


# --- fonts ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def make_font(tmp_path):
    """Factory writing a small TrueType font into tmp_path (tests/font_files.py; no installed font is used).

    ``make_font(name="a.ttf", chars=..., family=..., style=..., version=..., shift=..., extras=True)`` returns
    its path; with `extras` the font also maps a space, a control, a lone combining mark, a character drawn
    as .notdef and one with an empty glyph.
    """
    from font_files import build_font

    def factory(name: str = "TestSans.ttf", **kwargs) -> Path:
        return build_font(tmp_path / "fonts" / name, **kwargs)

    return factory


@pytest.fixture
def exact_match_weights(tmp_path) -> Path:
    """A small untrained model (48 px) whose head has all-negative alpha, so a query identical to a reference
    ranks that reference's character first (distance 0 gives the highest score); saved in tmp_path."""
    import torch

    from engine.model import ModelConfig, SiameseNet
    from engine.weights import save_weights

    torch.manual_seed(0)
    model = SiameseNet(ModelConfig("test-small", 48, "vgg", (8, 8), 32, head="monotone"))
    with torch.no_grad():
        model.head.bias.fill_(2.0)
    return save_weights(model, tmp_path / "exact-match.safetensors")


@pytest.fixture(scope="session")
def installed_font() -> Path:
    """An installed TrueType font (DejaVu Sans where present), or skip the test."""
    from engine.fonts.files import installed_fonts

    fonts = [f for f in installed_fonts() if f.path.suffix.lower() == ".ttf"]
    if not fonts:
        pytest.skip("no installed TrueType font")
    preferred = [f for f in fonts if f.family == "DejaVu Sans" and f.style == "Book"]
    return (preferred or fonts)[0].path


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """An untrained tiny model with the paper's signed head: fast on CPU, and it fails plenty of trials to show (an
    untrained monotone head already ranks the synthetic shapes well: random features keep their distances)."""
    from dataclasses import replace

    import torch

    from engine.model import build_model, get_preset
    from engine.weights import save_weights

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    return save_weights(build_model(replace(get_preset("tiny"), head="signed")), path, {"name": "test tiny"})


@pytest.fixture(scope="session")
def shipped_model():
    """The shipped model (resources/models/glyphs-default.safetensors) on the CPU, loaded once per session."""
    from engine.weights import load_weights

    return load_weights(None, "cpu")


@pytest.fixture(scope="session")
def shapes_gallery():
    """An in-memory gallery of `synthetic.page_shapes()`, one reference each, exactly as drawn."""
    from engine.gallery import Gallery
    from synthetic import page_shapes

    gallery = Gallery.in_memory("Shapes")
    for name, ink in page_shapes().items():
        gallery.add_character(name, [ink.astype(np.float32)])
    return gallery
