"""Augmentations for segmentation: the same geometric change on the image, the target and the weights.

They work on numpy arrays (H x W x C float32 model input, already normalised with the bundle's
normalisation; H x W uint8 targets with 255 = ignore), so 1-channel 16-bit microscopy images and
RGB photos go through the same code: intensity jitter is applied in normalised units and never
assumes a 0..255 range. Every random choice comes from the numpy Generator passed in, so a
sample is fully determined by its seed whatever process or worker draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segstudio.core.labels import IGNORE


@dataclass(frozen=True)
class AugmentConfig:
    patch: int = 128
    scale_range: tuple[float, float] = (0.7, 1.4)  # >1 zooms in (a smaller window is enlarged)
    flips: bool = True
    rotate90: bool = True  # off for data with a meaningful orientation (e.g. street scenes)
    brightness: float = 0.2  # additive shift, in units of the normalised input's std
    contrast: float = 0.2  # multiplicative factor range around 1
    channel_jitter: float = 0.05  # independent per-channel shift (colour balance), 0 for 1-channel
    labelled_anchor_probability: float = 0.8  # crops centred on a labelled pixel (scribbles!)


@dataclass
class Sample:
    """One training patch: input C x H x W float32, target H x W int64, weight H x W float32."""

    image: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    centre: tuple[int, int] = (0, 0)  # the window's centre in the image (y, x): where its loss is counted


def crop_window(array: np.ndarray, y0: int, x0: int, size: int, fill: float) -> np.ndarray:
    """size x size window whose top-left corner is (y0, x0); parts outside the array are `fill`."""
    height, width = array.shape[:2]
    out = np.full((size, size, *array.shape[2:]), fill, dtype=array.dtype)
    sy0, sx0 = max(0, y0), max(0, x0)
    sy1, sx1 = min(height, y0 + size), min(width, x0 + size)
    if sy1 > sy0 and sx1 > sx0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = array[sy0:sy1, sx0:sx1]
    return out


def choose_window(shape: tuple[int, int], size: int, anchors: np.ndarray, config: AugmentConfig,
                  rng: np.random.Generator) -> tuple[int, int]:
    """Top-left corner of a window: around a labelled pixel most of the time, else anywhere.

    With sparse labels (scribbles, a few corrected regions) uniform crops would mostly hold
    nothing but ignored pixels and teach nothing.
    """
    height, width = shape
    if len(anchors) and rng.random() < config.labelled_anchor_probability:
        cy, cx = anchors[rng.integers(len(anchors))]
        jitter = rng.integers(-(size // 4), size // 4 + 1, size=2)
        y0, x0 = int(cy) - size // 2 + int(jitter[0]), int(cx) - size // 2 + int(jitter[1])
        return y0, x0
    y0 = int(rng.integers(min(0, height - size), max(0, height - size) + 1))
    x0 = int(rng.integers(min(0, width - size), max(0, width - size) + 1))
    return y0, x0


def random_patch(raw: np.ndarray, target: np.ndarray, weight: np.ndarray, anchors: np.ndarray,
                 normalise, config: AugmentConfig, rng: np.random.Generator, *,
                 weight_values: np.ndarray | None = None) -> Sample:
    """Scale, crop, flip, rotate and jitter one patch of an image.

    `raw` is the image as stored (H x W x C, any dtype; a memory map is read only in the
    window); `normalise` maps a raw window to C x H x W float32 (the bundle's
    Normalisation.apply). Cropping happens before normalising, so a patch costs the same on an
    8k image as on a small one. With `weight_values`, `weight` holds codes into it (0 outside).
    """
    low, high = np.log(config.scale_range[0]), np.log(config.scale_range[1])
    scale = float(np.exp(rng.uniform(low, high)))
    size = max(1, int(round(config.patch / scale)))
    y0, x0 = choose_window(target.shape, size, anchors, config, rng)
    pixels = normalise(crop_window(raw, y0, x0, size, 0)).transpose(1, 2, 0)  # H x W x C float32
    tgt = crop_window(target, y0, x0, size, IGNORE)
    wgt = crop_window(weight, y0, x0, size, 0)
    if weight_values is not None:
        wgt = weight_values[wgt]
    if size != config.patch:
        dsize = (config.patch, config.patch)
        pixels = cv2.resize(pixels, dsize, interpolation=cv2.INTER_LINEAR)
        pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
        tgt = cv2.resize(tgt, dsize, interpolation=cv2.INTER_NEAREST)
        wgt = cv2.resize(wgt, dsize, interpolation=cv2.INTER_NEAREST)
    pixels, tgt, wgt = _flip_rotate(pixels, tgt, wgt, config, rng)
    pixels = _jitter(pixels, config, rng)
    return Sample(np.ascontiguousarray(pixels.transpose(2, 0, 1)), tgt.astype(np.int64), np.ascontiguousarray(wgt),
                  (y0 + size // 2, x0 + size // 2))


def _flip_rotate(pixels, target, weight, config: AugmentConfig, rng: np.random.Generator):
    arrays = [pixels, target, weight]
    if config.flips:
        if rng.random() < 0.5:
            arrays = [a[:, ::-1] for a in arrays]
        if rng.random() < 0.5:
            arrays = [a[::-1] for a in arrays]
    if config.rotate90:
        turns = int(rng.integers(4))
        if turns:
            arrays = [np.rot90(a, turns, axes=(0, 1)) for a in arrays]
    return [np.ascontiguousarray(a) for a in arrays]


def _jitter(pixels: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Contrast around the patch mean, a brightness shift, and a small per-channel shift."""
    contrast = 1.0 + rng.uniform(-config.contrast, config.contrast)
    shift = rng.uniform(-config.brightness, config.brightness)
    channels = pixels.shape[2]
    per_channel = rng.uniform(-config.channel_jitter, config.channel_jitter, channels) if channels > 1 else 0.0
    mean = pixels.mean(axis=(0, 1), dtype=np.float32)
    offset = mean * np.float32(1.0 - contrast) + np.float32(shift) + np.asarray(per_channel, np.float32)
    pixels *= np.float32(contrast)  # in place: `pixels` is this patch's own float32 array
    pixels += offset.astype(np.float32)
    return pixels
