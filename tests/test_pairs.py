"""All-pairs batches: labels, the alphabet-by-alphabet sampler, and the losses."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

from engine.pairs import AlphabetBatchSampler, BatchConfig, balanced_pair_loss, pair_labels, ranking_loss

# 5 alphabets of 6, 3, 8, 2 and 5 characters; most characters have 20 images, a few only 2.
ALPHABET_SIZES = [6, 3, 8, 2, 5]


def toy_training_set():
    char_alphabet = np.repeat(np.arange(len(ALPHABET_SIZES)), ALPHABET_SIZES)
    counts = [2 if c % 7 == 3 else 20 for c in range(len(char_alphabet))]
    starts = np.concatenate([[0], np.cumsum(counts)])
    char_images = [np.arange(starts[c], starts[c + 1]) for c in range(len(char_alphabet))]
    image_char = np.repeat(np.arange(len(char_alphabet)), counts)
    return char_alphabet, char_images, image_char


def sampler(config: BatchConfig, seed: int = 0) -> AlphabetBatchSampler:
    char_alphabet, char_images, _ = toy_training_set()
    return AlphabetBatchSampler(char_alphabet, char_images, config, torch.Generator().manual_seed(seed))


def test_all_pairs_labels():
    label = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 4])  # class sizes 4, 4, 2, 1, 1
    i, j, same = pair_labels(label)
    b = len(label)
    assert len(i) == len(j) == len(same) == b * (b - 1) // 2 == 66
    assert (i < j).all()
    assert len({(int(x), int(y)) for x, y in zip(i, j)}) == 66  # every pair once
    assert same.sum() == 6 + 6 + 1
    assert torch.equal(same, (label[i] == label[j]).float())


def test_sampler_draws_alphabets_characters_and_drawers_as_configured():
    char_alphabet, char_images, image_char = toy_training_set()
    config = BatchConfig(alphabets=2, characters=4, drawers=3)
    s = sampler(config)
    alphabets_seen = set()
    for _ in range(200):
        batch = s.sample()
        index, label = batch.index.numpy(), batch.label.numpy()
        assert len(index) == len(label) == len(batch.rotation) <= config.size
        assert len(set(index.tolist())) == len(index), "an image appears twice in a batch"
        assert (batch.rotation == 0).all()
        chars = image_char[index]
        assert np.array_equal(label, chars * 4), "labels must name the character"
        alphabets = set(char_alphabet[chars].tolist())
        assert len(alphabets) <= config.alphabets
        alphabets_seen |= alphabets
        for a in alphabets:  # up to `characters` characters of each drawn alphabet
            assert len(set(chars[char_alphabet[chars] == a].tolist())) == min(config.characters, ALPHABET_SIZES[a])
        for c, n in Counter(chars.tolist()).items():  # `drawers` images per character (fewer if it has fewer)
            assert n == min(config.drawers, len(char_images[c]))
    assert alphabets_seen == set(range(len(ALPHABET_SIZES)))


def test_sampler_with_class_rotations_labels_each_turn_as_a_new_class():
    _, _, image_char = toy_training_set()
    s = sampler(BatchConfig(alphabets=3, characters=2, drawers=2, class_rotations=True), seed=1)
    rotations = set()
    for _ in range(200):
        batch = s.sample()
        label, rot = batch.label.numpy(), batch.rotation.numpy()
        assert np.array_equal(label // 4, image_char[batch.index.numpy()])
        assert np.array_equal(label % 4, rot)
        assert set(Counter(label.tolist()).values()) <= {2}
        rotations |= set(rot.tolist())
    assert rotations == {0, 1, 2, 3}


def test_sampler_is_deterministic_given_the_generator():
    config = BatchConfig(alphabets=2, characters=3, drawers=4, class_rotations=True)
    a, b, c = sampler(config, seed=5), sampler(config, seed=5), sampler(config, seed=6)
    batches_a = [a.sample() for _ in range(20)]
    batches_b = [b.sample() for _ in range(20)]
    batches_c = [c.sample() for _ in range(20)]
    for x, y in zip(batches_a, batches_b):
        assert torch.equal(x.index, y.index) and torch.equal(x.label, y.label) and torch.equal(x.rotation, y.rotation)
    assert any(not torch.equal(x.index, z.index) for x, z in zip(batches_a, batches_c))


def test_balanced_loss_weighs_positives_and_negatives_equally():
    torch.manual_seed(0)
    label = torch.tensor([0, 0, 1, 1, 1, 2, 3, 3])
    emb = torch.randn(8, 4)
    logits = emb @ emb.T
    loss, acc = balanced_pair_loss(logits, label)
    i, j, same = pair_labels(label)
    bce = F.binary_cross_entropy_with_logits(logits[i, j], same, reduction="none")
    expected = 0.5 * (bce[same == 1].mean() + bce[same == 0].mean())
    torch.testing.assert_close(loss, expected)
    correct = ((logits[i, j] > 0).float() == same).float()
    torch.testing.assert_close(acc, 0.5 * (correct[same == 1].mean() + correct[same == 0].mean()))

    perfect = torch.where(label[:, None] == label[None, :], 20.0, -20.0)
    loss, acc = balanced_pair_loss(perfect, label)
    assert loss < 1e-6 and acc == 1.0


def test_losses_are_finite_when_a_batch_has_no_positives():
    label = torch.arange(10)  # every image its own class
    logits = torch.randn(10, 10, requires_grad=True)
    loss, acc = balanced_pair_loss(logits, label)
    rank = ranking_loss(logits, label)
    assert math.isfinite(loss.item()) and math.isfinite(acc.item())
    assert rank.item() == 0.0
    (loss + rank).backward()
    assert torch.isfinite(logits.grad).all()


def test_losses_are_finite_when_a_batch_has_only_positives():
    label = torch.zeros(6, dtype=torch.long)
    logits = torch.randn(6, 6, requires_grad=True)
    loss, _ = balanced_pair_loss(logits, label)
    rank = ranking_loss(logits, label)
    assert math.isfinite(loss.item()) and math.isfinite(rank.item())
    (loss + rank).backward()
    assert torch.isfinite(logits.grad).all()


def test_ranking_loss_rewards_the_right_partner_scoring_highest():
    label = torch.tensor([0, 0, 1, 1, 2, 3])
    good = torch.where(label[:, None] == label[None, :], 10.0, -10.0)
    bad = -good
    assert ranking_loss(good, label) < 1e-3
    assert ranking_loss(bad, label) > 5
