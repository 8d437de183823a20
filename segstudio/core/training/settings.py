"""One truth for how a project's models are made: architecture and training settings, in the project.

The Model dock, the Training dock, `segstudio train` and the demo all read `load_settings(project)`
(and the docks write with `update_settings`); a run's TrainConfig comes from `train_config`,
with what belongs to that run only (device, threads, time limits, continuous mode). Before this
module the architecture had three defaults that disagreed (the Model dock showed LR-ASPP, the
trainer made U-Nets, `segstudio train` never read the setting).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from segstudio.core.errors import SegStudioError
from segstudio.core.training.config import DEFAULT_TRAIN_ARCH

KEY = "training"
LEGACY_ARCH_KEY = "model.arch"  # written by the Model dock before this module existed


@dataclass(frozen=True)
class TrainingSettings:
    arch: str = DEFAULT_TRAIN_ARCH  # architecture of new models (a warm start keeps the best model's)
    model_options: dict = field(default_factory=dict)  # e.g. {"depth": 3, "width": 16}
    patience: int = 10  # epochs without a kept model before a round ends
    batch_size: int = 8
    patch: int = 128  # training patch side in pixels
    lr: float = 1e-3
    schedule_epochs: int = 50
    loss: str = "ce"
    class_weighting: str = "frequency"
    correction_weight: float = 2.0

    def train_config(self, **run):
        """The TrainConfig of one run: these settings plus the run's own values (`run` wins)."""
        from segstudio.core.training.augment import AugmentConfig
        from segstudio.core.training.config import TrainConfig

        values = {name: value for name, value in asdict(self).items() if name != "patch"}
        values["augment"] = AugmentConfig(patch=self.patch)
        values.update(run)
        return TrainConfig(**values)


def load_settings(project) -> TrainingSettings:
    """The project's settings; defaults for anything it does not say."""
    stored = project.get_setting(KEY) or {}
    known = {f.name for f in fields(TrainingSettings)}
    values = {name: value for name, value in stored.items() if name in known}
    legacy = project.get_setting(LEGACY_ARCH_KEY)
    if "arch" not in values and legacy:
        values["arch"] = legacy
    try:
        return _checked(TrainingSettings(**values))
    except (TypeError, ValueError) as exc:
        raise SegStudioError(f"the project's training settings are damaged ({exc}); "
                             f"fix or remove the '{KEY}' setting") from exc


def update_settings(project, **changes) -> TrainingSettings:
    """Change some settings (checked first) and store them all in the project."""
    settings = _checked(replace(load_settings(project), **changes))
    project.set_setting(KEY, asdict(settings))
    return settings


def _checked(settings: TrainingSettings) -> TrainingSettings:
    from segstudio.core.models.registry import ARCHITECTURES

    if settings.arch not in ARCHITECTURES:
        raise SegStudioError(f"unknown architecture {settings.arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    settings.train_config()  # TrainConfig checks loss, weighting, sizes
    if settings.patch < 8:
        raise SegStudioError(f"the training patch must be at least 8 pixels, got {settings.patch}")
    return settings
