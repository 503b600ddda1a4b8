"""Lake et al.'s one-shot classification protocol, and the official one-shot runs format.

An N-way k-shot within-alphabet task: N characters of one alphabet; k drawers give the references (one image
per character and drawer), another drawer gives the test items, one per character. Each test item is classified
on its own, as the app does: the character whose best reference scores highest wins (no joint assignment).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .data.omniglot import OmniglotSet
from .embedding import embed_glyphs
from .glyph import GLYPH_SIZE, open_image
from .model import SiameseNet

PUBLISHED = {  # 20-way within-alphabet one-shot accuracy on the evaluation alphabets
    "Koch et al. 2015 (siamese net)": 0.920,
    "People (Lake et al. 2015)": 0.955,
    "Bayesian Program Learning (Lake et al. 2015)": 0.967,
}


@dataclass(frozen=True)
class OneShotConfig:
    """N-way k-shot settings; `tasks` episodes each classify N test items; `seed` fixes the draw."""

    way: int = 20
    shot: int = 1
    tasks: int = 400
    seed: int = 0


@dataclass
class Episode:
    """One task: characters (N,), reference image indices (N, k), test image indices (N,)."""

    alphabet: int
    chars: np.ndarray
    support: np.ndarray
    query: np.ndarray


@dataclass
class Failure:
    """A misclassified test item: its image, the reference of the chosen character and the right one."""

    query: int
    chosen: int
    correct: int
    alphabet: str


@dataclass
class OneShotResult:
    """Accuracy with a 95% interval over tasks, per-alphabet accuracies and the failed trials."""

    accuracy: float
    ci95: float
    n_trials: int
    n_tasks: int
    config: OneShotConfig
    per_alphabet: dict[str, tuple[float, int]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return a JSON-ready summary (no failures)."""
        return {"accuracy": self.accuracy, "ci95": self.ci95, "n_trials": self.n_trials, "n_tasks": self.n_tasks,
                "way": self.config.way, "shot": self.config.shot, "seed": self.config.seed,
                "per_alphabet": {k: {"accuracy": a, "n_trials": n} for k, (a, n) in self.per_alphabet.items()}}


def make_episodes(data: OmniglotSet, config: OneShotConfig, chars: np.ndarray | None = None) -> list[Episode]:
    """Return `config.tasks` seeded within-alphabet episodes over `chars` (default: every character).

    Only alphabets with at least `way` characters take part; raises ValueError if there are none.
    """
    chars = np.arange(data.n_characters) if chars is None else np.asarray(chars)
    by_char = _images_by_char(data)
    alphabets = [a for a in np.unique(data.char_alphabet[chars])
                 if np.count_nonzero(data.char_alphabet[chars] == a) >= config.way]
    if not alphabets:
        raise ValueError(f"No alphabet has {config.way} characters for {config.way}-way tasks")
    rng = np.random.default_rng(config.seed)
    episodes = []
    for _ in range(config.tasks):
        alphabet = alphabets[rng.integers(len(alphabets))]
        pool = chars[data.char_alphabet[chars] == alphabet]
        chosen = rng.choice(pool, size=config.way, replace=False)
        n_drawers = min(len(by_char[c]) for c in chosen)
        if n_drawers < config.shot + 1:
            raise ValueError(f"{config.shot}-shot tasks need {config.shot + 1} drawers per character")
        drawers = rng.choice(n_drawers, size=config.shot + 1, replace=False)
        images = np.stack([by_char[c][drawers] for c in chosen])
        episodes.append(Episode(int(alphabet), chosen, images[:, :-1], images[:, -1]))
    return episodes


def _images_by_char(data: OmniglotSet) -> list[np.ndarray]:
    order = np.lexsort((data.drawer, data.char))
    bounds = np.searchsorted(data.char[order], np.arange(data.n_characters + 1))
    return [order[bounds[c]:bounds[c + 1]] for c in range(data.n_characters)]


def evaluate_one_shot(model: SiameseNet, data: OmniglotSet, config: OneShotConfig = OneShotConfig(),
                      chars: np.ndarray | None = None, progress: Callable[[int, int], None] | None = None,
                      cancel: threading.Event | None = None, batch_size: int = 512) -> OneShotResult:
    """Return the N-way k-shot accuracy of `model` on seeded within-alphabet tasks drawn from `data`."""
    episodes = make_episodes(data, config, chars)
    needed = np.unique(np.concatenate([np.concatenate([e.support.ravel(), e.query]) for e in episodes]))
    emb = embed_glyphs(model, data.pixels(needed), batch_size, progress, cancel)
    row = {int(ix): r for r, ix in enumerate(needed)}
    per_task, per_alpha, failures = [], {}, []
    with torch.no_grad():
        for ep in episodes:
            sup = emb[[row[int(i)] for i in ep.support.ravel()]]
            qry = emb[[row[int(i)] for i in ep.query]]
            scores = model.score(qry, sup).view(len(ep.query), config.way, config.shot).amax(dim=2)
            chosen = scores.argmax(dim=1).cpu().numpy()
            correct = chosen == np.arange(config.way)
            per_task.append(correct.mean())
            name = data.alphabets[ep.alphabet]
            hits, n = per_alpha.get(name, (0, 0))
            per_alpha[name] = (hits + int(correct.sum()), n + config.way)
            failures += [Failure(int(ep.query[t]), int(ep.support[chosen[t], 0]), int(ep.support[t, 0]), name)
                         for t in np.flatnonzero(~correct)]
    acc = np.asarray(per_task)
    ci = 1.96 * acc.std(ddof=1) / math.sqrt(len(acc)) if len(acc) > 1 else float("nan")
    return OneShotResult(float(acc.mean()), float(ci), len(acc) * config.way, len(acc), config,
                         {k: (h / n, n) for k, (h, n) in sorted(per_alpha.items())}, failures)


# --- the official one-shot runs format ---------------------------------------------------------------------------

@dataclass
class RunResult:
    """Error rate of one official run (e.g. run01): fraction of its test items misclassified."""

    name: str
    error: float
    n_items: int


def load_raw_glyph(path: Path) -> np.ndarray:
    """Return an Omniglot-style image as a 105x105 float glyph (1 = ink) without re-framing it."""
    img = open_image(path)
    gray = np.asarray(img.convert("L").resize((GLYPH_SIZE, GLYPH_SIZE), Image.Resampling.BILINEAR),
                      dtype=np.float32) / 255
    return 1.0 - gray if np.median(gray) > 0.5 else gray


def evaluate_runs(model: SiameseNet, runs_dir: str | Path,
                  progress: Callable[[int, int], None] | None = None) -> list[RunResult]:
    """Return each run's error for a folder of `runNN/` folders in the official one-shot format.

    Each run's class_labels.txt pairs `runNN/test/itemNN.png` with the right `runNN/training/classNN.png`.
    """
    runs_dir = Path(runs_dir)
    runs = sorted(p for p in runs_dir.iterdir() if p.is_dir() and (p / "class_labels.txt").is_file()) \
        if runs_dir.is_dir() else []
    if not runs:
        raise FileNotFoundError(f"No runNN/class_labels.txt found in {runs_dir}")
    results = []
    for i, run in enumerate(runs):
        pairs = [line.split() for line in (run / "class_labels.txt").read_text().splitlines() if line.strip()]
        tests = [runs_dir / t for t, _ in pairs]
        truth = [runs_dir / c for _, c in pairs]
        classes = sorted((run / "training").glob("*.png"), key=_natural_key)
        glyphs = np.stack([load_raw_glyph(p) for p in [*classes, *tests]])
        emb = embed_glyphs(model, glyphs)
        with torch.no_grad():
            chosen = model.score(emb[len(classes):], emb[:len(classes)]).argmax(dim=1).cpu().numpy()
        wrong = sum(classes[c].resolve() != t.resolve() for c, t in zip(chosen, truth))
        results.append(RunResult(run.name, wrong / len(tests), len(tests)))
        if progress:
            progress(i + 1, len(runs))
    return results


def _natural_key(path: Path) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]
