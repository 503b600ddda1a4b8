"""Lake et al.'s one-shot classification protocol, and the official one-shot runs format.

An N-way k-shot within-alphabet task: N characters of one alphabet; k drawers give the references (one image
per character and drawer), another drawer gives the test items, one per character. Each test item is classified
on its own, as the app does: the character whose best reference scores highest wins (no joint assignment).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data.omniglot import OmniglotSet
from ..recognition.embedding import Cancelled, embed_glyph_views
from ..recognition.index import score_characters
from ..model import SiameseNet
from ..recognition.views import ViewConfig, reference_rows
from .official_runs import OfficialRun, RunResult, decode_glyph, read_runs

PUBLISHED = {  # 20-way 1-shot within-alphabet accuracy on Lake's 20 official runs (Koch: trials built that way)
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
    views: ViewConfig = field(default_factory=ViewConfig)

    def to_dict(self) -> dict:
        """Return a JSON-ready summary (no failures), with the views it was scored with."""
        return {"accuracy": self.accuracy, "ci95": self.ci95, "n_trials": self.n_trials, "n_tasks": self.n_tasks,
                "way": self.config.way, "shot": self.config.shot, "seed": self.config.seed,
                "views": self.views.to_dict(),
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
                      cancel: threading.Event | None = None, batch_size: int = 512,
                      views: ViewConfig = ViewConfig()) -> OneShotResult:
    """Return the N-way k-shot accuracy of `model` on seeded within-alphabet tasks drawn from `data`, scored as
    the app scores a gallery (`views`: the references' and queries' fixed views, engine.recognition.views)."""
    episodes = make_episodes(data, config, chars)
    needed = episode_images(episodes)
    emb = embed_for_views(model, data.pixels(needed), views, batch_size, progress, cancel)
    return score_episodes(model, data, episodes, needed, emb, config, views)


VAL_SEED = 1234  # the same validation tasks at every validation, so curves are comparable


def validate_one_shot(model: SiameseNet, data: OmniglotSet, val_chars: np.ndarray, tasks: int,
                      way: int = 20) -> OneShotResult:
    """Return the one-shot result of `model` on the validation characters: the same seeded tasks at every call
    (VAL_SEED), `way` capped by the largest validation alphabet."""
    counts = np.bincount(data.char_alphabet[val_chars])
    cfg = OneShotConfig(way=min(way, int(counts.max())), shot=1, tasks=tasks, seed=VAL_SEED)
    return evaluate_one_shot(model, data, cfg, chars=val_chars)


def episode_images(episodes: list[Episode]) -> np.ndarray:
    """Return the sorted indices of every image the episodes use."""
    return np.unique(np.concatenate([np.concatenate([e.support.ravel(), e.query]) for e in episodes]))


def score_episodes(model: SiameseNet, data: OmniglotSet, episodes: list[Episode], images: np.ndarray,
                   emb: torch.Tensor, config: OneShotConfig, views: ViewConfig = ViewConfig()) -> OneShotResult:
    """Return the result of episodes from the view embeddings `emb` (n, >= 1 + views, D) of `images` (the
    episodes' image indices, sorted): each test item is classified on its own, as the app does."""
    way = config.way
    per_task, per_alpha, failures = [], {}, []
    for ep in episodes:
        sup = emb[np.searchsorted(images, ep.support.ravel())].reshape(way, -1, *emb.shape[1:])
        chosen = choose(model, sup, emb[np.searchsorted(images, ep.query)], views).cpu().numpy()
        correct = chosen == np.arange(way)
        per_task.append(correct.mean())
        name = data.alphabets[ep.alphabet]
        hits, n = per_alpha.get(name, (0, 0))
        per_alpha[name] = (hits + int(correct.sum()), n + way)
        failures += [Failure(int(ep.query[t]), int(ep.support[chosen[t], 0]), int(ep.support[t, 0]), name)
                     for t in np.flatnonzero(~correct)]
    acc = np.asarray(per_task)
    ci = 1.96 * acc.std(ddof=1) / math.sqrt(len(acc)) if len(acc) > 1 else float("nan")
    return OneShotResult(float(acc.mean()), float(ci), len(acc) * way, len(acc), config,
                         {k: (h / n, n) for k, (h, n) in sorted(per_alpha.items())}, failures, views)


def character_logits(model: SiameseNet, references: torch.Tensor, queries: torch.Tensor,
                     views: ViewConfig) -> torch.Tensor:
    """Return each query's logit for each character (n, characters), scored as the app scores a gallery:
    references (characters, shots, >= 1 + views, D) and queries (n, >= 1 + views, D) are view embeddings
    (`embed_for_views`), used as `views` says."""
    n_chars, shots, _, dim = references.shape
    refs = reference_rows(references[:, :, :1 + views.reference_views].flatten(0, 1), views)
    return score_characters(model, refs.reshape(n_chars, -1, dim), queries[:, :1 + views.query_views])


def choose(model: SiameseNet, references: torch.Tensor, queries: torch.Tensor, views: ViewConfig) -> torch.Tensor:
    """Return each query's best character (see `character_logits`)."""
    return character_logits(model, references, queries, views).argmax(dim=1)


def embed_for_views(model: SiameseNet, glyphs: np.ndarray, views: ViewConfig, batch_size: int = 512,
                    progress: Callable[[int, int], None] | None = None,
                    cancel: threading.Event | None = None) -> torch.Tensor:
    """Return embeddings (n, 1 + max(reference, query views), D) of glyphs that serve as references or queries
    (view i is the same distortion for both, engine.recognition.views)."""
    count = max(views.reference_views, views.query_views)
    return embed_glyph_views(model, glyphs, count, views.seed, batch_size, progress, cancel, views.center)


# --- Lake's official one-shot runs (reading them: engine.evaluation.official_runs) -------------------------------------------


def load_raw_glyph(path: Path) -> np.ndarray:
    """Return an Omniglot-style image as a 105x105 float glyph (1 = ink) without re-framing it."""
    return decode_glyph(Path(path), str(path))


def evaluate_runs(model: SiameseNet, runs_dir: str | Path, progress: Callable[[int, int], None] | None = None,
                  cancel: threading.Event | None = None, views: ViewConfig = ViewConfig()) -> list[RunResult]:
    """Return each run's error for runs in the official one-shot format: Lake's `all_runs.zip`, its extracted
    folder of `runNN/` folders, or a folder holding either (see engine.evaluation.official_runs.read_runs)."""
    return score_runs(model, read_runs(runs_dir).runs, progress, cancel, views)


def score_runs(model: SiameseNet, runs: list[OfficialRun], progress: Callable[[int, int], None] | None = None,
               cancel: threading.Event | None = None, views: ViewConfig = ViewConfig()) -> list[RunResult]:
    """Return each run's result: every test item is classified on its own, as the app does."""
    results = []
    for i, run in enumerate(runs):
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        emb = embed_for_views(model, np.concatenate([run.references, run.tests]), views)
        chosen = choose(model, emb[:len(run.references), None], emb[len(run.references):], views)
        results.append(RunResult.of(run, chosen.cpu().numpy()))
        if progress:
            progress(i + 1, len(runs))
    return results
