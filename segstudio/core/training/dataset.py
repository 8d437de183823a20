"""The training data: every reviewed pixel of the project, and patches drawn from it.

Reviewed pixels are those a person accepted (source 2) or painted (source 3). Everything else,
unreviewed proposals and unlabelled pixels alike, becomes the ignore index 255, so partially
labelled images and scribbles train correctly. Each round loads all reviewed images again:
replaying everything is what keeps the model from forgetting earlier images.

Correction weight rule: the project keeps no copy of a proposal once a person paints over it, so
"changed away from a proposal" is read from provenance: in an image that holds model pixels
(source 1 or 2, i.e. a proposal was applied to it), the pixels a person painted (source 3) are
corrections and get `correction_weight`; in an image painted from scratch all pixels weigh 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from segstudio.core.project.reviewed import is_reviewed, reviewed_target
from segstudio.core.training.augment import AugmentConfig, random_patch

IGNORE = 255
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


def class_pixel_counts(images: Sequence[ReviewedImage], num_classes: int) -> np.ndarray:
    counts = np.zeros(num_classes, np.int64)
    for image in images:
        values = image.target[image.target != IGNORE]
        counts += np.bincount(values, minlength=num_classes)[:num_classes]
    return counts


class PatchDataset(Dataset):
    """`length` augmented patches per epoch, cycling through the images.

    Sample i of epoch e is drawn from numpy Generator(seed, round, epoch, i): the same seed gives
    the same patches whichever worker or rank draws them.
    """

    def __init__(self, images: Sequence[ReviewedImage], normalise: Callable[[np.ndarray], np.ndarray],
                 augment: AugmentConfig, *, length: int, seed: int = 0, round_index: int = 0):
        if not images:
            raise ValueError("no reviewed images to train on")
        self.images = list(images)
        self.normalise = normalise
        self.augment = augment
        self.length = length
        self.seed = seed
        self.round_index = round_index
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, self.round_index, self.epoch, index])
        image = self.images[index % len(self.images)]
        sample = random_patch(image.raw, image.target, image.weight, image.anchors, self.normalise, self.augment, rng)
        return torch.from_numpy(sample.image), torch.from_numpy(sample.target), torch.from_numpy(sample.weight)
