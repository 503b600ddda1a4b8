"""Splitting the background set into training and validation alphabets.

Validation holds out whole alphabets, so that model selection measures one-shot generalisation to characters
the network never saw, as the final test does. The evaluation set is never split or trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .omniglot import OmniglotSet


@dataclass(frozen=True)
class SplitConfig:
    """How to hold out validation alphabets from the background set.

    val_alphabets: how many alphabets to hold out (chosen by `seed` among those with at least `min_val_chars`
    characters, so 20-way validation tasks are possible), or `val_names` to name them explicitly.
    """

    val_alphabets: int = 4
    seed: int = 0
    min_val_chars: int = 20
    val_names: tuple[str, ...] = field(default_factory=tuple)


@dataclass
class Split:
    """Character indices of the background set used for training and for validation."""

    train_chars: np.ndarray
    val_chars: np.ndarray
    train_alphabets: list[str]
    val_alphabets: list[str]

    def as_dict(self) -> dict:
        """Return the split as plain JSON-ready data (for model cards)."""
        return {"train_alphabets": self.train_alphabets, "val_alphabets": self.val_alphabets,
                "train_characters": int(len(self.train_chars)), "val_characters": int(len(self.val_chars))}


def validation_split_of(card: dict | None, val_alphabets: int | None = None) -> SplitConfig:
    """Return the split that held out a model's validation alphabets, read from its model card (`split`), so that
    validating it never uses alphabets it trained on. Without that in the card (or when `val_alphabets` is
    given), the default choice of `val_alphabets` alphabets (the trainer's default when None)."""
    names = ((card or {}).get("split") or {}).get("val_alphabets")
    if names and val_alphabets is None:
        return SplitConfig(val_names=tuple(names))
    return SplitConfig(val_alphabets=SplitConfig().val_alphabets if val_alphabets is None else val_alphabets)


def split_background(data: OmniglotSet, config: SplitConfig = SplitConfig()) -> Split:
    """Return the train/validation split of a background set by whole alphabets."""
    if config.val_names:
        unknown = set(config.val_names) - set(data.alphabets)
        if unknown:
            raise ValueError(f"Unknown validation alphabet(s): {sorted(unknown)}")
        val_set = set(config.val_names)
    else:
        val_set = _choose_val(data, config)
    val_idx = [i for i, a in enumerate(data.alphabets) if a in val_set]
    is_val = np.isin(data.char_alphabet, val_idx)
    split = Split(
        train_chars=np.flatnonzero(~is_val),
        val_chars=np.flatnonzero(is_val),
        train_alphabets=[a for a in data.alphabets if a not in val_set],
        val_alphabets=[a for a in data.alphabets if a in val_set],
    )
    if len(split.train_chars) == 0:
        raise ValueError("The validation split leaves no alphabet to train on.")
    return split


def _choose_val(data: OmniglotSet, config: SplitConfig) -> set[str]:
    n_alpha = len(data.alphabets)
    k = min(config.val_alphabets, n_alpha - 1)
    if k <= 0:
        return set()
    counts = np.bincount(data.char_alphabet, minlength=n_alpha)
    big_enough = [i for i in range(n_alpha) if counts[i] >= config.min_val_chars]
    pool = big_enough if len(big_enough) >= k else list(np.argsort(-counts)[: max(k, len(big_enough))])
    rng = np.random.default_rng(config.seed)
    chosen = rng.permutation(sorted(pool))[:k]
    return {data.alphabets[i] for i in chosen}
