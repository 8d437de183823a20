"""The filter bank of the instant tier: ilastik's pixel-classification features, computed with OpenCV.

Per input channel and scale sigma (ilastik's lazyflow `OpPixelFeaturesPresmoothed` conventions):
Gaussian smoothing (every sigma, 0.3 included), and from sigma 0.7 up (ilastik greys out 0.3 for
them) Laplacian of Gaussian, Gaussian gradient magnitude, difference of Gaussians (sigma minus
0.66 sigma), structure-tensor eigenvalues (inner scale sigma, outer 0.5 sigma) and Hessian-of-
Gaussian eigenvalues (both largest first). Kernels reach 3.5 sigma (ilastik's window size) and
borders reflect, so the same pixel gets the same features whether the image is filtered whole or
in tiles that carry a halo as wide as the longest filter chain.

Images are first normalised by their own data (robust percentiles per channel), not by their
container: 12-bit microscopy stored in 16-bit files, floats and 8-bit photos all end up on the
same scale, so one model serves images of every depth.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

FEATURE_SIGMAS = (0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0)  # ilastik's default scales
SMOOTHING_ONLY_BELOW = 0.7  # below this scale ilastik offers Gaussian smoothing only
TRUNCATE = 3.5  # kernel half-width in sigmas (ilastik's WINDOW_SIZE)
DOG_RATIO = 0.66  # difference of Gaussians: G(sigma) - G(0.66 sigma)
STRUCTURE_OUTER_RATIO = 0.5  # structure tensor: gradients at sigma, smoothed at 0.5 sigma
PERCENTILES = (0.5, 99.5)
PERCENTILE_SAMPLE = 1 << 22  # percentiles of images above ~4 Mpx come from a regular subsample
BORDER = cv2.BORDER_REFLECT_101

# name and number of output values of each filter, in output order
FILTERS: tuple[tuple[str, int], ...] = (
    ("gaussian", 1), ("laplacian_of_gaussian", 1), ("gradient_magnitude", 1),
    ("difference_of_gaussians", 1), ("structure_tensor_eigenvalues", 2), ("hessian_eigenvalues", 2),
)


def feature_names(channels: int, sigmas=FEATURE_SIGMAS) -> list[str]:
    """One name per output feature, in the order `feature_stack` writes them."""
    names = []
    for channel in range(channels):
        for sigma in sigmas:
            for name, count in FILTERS:
                if name != "gaussian" and sigma < SMOOTHING_ONLY_BELOW:
                    continue
                names += [f"c{channel}:{name}:{sigma:g}" + (f":{k}" if count > 1 else "") for k in range(count)]
    return names


def halo_for(sigmas=FEATURE_SIGMAS) -> int:
    """Pixels a tile must borrow from its neighbours so that its features equal the whole image's."""
    return int(math.ceil(TRUNCATE * (1 + STRUCTURE_OUTER_RATIO) * max(sigmas))) + 2


def normalise_by_data(image: np.ndarray) -> np.ndarray:
    """H x W x C float32 with each channel's 0.5th percentile at 0 and its 99.5th at 1 (not clipped).

    Non-finite values become 0; a constant channel becomes all zeros.
    """
    image = as_hwc(image)
    out = np.empty(image.shape, np.float32)
    step = max(1, int(math.sqrt(image.shape[0] * image.shape[1] / PERCENTILE_SAMPLE)))
    for c in range(image.shape[2]):
        channel = image[:, :, c].astype(np.float32)
        sample = channel[::step, ::step]
        finite = sample[np.isfinite(sample)]
        low, high = np.percentile(finite, PERCENTILES) if finite.size else (0.0, 0.0)
        scale = 1.0 / (high - low) if high > low else 1.0
        np.multiply(channel - np.float32(low), np.float32(scale), out=out[:, :, c])
    return np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass(frozen=True)
class ImageFeatures:
    """An image's features with what they were computed from: what the live refresh caches for
    the open image and passes to `InstantModel.fit` / `predict` instead of the image."""

    values: np.ndarray  # (H, W, F) float32
    channels: int
    sigmas: tuple[float, ...]

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape[:2]


def image_features(image: np.ndarray, *, channels: int | None = None, sigmas=FEATURE_SIGMAS,
                   tile: int | None = 1024) -> ImageFeatures:
    """`feature_stack` of the image seen with `channels` channels (grey repeated, RGB to grey, alpha dropped)."""
    from segstudio.core.imageio.channels import match_channels

    image = as_hwc(image)
    if channels is not None:
        image = match_channels(image, channels)
    return ImageFeatures(feature_stack(image, sigmas=sigmas, tile=tile), image.shape[2], tuple(float(s) for s in sigmas))


def feature_stack(image: np.ndarray, *, sigmas=FEATURE_SIGMAS, tile: int | None = 1024) -> np.ndarray:
    """(H, W, F) float32 features of a raw image (any dtype, grey or multichannel); see the module doc.

    With `tile`, filters run on tiles of that size plus a halo, so the filters' working memory
    stays bounded; the result equals the untiled one within float tolerance.
    """
    normalised = normalise_by_data(image)
    height, width, channels = normalised.shape
    out = np.empty((height, width, len(feature_names(channels, sigmas))), np.float32)
    for (y0, y1, x0, x1), features in feature_tiles(normalised, sigmas=sigmas, tile=tile):
        out[y0:y1, x0:x1] = features
    return out


def feature_tiles(normalised: np.ndarray, *, sigmas=FEATURE_SIGMAS,
                  tile: int | None = 1024) -> Iterator[tuple[tuple[int, int, int, int], np.ndarray]]:
    """((y0, y1, x0, x1), features of that box) over an already normalised H x W x C image."""
    for box in tile_boxes(normalised.shape[:2], tile):
        yield box, box_features(normalised, box, sigmas=sigmas)


def tile_boxes(shape: tuple[int, int], tile: int | None = 1024) -> list[tuple[int, int, int, int]]:
    height, width = shape
    tile = max(height, width) if tile is None else int(tile)
    if tile < 1:
        raise ValueError("tile must be at least 1 pixel")
    return [(y0, min(y0 + tile, height), x0, min(x0 + tile, width))
            for y0 in range(0, height, tile) for x0 in range(0, width, tile)]


def box_features(normalised: np.ndarray, box: tuple[int, int, int, int], *, sigmas=FEATURE_SIGMAS) -> np.ndarray:
    """Features of one box of a normalised image, filtered with a halo borrowed from around it."""
    height, width = normalised.shape[:2]
    y0, y1, x0, x1 = box
    halo = halo_for(sigmas)
    py0, px0 = max(0, y0 - halo), max(0, x0 - halo)
    py1, px1 = min(height, y1 + halo), min(width, x1 + halo)
    padded = _channel_features(normalised[py0:py1, px0:px1], sigmas)
    return padded[y0 - py0:y1 - py0, x0 - px0:x1 - px0]


def _channel_features(normalised: np.ndarray, sigmas) -> np.ndarray:
    height, width, channels = normalised.shape
    per_channel = len(feature_names(1, sigmas))
    out = np.empty((height, width, channels * per_channel), np.float32)
    index = 0
    for c in range(channels):
        plane = np.ascontiguousarray(normalised[:, :, c])
        for sigma in sigmas:
            for values in _filters_at(plane, sigma):
                out[:, :, index] = values
                index += 1
    return out


def _filters_at(plane: np.ndarray, sigma: float) -> list[np.ndarray]:
    smooth = _filter(plane, _kernel(sigma, 0), _kernel(sigma, 0))
    if sigma < SMOOTHING_ONLY_BELOW:
        return [smooth]
    g0, g1, g2 = _kernel(sigma, 0), _kernel(sigma, 1), _kernel(sigma, 2)
    dx, dy = _filter(plane, g1, g0), _filter(plane, g0, g1)
    dxx, dyy, dxy = _filter(plane, g2, g0), _filter(plane, g0, g2), _filter(plane, g1, g1)
    dog = smooth - _filter(plane, _kernel(DOG_RATIO * sigma, 0), _kernel(DOG_RATIO * sigma, 0))
    outer = _kernel(STRUCTURE_OUTER_RATIO * sigma, 0)
    sxx, syy, sxy = (_filter(product, outer, outer) for product in (dx * dx, dy * dy, dx * dy))
    return [smooth, dxx + dyy, np.sqrt(dx * dx + dy * dy), dog, *_eigenvalues(sxx, sxy, syy), *_eigenvalues(dxx, dxy, dyy)]


def _eigenvalues(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues of the symmetric 2 x 2 field [[a, b], [b, c]], largest first."""
    mean = (a + c) * 0.5
    radius = np.sqrt(((a - c) * 0.5) ** 2 + b * b)
    return mean + radius, mean - radius


def _filter(plane: np.ndarray, kernel_x: np.ndarray, kernel_y: np.ndarray) -> np.ndarray:
    return cv2.sepFilter2D(plane, cv2.CV_32F, kernel_x, kernel_y, borderType=BORDER)


_KERNELS: dict[tuple[float, int], np.ndarray] = {}


def _kernel(sigma: float, order: int) -> np.ndarray:
    """Sampled Gaussian (derivative) correlation kernel, normalised to be exact on polynomials:
    order 0 sums to 1, order 1 gives 1 on a unit ramp, order 2 gives 1 on x^2 / 2."""
    key = (float(sigma), order)
    if key not in _KERNELS:
        radius = max(1, int(math.ceil(TRUNCATE * sigma)))
        x = np.arange(-radius, radius + 1, dtype=np.float64)
        gauss = np.exp(-0.5 * (x / sigma) ** 2)
        if order == 0:
            kernel = gauss / gauss.sum()
        elif order == 1:
            kernel = x * gauss
            kernel /= (kernel * x).sum()
        else:
            kernel = (x * x / sigma**2 - 1.0) * gauss
            kernel -= kernel.mean()
            kernel /= (kernel * x * x / 2).sum()
        _KERNELS[key] = kernel.astype(np.float32)
    return _KERNELS[key]


def as_hwc(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[0] < 1 or image.shape[1] < 1 or image.shape[2] < 1:
        raise ValueError(f"expected an H x W or H x W x C image, got shape {image.shape}")
    if image.dtype == bool or not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
        raise ValueError(f"expected an integer or float image, got {image.dtype}")
    return image
