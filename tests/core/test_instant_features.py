"""The instant tier's filter bank: every image kind, normalised by its data, tiled = whole."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from segstudio.core.errors import ModelError
from segstudio.core.instant.features import (
    FEATURE_SIGMAS, feature_names, feature_stack, halo_for, image_features, normalise_by_data,
)

PER_CHANNEL = 7 + 6 * 7  # smoothing at every scale; LoG, gradient, DoG, 2 + 2 eigenvalues from 0.7 up


def picture(shape=(72, 80), seed=0) -> np.ndarray:
    """Smooth blobs with edges in 0..1, so every filter has something to respond to."""
    rng = np.random.default_rng(seed)
    blobs = cv2.GaussianBlur(rng.random(shape, dtype=np.float32), (0, 0), 4)
    blobs = (blobs - blobs.min()) / np.ptp(blobs)
    return np.where(blobs > 0.55, blobs, blobs * 0.3).astype(np.float32)


@pytest.mark.parametrize("kind", ["grey8", "rgb8", "grey16", "float", "rgba8"])
def test_every_image_kind_gives_finite_float32_features_per_channel(kind):
    base = picture()
    image = {
        "grey8": (base * 255).astype(np.uint8),
        "rgb8": (np.stack([base, base[::-1], base[:, ::-1]], axis=2) * 255).astype(np.uint8),
        "grey16": (base * 4095).astype(np.uint16),
        "float": base[:, :, None] * 1e-3 - 5.0,
        "rgba8": (np.dstack([base] * 4) * 255).astype(np.uint8),
    }[kind]
    channels = 1 if image.ndim == 2 else image.shape[2]
    features = feature_stack(image, tile=None)
    assert features.shape == (72, 80, PER_CHANNEL * channels) == (72, 80, len(feature_names(channels)))
    assert features.dtype == np.float32 and np.isfinite(features).all()
    assert features.std(axis=(0, 1)).min() > 0  # no filter is dead on a picture with structure


def test_twelve_bit_data_in_sixteen_bit_files_gives_the_same_features_as_eight_bit():
    """Normalised by the data, not the container: the issue's 16-bit nuclei (values 0-235 of 65535)."""
    base = picture()
    eight = np.round(base * 235).astype(np.uint8)
    sixteen = eight.astype(np.uint16) * 16 + 7  # 12-bit values in a 16-bit file, with an offset
    floats = eight.astype(np.float64) / 1000.0
    reference = feature_stack(eight, tile=None)
    assert np.abs(feature_stack(sixteen, tile=None) - reference).max() < 1e-4
    assert np.abs(feature_stack(floats, tile=None) - reference).max() < 1e-4


def test_normalise_by_data_puts_robust_percentiles_at_zero_and_one_and_survives_odd_values():
    image = np.linspace(100, 4000, 200 * 200, dtype=np.float32).reshape(200, 200)
    image[0, 0] = np.nan
    image[0, 1] = np.inf
    normalised = normalise_by_data(image)
    assert normalised.shape == (200, 200, 1) and normalised.dtype == np.float32
    assert np.isfinite(normalised).all()
    low, high = np.percentile(normalised[1:], [0.5, 99.5])
    assert abs(low) < 0.01 and abs(high - 1) < 0.01
    assert not normalise_by_data(np.full((5, 5, 3), 7, np.uint16)).any()  # a constant image is all zeros


@pytest.mark.parametrize("tile", [32, 50, 1000])
def test_tiled_features_equal_the_whole_image(tile):
    rng = np.random.default_rng(3)
    image = np.dstack([picture((150, 170), seed=1), rng.random((150, 170))]).astype(np.float32)
    whole = feature_stack(image, tile=None)
    tiled = feature_stack(image, tile=tile)
    assert np.abs(tiled - whole).max() < 1e-4
    assert halo_for(FEATURE_SIGMAS) >= int(np.ceil(3.5 * 1.5 * 10))  # covers the longest chain (structure tensor)


def test_filters_measure_what_their_names_say_on_a_ramp():
    """On a linear ramp: smoothing keeps the value, the gradient is the slope, second derivatives vanish."""
    ramp = np.tile(np.arange(160, dtype=np.float32), (120, 1))
    features = feature_stack(ramp, tile=None)
    names = feature_names(1)
    centre = features[60, 80]
    slope = 1 / (np.percentile(ramp, 99.5) - np.percentile(ramp, 0.5))
    for index, name in enumerate(names):
        _, filter_name, sigma, *_ = name.split(":")
        if filter_name == "gradient_magnitude":
            assert centre[index] == pytest.approx(slope, rel=1e-3), name
        if filter_name in ("laplacian_of_gaussian", "difference_of_gaussians"):
            assert abs(centre[index]) < 1e-4, name
        if name == "c0:gaussian:1":
            assert centre[index] == pytest.approx(features[60, 80, names.index("c0:gaussian:0.3")], abs=1e-4)


def test_image_features_match_channels_and_bad_input_is_refused():
    grey = (picture() * 255).astype(np.uint8)
    as_rgb = image_features(grey, channels=3)
    assert as_rgb.channels == 3 and as_rgb.values.shape[-1] == 3 * PER_CHANNEL
    with pytest.raises(ModelError):
        image_features(np.zeros((8, 8, 5), np.uint8), channels=3)
    with pytest.raises(ValueError):
        feature_stack(np.zeros((2, 8, 8, 1), np.uint8))
    with pytest.raises(ValueError):
        feature_stack(np.zeros((8, 8), bool))


def test_the_instant_tier_imports_neither_torch_nor_qt():
    """Nothing before the first proposal pays for torch: the tier, the live refresh, the
    training settings the window reads and the demo's setup."""
    code = ("import sys; import segstudio.core.instant.classifier, segstudio.core.instant.project_data, "
            "segstudio.core.instant_tier, segstudio.core.live, "
            "segstudio.core.training.settings, segstudio.core.workspace.demo; "
            "bad = [m for m in ('torch', 'PySide6') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
