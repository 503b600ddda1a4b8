"""Training the siamese network: one Trainer for the command line and the app, in one run folder layout."""

from .config import TrainConfig, preset_defaults
from .events import CheckpointEvent, FailedEvent, FinishedEvent, StepEvent, TrainEvent, ValidationEvent
from .loop import RunControl
from .run_folder import RunFolder
from .trainer import Trainer, TrainingError

__all__ = ["CheckpointEvent", "FailedEvent", "FinishedEvent", "RunControl", "RunFolder", "StepEvent", "TrainConfig",
           "TrainEvent", "Trainer", "TrainingError", "ValidationEvent", "preset_defaults"]
