"""The training data: every reviewed pixel of the project, and patches drawn from it.

Reviewed pixels are those a person accepted (source 2) or painted (source 3). Everything else,
unreviewed proposals and unlabelled pixels alike, becomes the ignore index 255, so partially
labelled images and scribbles train correctly. Training replays every reviewed image (that is
what keeps the model from forgetting earlier ones), read from the disk cache (cache.py) patch
by patch; `load_reviewed` loads images whole for evaluation commands.

Correction weight rule: the project keeps no copy of a proposal once a person paints over it, so
"changed away from a proposal" is read from provenance: in an image that holds model pixels
(source 1 or 2, i.e. a proposal was applied to it), the pixels a person painted (source 3) are
corrections and get `correction_weight`; in an image painted from scratch all pixels weigh 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.utils.data import Dataset

from segstudio.core.project.reviewed import is_reviewed, reviewed_target
from segstudio.core.labels import IGNORE
from segstudio.core.training.augment import AugmentConfig, random_patch

ACCEPTED, HUMAN = 2, 3
MAX_ANCHORS = 4096


@dataclass
class ReviewedImage:
    image_id: int
    raw: np.ndarray  # H x W x C as stored (uint8, uint16, float)
    target: np.ndarray  # H x W uint8, IGNORE where not reviewed
    weight: np.ndarray  # H x W float32 per-pixel loss weight
    anchors: np.ndarray  # (K, 2) labelled pixel coordinates, subsampled, for crop centres

    @property
    def labelled_pixels(self) -> int:
        return int(np.count_nonzero(self.target != IGNORE))


def correction_weights(source: np.ndarray, correction_weight: float) -> np.ndarray:
    weight = np.ones(source.shape, np.float32)
    if correction_weight != 1.0 and ((source == 1) | (source == ACCEPTED)).any():
        weight[source == HUMAN] = correction_weight
    return weight


def load_reviewed(project, image_ids: Sequence[int], in_channels: int, *, correction_weight: float = 1.0,
                  seed: int = 0) -> list[ReviewedImage]:
    """Images with their reviewed targets; images without any reviewed pixel are left out."""
    from segstudio.core.imageio import read_image
    from segstudio.core.imageio.channels import match_channels

    rng = np.random.default_rng(seed)
    loaded = []
    for image_id in image_ids:
        source = project.read_source(image_id)
        if not is_reviewed(source):
            continue
        target = reviewed_target(project.read_label(image_id), source, IGNORE).astype(np.uint8)
        raw = match_channels(read_image(project.image(image_id).path).raw, in_channels)
        labelled = np.argwhere(target != IGNORE).astype(np.int32)
        if len(labelled) > MAX_ANCHORS:
            labelled = labelled[rng.choice(len(labelled), MAX_ANCHORS, replace=False)]
        loaded.append(ReviewedImage(image_id, raw, target, correction_weights(source, correction_weight), labelled))
    return loaded


def class_pixel_counts(images: Sequence, num_classes: int) -> np.ndarray:
    """Reviewed pixels per class over images that know their counts (cache.CachedImage)."""
    counts = np.zeros(num_classes, np.int64)
    for image in images:
        counts += np.asarray(image.class_counts, np.int64)[:num_classes]
    return counts


class PatchDataset(Dataset):
    """Patches by plan (sampling.PatchPlan): the sampler decides which image and class, this
    reads the window from the disk cache and augments it.

    Indexed by plans rather than integers, so what a step sees can change between two steps
    (new annotations) and any worker or rank draws the same patch from the same plan.
    Items are (image C x H x W float32, target H x W int64, weight H x W float32, image id,
    the window's centre (y, x): the sampler keeps the loss there).
    """

    def __init__(self, normalise: Callable[[np.ndarray], np.ndarray], augment: AugmentConfig, *,
                 correction_weight: float = 1.0):
        self.normalise = normalise
        self.augment = augment
        self.focused = replace(augment, labelled_anchor_probability=1.0)
        self.weight_values = np.asarray([0.0, 1.0, correction_weight, 1.0], np.float32)  # by cache.weight_codes

    def __getitem__(self, plan):
        sample = self.sample(plan)
        return (torch.from_numpy(sample.image), torch.from_numpy(sample.target), torch.from_numpy(sample.weight),
                plan.image.image_id, torch.tensor(sample.centre))

    def sample(self, plan):
        """One augmented patch (augment.Sample) of a plan, numpy only."""
        image = plan.image
        if plan.centre is not None:  # a high-loss cell (sampling.RegionLosses): crop around it
            anchors = np.asarray([plan.centre], np.int64)
            config = self.focused
        else:
            anchors = np.asarray(image.part("anchors"))
            if plan.focus_class >= 0:
                anchors = anchors[anchors[:, 2] == plan.focus_class]
            config = self.focused if plan.focus_class >= 0 and len(anchors) else self.augment
            anchors = anchors[:, :2]
        return random_patch(image.part("raw"), image.part("target"), image.part("weight"), anchors,
                            self.normalise, config, np.random.default_rng(plan.seed),
                            weight_values=self.weight_values)

    def batch(self, plans) -> tuple[torch.Tensor, ...]:
        """A whole batch as the DataLoader collates it, stacked by numpy: safe to run in a
        thread beside the training step (no torch operator, so no second OpenMP team)."""
        samples = [self.sample(plan) for plan in plans]
        return (torch.from_numpy(np.stack([s.image for s in samples])),
                torch.from_numpy(np.stack([s.target for s in samples])),
                torch.from_numpy(np.stack([s.weight for s in samples])),
                torch.from_numpy(np.asarray([plan.image.image_id for plan in plans], np.int64)),
                torch.from_numpy(np.asarray([s.centre for s in samples], np.int64)))
