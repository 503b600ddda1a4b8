"""Learning-rate schedule: linear warm-up, then cosine decay over the run's progress (steps or time)."""

from __future__ import annotations

import math


def learning_rate(base: float, step: int, progress: float, warmup_steps: int, min_fraction: float) -> float:
    """Return the learning rate at `step`, where `progress` in [0, 1] is how far the run has come."""
    if warmup_steps > 0 and step < warmup_steps:
        return base * (step + 1) / warmup_steps
    progress = min(max(progress, 0.0), 1.0)
    return base * (min_fraction + (1 - min_fraction) * 0.5 * (1 + math.cos(math.pi * progress)))
