"""Reading awkward image files: each opens with the right pixels and orientation, or says why not."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from segstudio.core.errors import ImageReadError
from segstudio.core.imageio import IMAGE_EXTENSIONS, apply_orientation, probe_image, read_image, to_display
from tests.data_makers.awkward_images import AwkwardCase, make_corpus, upright

@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, AwkwardCase]:
    return {case.name: case for case in make_corpus(tmp_path_factory.mktemp("awkward"))}


def case_names() -> list[str]:
    """Collection needs the names before any fixture runs: make the corpus once aside to list them."""
    with tempfile.TemporaryDirectory() as folder:
        return [case.name for case in make_corpus(Path(folder))]


NAMES = case_names()


def test_the_corpus_is_large_and_varied():
    assert len(NAMES) >= 20
    assert sum("orientation" in name for name in NAMES) == 8


def assert_close(actual: np.ndarray, expected: np.ndarray, tolerance: int) -> None:
    assert actual.shape == expected.shape
    if expected.dtype.kind == "f":
        assert actual.dtype == expected.dtype
        np.testing.assert_array_equal(actual, expected)  # NaN equals NaN here
    elif tolerance == 0:
        assert actual.dtype == expected.dtype
        assert np.array_equal(actual, expected)
    else:
        difference = np.abs(actual.astype(int) - expected.astype(int))
        assert difference.max() <= tolerance, difference.max()


@pytest.mark.parametrize("name", NAMES)
def test_each_file_opens_correctly_or_raises_the_typed_error(corpus, name):
    case = corpus[name]
    if case.error:
        with pytest.raises(ImageReadError) as info:
            read_image(case.path)
        assert case.error in info.value.reason
        assert info.value.path == case.path and case.path.name in str(info.value)
        return
    loaded = read_image(case.path)
    assert loaded.display.dtype == np.uint8 and loaded.display.ndim == 3 and loaded.display.shape[2] == 3
    assert loaded.display.flags.c_contiguous and loaded.raw.ndim == 3
    assert loaded.raw.shape[:2] == loaded.display.shape[:2]
    if case.raw is not None:
        assert_close(loaded.raw, case.raw, case.tolerance)
    if case.display is not None:
        assert_close(loaded.display, case.display, case.tolerance)
    if case.shape is not None:
        assert loaded.display.shape[:2] == case.shape
    if case.note:
        assert any(case.note in note for note in loaded.notes), loaded.notes
    info = probe_image(case.path)
    assert (info.height, info.width, info.channels) == loaded.raw.shape
    assert info.dtype == str(loaded.raw.dtype)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow_and_gives_the_upright_picture(corpus, orientation):
    case = corpus[f"exif orientation {orientation}"]
    with Image.open(case.path) as image:
        reference = np.asarray(ImageOps.exif_transpose(image))
    loaded = read_image(case.path)
    assert_close(loaded.display, reference, 0)
    assert_close(loaded.display, upright(), 24)
    if orientation != 1:
        assert any("orientation" in note for note in loaded.notes)


def test_16_bit_and_float_are_stretched_by_robust_percentiles(corpus):
    loaded = read_image(corpus["16-bit grey tiff"].path)
    display = loaded.display[:, :, 0].astype(int)
    assert display.min() == 0 and display.max() == 255
    assert (np.diff(display.ravel()) >= 0).all()  # order of the values is kept
    floats = read_image(corpus["float tiff with nan and inf"].path)
    assert floats.display[0, 0, 0] == 0 and floats.display[1, 1, 0] == 255  # nan black, inf white


def test_a_hot_pixel_does_not_wash_out_the_display():
    raw = np.full((100, 100, 1), 1000, np.uint16)
    raw[:, 50:] = 2000
    raw[0, 0] = 65535
    display = to_display(raw)
    assert display[50, 10, 0] == 0 and display[50, 90, 0] == 255


def test_probe_reads_a_16k_header_without_decoding(corpus):
    info = probe_image(corpus["16k x 16k header, no data"].path)
    assert (info.width, info.height, info.format, info.pages) == (16384, 16384, "PNG", 1)
    with pytest.raises(ImageReadError, match="more than"):
        probe_image(corpus["40k x 40k"].path)


def test_probe_swaps_width_and_height_for_turned_photos(corpus):
    info = probe_image(corpus["exif orientation 6"].path)
    assert (info.width, info.height) == (32, 16)


def test_apply_orientation_inverts_each_stored_layout():
    picture = upright()
    assert np.array_equal(apply_orientation(picture, 1), picture)
    assert np.array_equal(apply_orientation(picture[:, ::-1].swapaxes(0, 1), 6), picture)


def test_missing_file_and_extensions():
    with pytest.raises(ImageReadError, match="does not exist"):
        read_image("/nonexistent/x.png")
    assert {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"} == IMAGE_EXTENSIONS
