"""Learning-rate schedule: linear warm-up, then cosine decay over the run's progress (steps or time).

`lr_factor` is what `TrainingLoop`'s `LambdaLR` scheduler multiplies the optimiser's base rate by at each step.
"""

from __future__ import annotations

import math


def lr_factor(step: int, progress: float, warmup_steps: int, min_fraction: float) -> float:
    """Return the fraction of the base learning rate used at `step`, where `progress` in [0, 1] is how far the
    run has come: (step + 1) / warmup_steps during the warm-up, then a cosine from 1 down to `min_fraction`."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(max(progress, 0.0), 1.0)
    return min_fraction + (1 - min_fraction) * 0.5 * (1 + math.cos(math.pi * progress))

