"""What the trainer yields besides Progress, for the GUI plot, the CLI bar and the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RoundEvent:
    """A round starts: the reviewed data was (re)loaded."""

    round: int
    train_images: int
    val_images: int
    reason: str  # "start" or "annotations changed"


@dataclass(frozen=True)
class StepEvent:
    step: int  # optimiser steps since the run started
    epoch: int
    loss: float
    lr: float
    images: tuple[int, ...] = ()  # ids of the images the step's patches came from


@dataclass(frozen=True)
class ValidationEvent:
    step: int
    epoch: int
    miou: float
    per_class_iou: dict[str, float | None]
    improved: bool
    loss: float  # mean cross-entropy over the validation pixels
    epochs_without_gain: int
    verdict: str = ""  # why the model was kept or not (segstudio.core.compare.decide)


@dataclass(frozen=True)
class LabelFlag:
    """An image's labels disagree with a confident, trustworthy model: left out until confirmed."""

    image_id: int
    name: str
    share: float  # of the reviewed pixels the model is sure about
    message: str


@dataclass(frozen=True)
class CheckpointEvent:
    version: str
    miou: float
    path: str


@dataclass(frozen=True)
class WaitingEvent:
    """Continuous mode: patience ran out; waiting for new annotations."""

    seconds_waited: float


@dataclass
class TrainResult:
    steps: int = 0
    epochs: int = 0
    best_version: str | None = None
    best_miou: float = float("nan")
    kept_versions: list[str] = field(default_factory=list)
    stopped: bool = False  # stopped by the person (flag) rather than by patience or the limits
    reason: str = ""
