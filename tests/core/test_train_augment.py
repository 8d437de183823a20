"""Augmentations move image, target and weights together, keep 16-bit grey images usable, and
draw the same patch from the same seed."""

from __future__ import annotations

import numpy as np

from segstudio.core.models.classes import Normalisation
from segstudio.core.training.augment import AugmentConfig, random_patch
from segstudio.core.training.dataset import PatchDataset, ReviewedImage

NO_JITTER = dict(brightness=0.0, contrast=0.0, channel_jitter=0.0)


def _ramp_image(height=40, width=56):
    """A 16-bit grey image whose value encodes the pixel's position, and a target that does too."""
    yy, xx = np.mgrid[0:height, 0:width]
    raw = (yy * width + xx).astype(np.uint16)[:, :, None] * 20
    target = ((yy // 10) * 6 + xx // 10).astype(np.uint8)
    return raw, target


def test_geometry_is_shared_by_image_target_and_weight():
    raw, target = _ramp_image()
    weight = target.astype(np.float32) + 1
    anchors = np.argwhere(np.ones_like(target, bool))
    config = AugmentConfig(patch=24, scale_range=(1.0, 1.0), **NO_JITTER)
    for seed in range(20):
        sample = random_patch(raw, target, weight, anchors, lambda a: a.astype(np.float32).transpose(2, 0, 1),
                              config, np.random.default_rng(seed))
        position = sample.image[0] / 20
        inside = sample.target != 255
        expected = (position // 56 // 10) * 6 + (position % 56) // 10
        assert (sample.target[inside] == expected[inside]).all()
        assert (sample.weight[inside] == sample.target[inside] + 1).all()
        assert (sample.weight[~inside] == 0).all()  # padding outside the image teaches nothing


def test_sixteen_bit_grey_is_normalised_and_jittered_in_range():
    raw, target = _ramp_image()
    normalise = Normalisation.default(1, "uint16").apply
    config = AugmentConfig(patch=32)
    sample = random_patch(raw, target, np.ones(target.shape, np.float32), np.zeros((0, 2), int), normalise,
                          config, np.random.default_rng(0))
    assert sample.image.shape == (1, 32, 32) and sample.image.dtype == np.float32
    assert np.abs(sample.image).max() < 10  # normalised, not raw 16-bit values
    assert sample.target.shape == (32, 32)


def test_same_seed_same_patch_whatever_draws_it():
    raw, target = _ramp_image()
    image = ReviewedImage(1, raw, target, np.ones(target.shape, np.float32), np.argwhere(target >= 0))
    normalise = Normalisation.default(1, "uint16").apply
    first = PatchDataset([image], normalise, AugmentConfig(patch=16), length=4, seed=7)
    second = PatchDataset([image], normalise, AugmentConfig(patch=16), length=4, seed=7)
    second[3]  # drawing other samples first changes nothing
    for a, b in zip(first[2], second[2]):
        assert (a == b).all()
    first.set_epoch(1)
    assert not (first[2][0] == second[2][0]).all()
