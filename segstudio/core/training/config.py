"""Everything a training run can be told, with defaults that suit a CPU laptop and a few images."""

from __future__ import annotations

from dataclasses import dataclass, field

from segstudio.core.training.augment import AugmentConfig

DEFAULT_TRAIN_ARCH = "unet"  # trains from scratch on a handful of images (no pretrained weights here)
LOSS_KINDS: tuple[str, ...] = ("ce", "ce+dice", "focal")  # what core/training/losses.py builds


@dataclass
class TrainConfig:
    arch: str | None = None  # None: the best model's architecture, or "unet" for a project without one
    model_options: dict = field(default_factory=dict)  # e.g. {"depth": 2, "width": 8} for a tiny U-Net
    epochs: int | None = None  # at most this many epochs (None: until patience or minutes run out)
    minutes: float | None = None  # wall-clock limit
    max_steps: int | None = None  # optimiser step limit (benchmarks: a fixed budget per image)
    patience: int = 10  # epochs without a validation gain before stopping
    batch_size: int = 8
    patches_per_image: int = 8  # patches drawn per training image per epoch...
    min_steps_per_epoch: int = 8
    max_steps_per_epoch: int = 64  # ...but an epoch is never longer: validation comes at a steady pace
    hard_share: float = 0.25  # replay patches centred where the loss was high (sampling.RegionLosses)
    cache_gb: float = 8.0  # disk cache bound (cache/training); least recently used images are evicted
    fresh_share: float = 0.5  # at most this share of a batch goes to new and changed images
    fresh_patches: int = 16  # priority patches a new or changed image gets
    rare_class_probability: float = 0.5  # replay patches centred on a uniformly chosen class
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"  # "cosine" (warm-up then cosine per round) or "onecycle"
    schedule_epochs: int = 50  # length of one schedule when `epochs` is not given
    ema_decay: float = 0.99  # validate and keep a moving average of the weights (0: the last weights)
    loss: str = "ce"  # "ce", "ce+dice" or "focal"
    class_weighting: str = "frequency"  # "frequency" or "none"
    correction_weight: float = 2.0  # extra weight on pixels a person painted over a proposal
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0
    deterministic: bool = True  # torch.use_deterministic_algorithms (warn-only where impossible)
    device: str | None = None  # None/"auto": CUDA, then MPS, then CPU
    threads: int | None = None  # torch CPU threads (the GUI leaves one core to itself)
    num_workers: int = 0  # DataLoader workers (0: load in the training process)
    prefetch: bool | None = None  # no workers: read the next batch in a thread while a step computes
    # (None: when torch leaves a core free, as the app does; on a full machine the thread competes)
    amp: bool = True  # mixed precision on CUDA, bfloat16 autocast on CPUs that compute it natively
    cpu_bf16: bool | None = None  # bfloat16 autocast on the CPU: None when native, True to force (a check)
    channels_last: bool = True  # NHWC memory layout on CPU and CUDA (faster convolutions)
    warm_start: bool = True  # start from the project's best model when its classes match
    continuous: bool = False  # when patience runs out, wait for new annotations instead of ending
    poll_seconds: float = 0.5  # continuous mode, waiting: how often to read the annotation counter
    validation_tile: int = 512

    def __post_init__(self) -> None:
        from segstudio.core.errors import SegStudioError

        if self.loss not in LOSS_KINDS:
            raise SegStudioError(f"unknown loss {self.loss!r}; choose {', '.join(LOSS_KINDS)}")
        if self.class_weighting not in ("frequency", "none"):
            raise SegStudioError("class weighting must be 'frequency' or 'none'")
        if self.schedule not in ("cosine", "onecycle"):
            raise SegStudioError("schedule must be 'cosine' or 'onecycle'")
        if self.batch_size < 1 or self.patience < 1 or (self.epochs is not None and self.epochs < 1):
            raise SegStudioError("batch size, patience and epochs must be at least 1")
