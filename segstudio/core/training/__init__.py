"""Training on a project's reviewed pixels (docs/architecture.md, "The main flows").

`train(project, TrainConfig(...), stop=StopFlag())` is the one entry point: a generator of
Progress and training events (segstudio.core.training.events) returning a TrainResult.
"""

from segstudio.core.training.config import TrainConfig
from segstudio.core.training.events import (
    CheckpointEvent, LabelFlag, RoundEvent, StepEvent, TrainResult, ValidationEvent, WaitingEvent,
)


def __getattr__(name: str):
    """`train` is imported on first use: the trainer pulls in torch, which settings readers
    (the demo, the settings dialog) must not pay for before the first proposal."""
    if name == "train":
        from segstudio.core.training.trainer import train

        return train
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["CheckpointEvent", "LabelFlag", "RoundEvent", "StepEvent", "TrainConfig", "TrainResult", "ValidationEvent",
           "WaitingEvent", "train"]
