"""Display scaling (core/imageio/display.py): one OpenCV pass gives the plain arithmetic's picture
within one grey level, for every depth, with automatic or chosen limits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from segstudio.core.imageio import to_display
from segstudio.core.imageio.display import (
    DISPLAY_PERCENTILES, _SAMPLE_PIXELS, adjustable, display_range, scale_to_uint8,
)


def reference(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """The picture as arithmetic in float64: (v - low) * 255 / (high - low), clipped, NaN black."""
    scaled = (values.astype(np.float64) - low) * (255.0 / (high - low))
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(scaled, 0, 255)


def assert_within_one_level(display: np.ndarray, expected: np.ndarray) -> None:
    difference = np.abs(display.astype(np.float64) - expected)
    assert difference.max() <= 1.0, f"off by {difference.max():.2f} grey levels"


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.int32, np.uint32, np.float32, np.float64])
def test_one_pass_gives_the_plain_arithmetic_within_one_grey_level(dtype):
    rng = np.random.default_rng(3)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    lo, hi = (max(info.min, -40000), min(info.max, 60000)) if info else (-5.0, 1e4)
    values = rng.uniform(lo, hi, (300, 520, 1)).astype(dtype)
    values[0, 0] = info.max if info else 1e30  # a hot pixel far above the limits: white, not wrapped
    values[0, 1] = info.min if info else -1e30
    display = to_display(values)
    assert display.shape == (300, 520, 3) and (display[:, :, 0] == display[:, :, 2]).all()
    low, high = display_range(values)
    assert_within_one_level(display[:, :, 0], reference(values[:, :, 0], low, high))
    assert display[0, 0, 0] == 255 and display[0, 1, 0] == 0


def test_chosen_limits_replace_the_automatic_ones_for_8_bit_grey_too():
    values = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    assert np.array_equal(to_display(values)[:, :, 0], values[:, :, 0])  # 8-bit as stored by default
    display = to_display(values, limits=(50, 100))
    assert_within_one_level(display[:, :, 0], reference(values[:, :, 0], 50, 100))
    assert display[0, 0, 0] == 0 and display[15, 15, 0] == 255
    notes: list[str] = []
    to_display(np.full((8, 8, 1), 7, np.uint16), notes, limits=(0, 10))
    assert notes == ["display limits 0 to 10"]


def test_nan_is_black_and_infinities_take_their_ends():
    values = np.array([[np.nan, 1.0, 2.0], [np.inf, -np.inf, 1.5]], np.float32)[:, :, None]
    display = to_display(values)[:, :, 0]
    assert display.tolist() == [[0, 0, 255], [255, 0, 128]]
    assert to_display(np.full((4, 4, 1), np.nan, np.float32)).max() == 0  # nothing finite: black


def test_colour_channels_share_one_scale_and_alpha_is_kept_apart():
    values = np.random.default_rng(1).integers(0, 4000, (40, 60, 4)).astype(np.uint16)
    values[:, :, 3] = 65535  # opaque: alpha spans its type, it is not stretched
    values[0, 0, 3] = 0  # one clear pixel, black
    display = to_display(values)
    low, high = display_range(values[:, :, :3])
    expected = reference(values[:, :, :3], low, high)
    expected[0, 0] = 0
    assert_within_one_level(display, expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16])
def test_the_histogram_percentiles_are_numpys_on_the_same_sample(dtype):
    rng = np.random.default_rng(2)
    info = np.iinfo(dtype)
    values = rng.normal(info.min / 2 + info.max / 2, info.max / 8, (1500, 1400, 1))
    values = np.clip(values, info.min, info.max).astype(dtype)
    step = max(1, math.isqrt(values.shape[0] * values.shape[1] // _SAMPLE_PIXELS))
    sample = values[::step, ::step].ravel()
    expected = np.percentile(sample, DISPLAY_PERCENTILES, method="inverted_cdf")
    assert display_range(values) == tuple(float(v) for v in expected)


def test_a_flat_image_uses_its_whole_range_and_a_single_value_is_black():
    values = np.full((50, 50, 1), 1000, np.uint16)
    values[0, :] = 3000  # 2 % of the pixels: inside the percentiles, so they alone are not enough
    assert display_range(values) == (1000.0, 3000.0)
    assert scale_to_uint8(np.full((4, 4, 1), 5, np.uint16), 5, 5).max() == 0


def test_limits_mean_something_for_grey_and_deep_images_only():
    assert adjustable(np.zeros((2, 2, 1), np.uint8)) and adjustable(np.zeros((2, 2, 3), np.uint16))
    assert not adjustable(np.zeros((2, 2, 3), np.uint8)) and not adjustable(np.zeros((2, 2, 1), np.bool_))


@pytest.mark.parametrize("dtype, rgb", [(np.uint16, False), (np.uint16, True), (np.float32, False)])
def test_a_big_image_scaled_on_all_cores_is_the_arithmetic_in_every_row(dtype, rgb):
    """Above the parallel threshold the row blocks go to a thread pool: every block must land
    in its own rows (a shifted or skipped block would differ from the reference)."""
    from segstudio.core.imageio import display

    height, width = 2100, display._PARALLEL_PIXELS // 2000 + 1  # odd sizes: a short last block
    rows = np.arange(height, dtype=np.float64)[:, None, None] * 30 + np.arange(width)[None, :, None] % 97
    values = rows.astype(dtype)
    low, high = 1000.0, 50000.0
    picture = scale_to_uint8(values, low, high, rgb=rgb)
    assert picture.shape == (height, width, 3 if rgb else 1)
    expected = reference(values, low, high)
    for channel in range(picture.shape[2]):
        assert_within_one_level(picture[:, :, channel:channel + 1], expected)
