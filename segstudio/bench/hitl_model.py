"""The model side of the human-in-the-loop benchmark: the project's best model proposes, the
app's trainer learns after each image, and the held-out images measure it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from segstudio.core.metrics import MetricAccumulator
from segstudio.core.progress import drive
from segstudio.core.training.augment import AugmentConfig
from segstudio.core.training.config import TrainConfig

if TYPE_CHECKING:
    from segstudio.core.project import Project


class CurrentModel:
    def __init__(self, project: Project, options, class_names: list[str], heldout: list[tuple[Path, np.ndarray]]):
        from segstudio.core.device import pick_device

        self.project = project
        self.options = options
        self.num_classes = len(class_names)
        self.heldout = heldout
        self.device = pick_device(options.device)
        self._bundle = None

    def bundle(self):
        """The project's proposing model bundle (reloaded only when it changed)."""
        from segstudio.core.models.bundle import ModelBundle

        best = self.project.proposing_model()
        if best is None:
            return None
        if self._bundle is None or self._bundle.version != best.version:
            self._bundle = ModelBundle.load(best.path)
            self._bundle.model.to(self.device).eval()
        return self._bundle

    def _predict(self, bundle, path: Path) -> np.ndarray:
        """The proposal the app would show: segstudio.core.inference.predict."""
        from segstudio.core.imageio import read_image
        from segstudio.core.inference import predict

        return drive(predict(bundle, read_image(path).raw, device=self.device)).class_map

    def propose(self, path: Path) -> tuple[np.ndarray, str | None]:
        """(class map, version) or (all-unlabelled map, None) before the first model."""
        bundle = self.bundle()
        if bundle is None:
            from segstudio.core.imageio import probe_image

            info = probe_image(path)
            return np.full((info.height, info.width), 255, np.uint8), None
        return self._predict(bundle, path), bundle.version

    def train(self, seed: int):
        """Run the app's trainer for the budget (a generator of its events)."""
        from segstudio.core.training.trainer import train

        options = self.options
        config = TrainConfig(
            arch=options.arch, model_options={"width": options.width, "depth": options.depth},
            max_steps=options.budget, patience=10_000, batch_size=options.batch_size, lr=options.lr,
            patches_per_image=1, min_steps_per_epoch=max(1, options.budget // 3), schedule_epochs=3,
            augment=AugmentConfig(patch=options.patch), seed=seed, device=options.device, threads=options.threads,
        )
        return (yield from train(self.project, config))

    def heldout_miou(self) -> float | None:
        bundle = self.bundle()
        if bundle is None:
            return None
        accumulator = MetricAccumulator(self.num_classes, boundary_tolerance=None)
        for path, truth in self.heldout:
            accumulator.add(truth, self._predict(bundle, path))
        miou = accumulator.scores().miou
        return None if math.isnan(miou) else round(miou, 4)
