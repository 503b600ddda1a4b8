"""Training throughput: Glyphs' batched all-pairs trainer vs a naive pair-by-pair reference.

For each preset it prints images/s and labelled pairs/s of the real Trainer (a batch of B images on the device,
augmented there, gives B(B-1)/2 pairs from one forward pass), and beside it the naive way that popular public
siamese implementations use: a DataLoader builds pairs on the CPU, distorts each image on the CPU, and every
pair goes through the twin network separately (two forward passes per pair, 128 pairs a step).

Data is synthetic (random 1-bit glyphs in Omniglot's shape): throughput does not depend on the pixels.

    python benchmarks/bench_training.py [--device auto] [--seconds 10] [--presets compact,tiny] [--json]
                                        [--naive-presets compact] [--warm-up 3] [--alphabets 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from engine.augment import AffineConfig, random_affine
from engine.data.omniglot import OmniglotSet
from engine.device import autocast, describe_device, select_device
from engine.model import PRESETS, build_model
from engine.train import StepEvent, Trainer, preset_defaults

NAIVE_PAIRS_PER_STEP = 128


def synthetic_background(alphabets: int = 20, chars: int = 20, drawers: int = 20, seed: int = 0) -> OmniglotSet:
    """Return a random background-like set: sparse random ink, Omniglot's shape and bookkeeping."""
    rng = np.random.default_rng(seed)
    n_chars = alphabets * chars
    pixels = rng.random((n_chars * drawers, 105, 105)) < 0.05
    return OmniglotSet("background", np.packbits(pixels, axis=-1), np.repeat(np.arange(n_chars), drawers).astype(np.int32),
                       np.tile(np.arange(1, drawers + 1), n_chars).astype(np.int16),
                       np.repeat(np.arange(alphabets), chars).astype(np.int32),
                       [f"character{c % chars + 1:02d}" for c in range(n_chars)], [f"A{a}" for a in range(alphabets)])


def measure_trainer(preset: str, data: OmniglotSet, device: str, seconds: float, warm_up_s: float = 3.0) -> dict:
    """Return images/s and pairs/s of the real Trainer, measured after `warm_up_s` seconds of warm-up."""
    cfg = replace(preset_defaults(preset), device=device, steps=None, time_budget_s=seconds + warm_up_s, val_every=0,
                  checkpoint_every=0, log_every=5)
    cfg.split = replace(cfg.split, val_alphabets=0)
    events: list[StepEvent] = []
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(cfg, data, out, callback=lambda e: events.append(e) if isinstance(e, StepEvent) else None)
        trainer.run()
        total = (trainer.step, trainer.elapsed)
    timed = [e for e in events if e.elapsed_s > warm_up_s]  # skip warm-up (cudnn autotune, allocator)
    if len(timed) >= 2:
        steps, dt = timed[-1].step - timed[0].step, timed[-1].elapsed_s - timed[0].elapsed_s
    else:  # too slow a machine for a separate warm-up: count everything
        steps, dt = total
    b = cfg.batch.size
    return {"images_per_s": steps * b / dt, "pairs_per_s": steps * b * (b - 1) / 2 / dt, "batch_images": b}


class _NaivePairs(Dataset):
    """Random same/different pairs, each image distorted on the CPU (as in common public implementations)."""

    def __init__(self, data: OmniglotSet, size: int):
        self.data, self.size = data, size
        self.by_char = [np.flatnonzero(data.char == c) for c in range(data.n_characters)]
        self.aug = AffineConfig()

    def __len__(self) -> int:
        return self.size

    def _load(self, index: int, gen: torch.Generator) -> torch.Tensor:
        img = torch.from_numpy(self.data.pixels(np.array([index]))).float().unsqueeze(1)
        return random_affine(img, self.aug, gen)[0]

    def __getitem__(self, i: int):
        rng = np.random.default_rng(i)
        gen = torch.Generator().manual_seed(i)
        c1 = int(rng.integers(len(self.by_char)))
        same = i % 2 == 0
        c2 = c1 if same else int(rng.integers(len(self.by_char)))
        a, b = rng.choice(self.by_char[c1]), rng.choice(self.by_char[c2])
        return self._load(int(a), gen), self._load(int(b), gen), torch.tensor(float(same))


def measure_naive(preset: str, data: OmniglotSet, device: str, seconds: float) -> dict:
    """Return pairs/s of the naive pair-by-pair reference for one preset."""
    dev = select_device(device)
    model = build_model(preset).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loader = DataLoader(_NaivePairs(data, 10**7), batch_size=NAIVE_PAIRS_PER_STEP, num_workers=2, shuffle=True,
                        persistent_workers=False)
    pairs, t0 = 0, None
    for step, (a, b, y) in enumerate(loader):
        a, b, y = a.to(dev), b.to(dev), y.to(dev)
        with autocast(dev):
            ea, eb = model.embed(model.prepare(a)), model.embed(model.prepare(b))
        loss = F.binary_cross_entropy_with_logits(model.head.pair_logits(ea, eb), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if t0 is None:  # the first step is warm-up (workers starting, kernels compiling)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            continue
        pairs += len(y)
        if time.perf_counter() - t0 > seconds:
            break
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = max(time.perf_counter() - t0, 1e-9)
    return {"pairs_per_s": pairs / dt, "images_per_s": 2 * pairs / dt}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row")
    p.add_argument("--presets", default=",".join(PRESETS))
    p.add_argument("--naive-presets", default="compact", help="presets to run the naive reference for ('': none)")
    p.add_argument("--warm-up", type=float, default=3.0, help="seconds of training not measured, before each row")
    p.add_argument("--alphabets", type=int, default=20, help="alphabets of the synthetic set (20 characters each)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    device = select_device(args.device)
    data = synthetic_background(alphabets=args.alphabets)
    label = describe_device(device)
    print(f"Training throughput on {label} (torch {torch.__version__}, {torch.get_num_threads()} CPU threads)")
    print(f"{'preset':<10} {'method':<22} {'images/s':>12} {'pairs/s':>14}")
    result = {"device": label, "presets": {}, "naive": {}, "naive_presets": {}}
    for preset in [s for s in args.presets.split(",") if s]:
        r = measure_trainer(preset, data, str(device), args.seconds, args.warm_up)
        result["presets"][preset] = r
        print(f"{preset:<10} {'glyphs all-pairs':<22} {r['images_per_s']:>12.0f} {r['pairs_per_s']:>14.0f}", flush=True)
        if preset in [s for s in args.naive_presets.split(",") if s]:
            n = measure_naive(preset, data, str(device), args.seconds)
            result["naive_presets"][preset] = n
            print(f"{preset:<10} {'naive pair-by-pair':<22} {n['images_per_s']:>12.0f} {n['pairs_per_s']:>14.0f}"
                  f"   (all-pairs: {r['pairs_per_s'] / n['pairs_per_s']:.0f}x the pairs/s)", flush=True)
    first_naive = next(iter(result["naive_presets"].values()), None)
    result["naive"] = {"pairs_per_s": first_naive["pairs_per_s"] if first_naive else None}
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
