"""Synthetic Omniglot and tiny training configs for the tests (helpers; the fixtures are in conftest.py).

The synthetic dataset follows the official layout exactly (``images_<set>/ALPHABET/characterNN/IIII_DD.png``,
105x105 1-bit PNGs, black ink on white, 20 drawers a character) but has few alphabets and characters, so
loading and training on it take a fraction of a second. Each character is a few thick random strokes, and each
drawer jitters them a little, so a small network can learn to tell characters apart.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from engine.units import GLYPH_SIZE

# Background: 4 alphabets, evaluation: 2 alphabets; 6 characters each and the official 20 drawers.
SYNTHETIC_LAYOUT = {
    "background": ["Alphabet_of_the_Magi", "Anglo-Saxon_Futhorc", "Bengali", "Greek"],
    "evaluation": ["Angelic", "Glagolitic"],
}
SYNTHETIC_CHARACTERS = 6
SYNTHETIC_DRAWERS = 20
IMAGE_SIZE = GLYPH_SIZE


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


def tiny_config(**overrides):
    """A TrainConfig for the app's Train tab tests: the "tiny" preset, endless steps, milliseconds a step on CPU."""
    from engine.data.splits import SplitConfig
    from engine.pairs import BatchConfig
    from engine.train import TrainConfig

    base = dict(preset="tiny", steps=100_000, lr=2e-3, warmup_steps=5, batch=BatchConfig(2, 3, 2),
                split=SplitConfig(val_alphabets=1), val_every=0, val_tasks=5, val_way=5, checkpoint_every=0,
                log_every=2, device="cpu", amp=False)
    base.update(overrides)
    return TrainConfig(**base)


def write_folder_set(root: Path, name: str = "background", alphabets: int = 3, seed: int = 0) -> Path:
    """Write a synthetic set of `alphabets` alphabets (Alphabet_0, Alphabet_1...) as extracted folders under
    root/images_<name> (no zip); return root."""
    write_synthetic_set(root, None, name, [f"Alphabet_{a}" for a in range(alphabets)], seed=seed)
    return root


def write_png(path: Path, ink: np.ndarray) -> None:
    """Write `ink` (1 = ink) as a 1-bit Omniglot-style PNG at `path`, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(ink))


# --- Lake's official one-shot runs format -------------------------------------------------------------------------

RUNS_CLASSES = 5  # characters a synthetic run (Lake's runs have 20)


@dataclass
class SyntheticRuns:
    """Runs in the official one-shot format made from the synthetic evaluation set: run01 and run02, one per
    evaluation alphabet, RUNS_CLASSES characters each, references by drawer 1 and test items by drawer 2, the
    items in shuffled order.

    folder: holds run01/, run02/ (as Lake's extracted all_runs/); zip: the same zipped under all_runs/;
    omniglot_dir: a folder holding the synthetic image archives and that all_runs.zip.
    """

    folder: Path
    zip: Path
    omniglot_dir: Path


def write_runs(folder: Path, ink: dict[tuple[str, str, int], np.ndarray], wrong: dict[str, int] | None = None,
               zip_path: Path | None = None) -> Path:
    """Write runNN/{training,test}/*.png and runNN/class_labels.txt into `folder` from the evaluation `ink`; the
    first `wrong[run]` test items of a run are labelled with another class (a perfect model gets them "wrong").
    With `zip_path`, also zip them under all_runs/ (with directory entries, as Lake's zip). Returns `folder`."""
    rng = np.random.default_rng(0)
    files: list[tuple[str, bytes]] = []
    for r, alphabet in enumerate(SYNTHETIC_LAYOUT["evaluation"]):
        run = f"run{r + 1:02d}"
        order = rng.permutation(RUNS_CLASSES)
        lines = []
        for k in range(RUNS_CLASSES):
            reference = ink[(alphabet, f"character{k + 1:02d}", 1)]
            files.append((f"{run}/training/class{k + 1:02d}.png", png_bytes(reference)))
        for t, k in enumerate(order):
            files.append((f"{run}/test/item{t + 1:02d}.png", png_bytes(ink[(alphabet, f"character{k + 1:02d}", 2)])))
            label = (k + 1) % RUNS_CLASSES if t < (wrong or {}).get(run, 0) else k
            lines.append(f"{run}/test/item{t + 1:02d}.png {run}/training/class{label + 1:02d}.png")
        files.append((f"{run}/class_labels.txt", ("\n".join(lines) + "\n").encode()))
    for rel, data in files:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    if zip_path is not None:
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
            for d in sorted({f"all_runs/{rel.rsplit('/', i)[0]}/" for rel, _ in files for i in (1, 2) if "/" in rel}):
                zf.writestr(d, b"")
            for rel, data in files:
                zf.writestr(f"all_runs/{rel}", data)
    return folder


# --- pages to transcribe ------------------------------------------------------------------------------------------


def _shape(draw_fn) -> np.ndarray:
    img = Image.new("L", (IMAGE_SIZE, IMAGE_SIZE), 255)
    draw_fn(ImageDraw.Draw(img))
    return (np.asarray(img) < 128).astype(np.uint8)


def page_shapes() -> dict[str, np.ndarray]:
    """Return {name: (105, 105) uint8 ink} of clearly different characters drawn with a 7-px pen.

    All are one connected piece except "dotted" (a stem with a dot 14 px above it: one glyph of two pieces)
    and "equals" (two bars one above the other: one glyph of two pieces, overlapping along the line).
    """
    w = 7
    return {
        "ring": _shape(lambda d: d.ellipse([22, 22, 82, 82], outline=0, width=w)),
        "cross": _shape(lambda d: (d.line([20, 52, 84, 52], fill=0, width=w),
                                   d.line([52, 20, 52, 84], fill=0, width=w))),
        "wedge": _shape(lambda d: d.line([22, 24, 52, 82, 82, 24], fill=0, width=w, joint="curve")),
        "zed": _shape(lambda d: d.line([24, 24, 80, 24, 24, 80, 80, 80], fill=0, width=w, joint="curve")),
        "ell": _shape(lambda d: d.line([30, 20, 30, 82, 78, 82], fill=0, width=w, joint="curve")),
        "tee": _shape(lambda d: (d.line([22, 24, 82, 24], fill=0, width=w), d.line([52, 24, 52, 84], fill=0, width=w))),
        "dotted": _shape(lambda d: (d.line([52, 44, 52, 84], fill=0, width=w), d.ellipse([46, 18, 58, 30], fill=0))),
        "equals": _shape(lambda d: (d.line([22, 38, 82, 38], fill=0, width=w),
                                    d.line([22, 66, 82, 66], fill=0, width=w))),
    }


def two_part_shape() -> np.ndarray:
    """Return a glyph of two pieces side by side with a wide gap (two bars, 28 px apart in a 60-px-tall
    glyph), which geometry alone takes for two glyphs."""
    return _shape(lambda d: (d.line([35, 22, 35, 82], fill=0, width=7), d.line([70, 22, 70, 82], fill=0, width=7)))


def shapes_line(shapes: list[str], touching=frozenset(), gap: int = 30) -> np.ndarray:
    """Return a page (uint8, black on white) of one line of `page_shapes()` at their drawn size, `gap` px apart;
    a shape whose index is in `touching` is drawn overlapping the one before by 3 px, so their ink joins."""
    drawn = page_shapes()
    page = np.zeros((140, 60 + len(shapes) * (105 + gap)), np.float32)
    x = 30
    for i, name in enumerate(shapes):
        ink = drawn[name]
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        g = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float32)
        if i in touching:
            x -= gap + 3
        region = page[20:20 + g.shape[0], x:x + g.shape[1]]
        np.maximum(region, g, out=region)
        x += g.shape[1] + gap
    return np.round((1.0 - page) * 255).astype(np.uint8)
