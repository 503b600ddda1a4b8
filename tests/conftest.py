"""Fixtures shared by every test: private user folders, a tiny synthetic Omniglot, the real one when present,
and a guard against tests that leave threads running.

The synthetic dataset follows the official layout exactly (``images_<set>/ALPHABET/characterNN/IIII_DD.png``,
105x105 1-bit PNGs, black ink on white, 20 drawers a character) but has few alphabets and characters, so
loading and training on it take a fraction of a second. Each character is a few thick random strokes, and each
drawer jitters them a little, so a small network can learn to tell characters apart.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

# Background: 4 alphabets, evaluation: 2 alphabets; 6 characters each and the official 20 drawers.
SYNTHETIC_LAYOUT = {
    "background": ["Alphabet_of_the_Magi", "Anglo-Saxon_Futhorc", "Bengali", "Greek"],
    "evaluation": ["Angelic", "Glagolitic"],
}
SYNTHETIC_CHARACTERS = 6
SYNTHETIC_DRAWERS = 20
IMAGE_SIZE = 105


@dataclass
class SyntheticOmniglot:
    """Where the synthetic dataset lies, and what it holds.

    zip_dir: folder holding images_background.zip and images_evaluation.zip (the official archives' layout).
    folder_dir: folder holding the same data extracted: images_background/ and images_evaluation/.
    ink: {set name: {(alphabet, character folder, drawer): (105, 105) uint8 array, 1 = ink}}.
    """

    zip_dir: Path
    folder_dir: Path
    alphabets: dict[str, list[str]]
    characters: int = SYNTHETIC_CHARACTERS
    drawers: int = SYNTHETIC_DRAWERS
    ink: dict[str, dict[tuple[str, str, int], np.ndarray]] = field(default_factory=dict)

    def zip(self, name: str) -> Path:
        return self.zip_dir / f"images_{name}.zip"

    def folder(self, name: str) -> Path:
        return self.folder_dir / f"images_{name}"

    def n_images(self, name: str) -> int:
        return len(self.alphabets[name]) * self.characters * self.drawers


def character_strokes(rng: np.random.Generator) -> np.ndarray:
    """Return a character's shape: 3 strokes of (x0, y0, x1, y1), each at least 25 px long, inside 22-83."""
    strokes = []
    while len(strokes) < 3:
        s = rng.integers(22, 84, size=4)
        if np.hypot(s[2] - s[0], s[3] - s[1]) >= 25:
            strokes.append(s)
    return np.array(strokes)


def draw_glyph(strokes: np.ndarray, rng: np.random.Generator, jitter: int = 3) -> np.ndarray:
    """Return one drawer's version of a character: (105, 105) uint8, 1 = ink (endpoints jittered by +-jitter)."""
    img = Image.new("L", (IMAGE_SIZE, IMAGE_SIZE), 255)
    draw = ImageDraw.Draw(img)
    shift = rng.integers(-2, 3, size=2)
    for x0, y0, x1, y1 in strokes + rng.integers(-jitter, jitter + 1, size=strokes.shape):
        pts = [(int(x0 + shift[0]), int(y0 + shift[1])), (int(x1 + shift[0]), int(y1 + shift[1]))]
        draw.line(pts, fill=0, width=5)
        for x, y in pts:  # round pen ends
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=0)
    return (np.asarray(img) < 128).astype(np.uint8)


def png_bytes(ink: np.ndarray) -> bytes:
    """Return a 1-bit PNG of `ink` (1 = ink) as Omniglot stores it: black ink on white."""
    import io

    buffer = io.BytesIO()
    Image.fromarray(((1 - ink) * 255).astype(np.uint8), "L").convert("1").save(buffer, format="PNG")
    return buffer.getvalue()


def write_synthetic_set(folder_root: Path, zip_root: Path | None, name: str, alphabets: list[str],
                        characters: int = SYNTHETIC_CHARACTERS, drawers: int = SYNTHETIC_DRAWERS,
                        seed: int = 0, first_id: int = 1) -> dict[tuple[str, str, int], np.ndarray]:
    """Write one set as folder_root/images_<name>/... and, if zip_root is given, zip_root/images_<name>.zip.

    Returns {(alphabet, character folder, drawer): ink array} of what was written.
    """
    rng = np.random.default_rng(seed)
    written: dict[tuple[str, str, int], np.ndarray] = {}
    files: list[tuple[str, bytes]] = []
    char_id = first_id
    for alphabet in alphabets:
        for c in range(characters):
            character = f"character{c + 1:02d}"
            strokes = character_strokes(rng)
            for d in range(1, drawers + 1):
                ink = draw_glyph(strokes, rng)
                written[(alphabet, character, d)] = ink
                files.append((f"images_{name}/{alphabet}/{character}/{char_id:04d}_{d:02d}.png", png_bytes(ink)))
            char_id += 1
    for rel, data in files:
        path = folder_root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    if zip_root is not None:
        zip_root.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(zip_root / f"images_{name}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
            dirs = sorted({rel.rsplit("/", i)[0] + "/" for rel, _ in files for i in (1, 2, 3)})
            for d in dirs:  # the official archives hold directory entries too
                zf.writestr(d, b"")
            for rel, data in files:
                zf.writestr(rel, data)
    return written


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
def no_threads_left_running():
    """Fail a test that leaves a non-daemon Python thread, or one of the app's QThreads, running."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0  # a thread that was told to stop may need a moment to finish
    while True:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
        left += _running_qthreads()
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not left, f"test left {len(left)} thread(s) running: {left}"


def _running_qthreads() -> list:
    """The app's background QThreads still running (only if the app's worker module was imported: cheap)."""
    workers = sys.modules.get("app.train_worker")
    running = getattr(workers, "running_threads", None)
    if running is None:
        return []
    try:
        return list(running())
    except Exception:  # a half-torn-down Qt at exit: nothing to check
        return []


# --- small training set-ups ------------------------------------------------------------------------------------------


@pytest.fixture
def micro_preset(monkeypatch) -> str:
    """Register test-only presets: "micro" (32 px, a few thousand weights: milliseconds a step on CPU) and
    "micro105" (full 105-px input, no resizing, for tests that look at the training images themselves)."""
    from engine.model import PRESETS, ModelConfig

    monkeypatch.setitem(PRESETS, "micro", ModelConfig("micro", 32, "vgg", (8, 16, 16), 64))
    monkeypatch.setitem(PRESETS, "micro105", ModelConfig("micro105", 105, "vgg", (4, 8), 16))
    return "micro"


def small_train_config(**overrides):
    """A TrainConfig for the synthetic set: micro preset, tiny batches, one validation alphabet, CPU, no AMP."""
    from engine.data.splits import SplitConfig
    from engine.pairs import BatchConfig
    from engine.train import TrainConfig

    base = dict(preset="micro", steps=8, lr=3e-3, warmup_steps=2, batch=BatchConfig(2, 3, 2),
                split=SplitConfig(val_alphabets=1), val_every=0, val_tasks=4, val_way=5, checkpoint_every=0,
                log_every=1, seed=0, device="cpu", amp=False)
    base.update(overrides)
    return TrainConfig(**base)


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
    model = SiameseNet(ModelConfig("test-small", 48, "vgg", (8, 8), 32))
    with torch.no_grad():
        model.head.alpha.copy_(-model.head.alpha.abs() - 0.1)
        model.head.bias.fill_(2.0)
    return save_weights(model, tmp_path / "exact-match.safetensors")


@pytest.fixture(scope="session")
def installed_font() -> Path:
    """An installed TrueType font (DejaVu Sans where present), or skip the test."""
    from engine.gallery.font_files import installed_fonts

    fonts = [f for f in installed_fonts() if f.path.suffix.lower() == ".ttf"]
    if not fonts:
        pytest.skip("no installed TrueType font")
    preferred = [f for f in fonts if f.family == "DejaVu Sans" and f.style == "Book"]
    return (preferred or fonts)[0].path
