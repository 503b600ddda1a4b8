"""Train / validation splits by whole alphabets, and proof that held-out and evaluation images never reach
a training batch."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

import engine.evaluation.evaluate as evaluate_module
from engine.data import OmniglotSet, Split, SplitConfig, split_background
from engine.pairs import BatchConfig
from engine.train import Trainer

from synthetic import small_train_config


def fake_set(chars_per_alphabet: list[int]) -> OmniglotSet:
    """A background set with the given alphabet sizes (one image per character: splits only look at labels)."""
    char_alphabet = np.repeat(np.arange(len(chars_per_alphabet)), chars_per_alphabet).astype(np.int32)
    n = len(char_alphabet)
    return OmniglotSet("background", np.zeros((n, 105, 14), np.uint8), np.arange(n, dtype=np.int32),
                       np.ones(n, np.int16), char_alphabet, [f"character{i:02d}" for i in range(n)],
                       [f"Alphabet_{i:02d}" for i in range(len(chars_per_alphabet))])


def assert_whole_alphabets(data: OmniglotSet, split: Split) -> None:
    train, val = set(split.train_chars.tolist()), set(split.val_chars.tolist())
    assert not train & val
    assert train | val == set(range(data.n_characters))
    train_alpha = {data.alphabets[a] for a in data.char_alphabet[split.train_chars]}
    val_alpha = {data.alphabets[a] for a in data.char_alphabet[split.val_chars]}
    assert train_alpha == set(split.train_alphabets) and val_alpha == set(split.val_alphabets)
    assert not train_alpha & val_alpha, "an alphabet is split between training and validation"
    for a, name in enumerate(data.alphabets):  # every character of an alphabet lies on the same side
        side = {c in val for c in data.alphabet_characters(a).tolist()}
        assert len(side) == 1, name


@pytest.mark.parametrize("val_alphabets", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_split_holds_out_whole_alphabets(synthetic_data, val_alphabets, seed):
    data = synthetic_data.background
    split = split_background(data, SplitConfig(val_alphabets=val_alphabets, seed=seed))
    assert_whole_alphabets(data, split)
    assert len(split.val_alphabets) == val_alphabets
    assert len(split.train_alphabets) == len(data.alphabets) - val_alphabets


def test_split_is_deterministic_and_depends_on_the_seed():
    data = fake_set([20 + i for i in range(12)])
    first = split_background(data, SplitConfig(val_alphabets=3, seed=5))
    again = split_background(data, SplitConfig(val_alphabets=3, seed=5))
    assert first.val_alphabets == again.val_alphabets
    np.testing.assert_array_equal(first.train_chars, again.train_chars)
    others = {tuple(split_background(data, SplitConfig(val_alphabets=3, seed=s)).val_alphabets) for s in range(8)}
    assert len(others) > 1, "the seed does not change which alphabets are held out"


def test_validation_alphabets_are_big_enough_for_20_way_tasks():
    sizes = [25, 5, 30, 8, 22, 40, 12, 19]
    data = fake_set(sizes)
    big = {f"Alphabet_{i:02d}" for i, n in enumerate(sizes) if n >= 20}
    for seed in range(20):
        split = split_background(data, SplitConfig(val_alphabets=2, seed=seed, min_val_chars=20))
        assert set(split.val_alphabets) <= big
        assert_whole_alphabets(data, split)


def test_split_by_name_and_edge_cases(synthetic_data):
    data = synthetic_data.background
    named = split_background(data, SplitConfig(val_names=("Greek", "Bengali")))
    assert named.val_alphabets == ["Bengali", "Greek"]
    assert_whole_alphabets(data, named)
    with pytest.raises(ValueError, match="Klingon"):
        split_background(data, SplitConfig(val_names=("Klingon",)))
    with pytest.raises(ValueError, match="no alphabet to train on"):
        split_background(data, SplitConfig(val_names=tuple(data.alphabets)))
    none = split_background(data, SplitConfig(val_alphabets=0))
    assert len(none.val_chars) == 0 and len(none.train_chars) == data.n_characters
    most = split_background(data, SplitConfig(val_alphabets=99))  # always leaves one alphabet to train on
    assert len(most.train_alphabets) == 1
    assert json.loads(json.dumps(named.as_dict()))["val_characters"] == 12


# --- nothing held out ever reaches a training batch -------------------------------------------------------------------


MARK = (slice(0, 10), slice(0, 10))  # a corner block; the synthetic strokes never come near it


def marked_background(data: OmniglotSet, val_names: tuple[str, ...]) -> OmniglotSet:
    """A copy of `data` whose validation alphabets' images all carry an ink block in a corner."""
    pixels = data.pixels()
    assert not pixels[:, MARK[0], MARK[1]].any()
    val = np.isin(data.char_alphabet[data.char], [data.alphabets.index(n) for n in val_names])
    pixels[val, MARK[0], MARK[1]] = 1
    return replace(data, images=np.packbits(pixels, axis=-1))


def test_held_out_images_never_reach_a_training_batch(synthetic_data, micro_preset, tmp_path):
    val_names = ("Anglo-Saxon_Futhorc",)
    data = marked_background(synthetic_data.background, val_names)
    config = small_train_config(preset="micro105", augment=None, batch=BatchConfig(2, 4, 3),
                                split=SplitConfig(val_names=val_names))
    trainer = Trainer(config, data, tmp_path)
    train_alphabets = set(trainer.split.train_alphabets)
    assert train_alphabets == set(data.alphabets) - set(val_names)

    # The images the Trainer keeps on the device are exactly the training alphabets' images.
    kept = data.char[trainer.train_index]
    assert {data.alphabets[a] for a in data.char_alphabet[kept]} == train_alphabets
    assert len(trainer.images) == len(trainer.train_index) == 360
    assert not trainer.images[:, 0, MARK[0], MARK[1]].any(), "a marked (held-out) image is among the training images"

    recorded = []
    real_sample = trainer.sampler.sample

    def recording_sample():
        batch = real_sample()
        recorded.append(batch.index.clone())
        return batch

    trainer.sampler.sample = recording_sample
    seen_alphabets = set()
    for _ in range(60):
        x, label = trainer.sample_batch()
        index = recorded[-1]
        assert x.shape == (len(index), 1, 105, 105) and len(label) == len(index)
        assert torch.equal(x, trainer.images[index].float())  # augmentation off: the stored images themselves
        assert not x[:, 0, MARK[0], MARK[1]].any(), "a held-out image reached a training batch"
        positions = trainer.train_index[index.numpy()]  # positions in the background set
        alphabets = {data.alphabets[a] for a in data.char_alphabet[data.char[positions]]}
        assert alphabets <= train_alphabets
        seen_alphabets |= alphabets
    assert seen_alphabets == train_alphabets  # the sampler does reach every training alphabet


def test_augmented_batches_also_come_only_from_training_alphabets(synthetic_data, micro_preset, tmp_path):
    data = synthetic_data.background
    config = small_train_config(batch=BatchConfig(2, 3, 2, class_rotations=True), split=SplitConfig(val_alphabets=2))
    trainer = Trainer(config, data, tmp_path)
    recorded = []
    real_sample = trainer.sampler.sample
    trainer.sampler.sample = lambda: recorded.append(real_sample()) or recorded[-1]
    for _ in range(60):
        trainer.sample_batch()
    positions = trainer.train_index[torch.cat([b.index for b in recorded]).numpy()]
    assert set(data.char[positions].tolist()) <= set(trainer.split.train_chars.tolist())
    assert not set(data.char[positions].tolist()) & set(trainer.split.val_chars.tolist())


def test_the_trainer_refuses_the_evaluation_set(synthetic_data, micro_preset, tmp_path):
    with pytest.raises(ValueError, match="evaluation"):
        Trainer(small_train_config(), synthetic_data.evaluation, tmp_path)


def test_validation_uses_only_the_held_out_background_alphabets(synthetic_data, micro_preset, tmp_path, monkeypatch):
    calls = []
    real = evaluate_module.evaluate_one_shot

    def recording(model, data, config, chars=None, **kwargs):
        calls.append((data, np.asarray(chars), config))
        return real(model, data, config, chars=chars, **kwargs)

    monkeypatch.setattr(evaluate_module, "evaluate_one_shot", recording)  # what validate_one_shot calls
    config = small_train_config(split=SplitConfig(val_alphabets=1, seed=3))
    trainer = Trainer(config, synthetic_data.background, tmp_path)
    accuracy = trainer.validate()
    assert 0.0 <= accuracy <= 1.0
    ((data, chars, config),) = calls
    assert data is synthetic_data.background and data.name == "background"
    np.testing.assert_array_equal(np.sort(chars), np.sort(trainer.split.val_chars))
    assert config.way == 5  # val_way, capped by the alphabet size (6 characters)


@pytest.mark.realdata
def test_default_split_of_the_real_background_set(real_omniglot):
    data = real_omniglot.background
    split = split_background(data)
    assert_whole_alphabets(data, split)
    assert len(split.val_alphabets) == 4 and len(split.train_alphabets) == 26
    counts = np.bincount(data.char_alphabet, minlength=len(data.alphabets))
    assert all(counts[data.alphabets.index(a)] >= 20 for a in split.val_alphabets)
    assert split_background(data).val_alphabets == split.val_alphabets
