"""Augmentations move image, target and weights together, keep 16-bit grey images usable, and
draw the same patch from the same seed."""

from __future__ import annotations

import numpy as np

from segstudio.core.models.classes import Normalisation
from segstudio.core.training.augment import AugmentConfig, random_patch
from segstudio.core.training.cache import CachedImage, class_anchors
from segstudio.core.training.dataset import PatchDataset
from segstudio.core.training.sampling import PrioritySampler

NO_JITTER = dict(brightness=0.0, contrast=0.0, channel_jitter=0.0)


def _ramp_image(height=40, width=56):
    """A 16-bit grey image whose value encodes the pixel's position, and a target that does too."""
    yy, xx = np.mgrid[0:height, 0:width]
    raw = (yy * width + xx).astype(np.uint16)[:, :, None] * 20
    target = ((yy // 10) * 6 + xx // 10).astype(np.uint8)
    return raw, target


def cached_image(folder, raw, target) -> CachedImage:
    """A cache entry written by hand: the arrays the trainer's cache keeps for one image."""
    anchors, counts = class_anchors(target, int(target.max()) + 1, np.random.default_rng(0))
    for name, array in (("raw", raw), ("target", target), ("weight", np.ones(target.shape, np.uint8)),
                        ("anchors", anchors)):
        np.save(folder / f"1-{name}.npy", array)
    return CachedImage(1, folder, target.shape, tuple(counts))


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


def test_same_seed_same_patch_whatever_draws_it(tmp_path):
    raw, target = _ramp_image()
    image = cached_image(tmp_path, raw, target)
    dataset = PatchDataset(Normalisation.default(1, "uint16").apply, AugmentConfig(patch=16))
    sampler = PrioritySampler(4, seed=7)
    sampler.start_round([image], steps=3, round_index=0)
    plans = list(sampler)
    again = list(sampler)
    assert plans == again  # the same epoch plans the same patches
    dataset[again[1][0]]  # drawing other samples first changes nothing
    for a, b in zip(dataset[plans[2][1]], dataset[again[2][1]]):
        assert (a == b).all() if hasattr(a, "shape") else a == b
    sampler.set_epoch(1)
    assert not (dataset[list(sampler)[2][1]][0] == dataset[plans[2][1]][0]).all()
