"""Training on a project's reviewed pixels (docs/architecture.md, "The main flows").

`train(project, TrainConfig(...), stop=StopFlag())` is the one entry point: a generator of
Progress and training events (segstudio.core.training.events) returning a TrainResult.
"""

from segstudio.core.training.config import TrainConfig
from segstudio.core.training.events import (
    CheckpointEvent, LabelFlag, RoundEvent, StepEvent, TrainResult, ValidationEvent, WaitingEvent,
)
from segstudio.core.training.trainer import train

__all__ = ["CheckpointEvent", "LabelFlag", "RoundEvent", "StepEvent", "TrainConfig", "TrainResult", "ValidationEvent",
           "WaitingEvent", "train"]
