"""Training the siamese network: one Trainer for the command line and the app."""

from .config import TrainConfig, preset_defaults
from .events import CheckpointEvent, FailedEvent, FinishedEvent, StepEvent, TrainEvent, ValidationEvent
from .trainer import Trainer, TrainingError

__all__ = ["CheckpointEvent", "FailedEvent", "FinishedEvent", "StepEvent", "TrainConfig", "TrainEvent",
           "Trainer", "TrainingError", "ValidationEvent", "preset_defaults"]
