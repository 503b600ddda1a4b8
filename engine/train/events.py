"""What the Trainer reports, as plain dataclasses passed to a callback (the app turns them into Qt signals)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StepEvent:
    """Training progress, every `log_every` steps. Rates are measured over the last reporting interval;
    `total_steps` is None when the time budget alone bounds the run."""

    step: int
    total_steps: int | None
    loss: float
    pair_accuracy: float
    lr: float
    images_per_s: float
    pairs_per_s: float
    elapsed_s: float
    eta_s: float


@dataclass(frozen=True)
class ValidationEvent:
    """One-shot accuracy on the held-out background alphabets (never the evaluation set)."""

    step: int
    accuracy: float
    ci95: float
    elapsed_s: float
    is_best: bool


@dataclass(frozen=True)
class CheckpointEvent:
    """A resumable checkpoint (and the latest weights) were written."""

    step: int
    path: str


@dataclass(frozen=True)
class FinishedEvent:
    """Training ended normally: `reason` is 'completed', 'stopped' or 'time budget'."""

    step: int
    reason: str
    elapsed_s: float
    best_accuracy: float | None
    best_weights: str | None
    last_weights: str | None


@dataclass(frozen=True)
class FailedEvent:
    """Training stopped on an error; the last checkpoint on disk is intact."""

    step: int
    message: str


TrainEvent = StepEvent | ValidationEvent | CheckpointEvent | FinishedEvent | FailedEvent
