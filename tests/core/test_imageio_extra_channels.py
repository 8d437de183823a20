"""Images with a second or fourth channel: alpha only when the file says so, models see them all.

A TIFF marks transparency in its ExtraSamples tag; a two-channel fluorescence image (no such
mark) must not be shown as a grey picture masked by its second stain. Grey + alpha PNGs and
two-channel TIFFs must give proposals (models see their first channel), and complex pixels are
refused with a reason instead of crashing the display.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from segstudio.core.errors import ImageReadError
from segstudio.core.imageio import probe_image, read_image
from segstudio.core.imageio.channels import match_channels, model_channels
from segstudio.core.instant.features import image_features
from segstudio.core.instant_tier import InstantTier

rng = np.random.default_rng(3)


def _stain_pair() -> np.ndarray:
    pair = rng.integers(1000, 4000, (40, 50, 2), dtype=np.uint16)
    pair[:, :25, 1] = 0  # the second stain is dark on the left half
    return pair


def test_two_stains_without_an_alpha_mark_show_the_first_stain_unmasked(tmp_path):
    path = tmp_path / "stains.tif"
    tifffile.imwrite(path, _stain_pair(), photometric="minisblack", planarconfig="contig")
    loaded = read_image(path)
    assert loaded.alpha is False and loaded.raw.shape == (40, 50, 2)
    assert loaded.picture.shape == (40, 50, 1)
    assert loaded.picture[:, :25].mean() > 60  # not blacked out where the second stain is dark
    assert not any("transparent" in note for note in loaded.notes)
    assert any("2 channels" in note for note in loaded.notes)


def test_a_tiff_that_marks_its_extra_sample_as_alpha_is_shown_on_black(tmp_path):
    path = tmp_path / "grey_alpha.tif"
    pair = _stain_pair()
    pair[:, :, 1] = np.where(np.arange(50) < 25, 0, 65535)[None, :]
    tifffile.imwrite(path, pair, photometric="minisblack", planarconfig="contig", extrasamples=["unassalpha"])
    loaded = read_image(path)
    assert loaded.alpha is True
    assert loaded.picture[:, :25].max() == 0 and loaded.picture[:, 25:].mean() > 60


def test_rgba_png_keeps_alpha_and_an_unmarked_four_channel_tiff_shows_its_first_three(tmp_path):
    rgba = rng.integers(0, 255, (30, 30, 4), dtype=np.uint8)
    rgba[:, :10, 3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    png = read_image(tmp_path / "rgba.png")
    assert png.picture[:, :10].max() == 0
    tifffile.imwrite(tmp_path / "rgba.tif", rgba, photometric="rgb")  # tifffile marks it unassociated alpha
    assert read_image(tmp_path / "rgba.tif").picture[:, :10].max() == 0
    tifffile.imwrite(tmp_path / "four.tif", rgba, photometric="rgb", extrasamples=["unspecified"])
    four = read_image(tmp_path / "four.tif")
    assert four.alpha is False and np.array_equal(four.picture, rgba[:, :, :3])


def test_complex_pixels_are_refused_with_a_reason_at_probe_and_open(tmp_path):
    path = tmp_path / "phase.tif"
    tifffile.imwrite(path, (rng.normal(size=(20, 20)) + 1j).astype(np.complex64))
    for read in (probe_image, read_image):
        with pytest.raises(ImageReadError, match="complex numbers"):
            read(path)


def test_models_see_the_first_of_two_channels():
    pair = _stain_pair()
    assert model_channels(1) == model_channels(2) == 1 and model_channels(3) == model_channels(4) == 3
    assert np.array_equal(match_channels(pair, 1), pair[:, :, :1])
    assert np.array_equal(match_channels(pair, 3), np.repeat(pair[:, :, :1], 3, axis=2))
    features = image_features(pair, channels=model_channels(2), tile=None)
    assert np.allclose(features.values, image_features(pair[:, :, :1], channels=1, tile=None).values)


def test_the_instant_tier_fixes_grey_for_a_grey_and_alpha_image():
    tier = InstantTier(["background", "cell"])
    tier.features(np.dstack([rng.integers(0, 255, (32, 32), dtype=np.uint8)] * 2))
    assert tier.channels == 1


def test_compressed_tiffs_from_other_tools_keep_their_depth(tmp_path):
    """OpenCV writes TIFFs LZW-compressed; without tifffile's codecs they fell back to Pillow,
    which cut 16-bit colour to 8 bits."""
    import cv2

    rgb16 = rng.integers(0, 65535, (24, 32, 3), dtype=np.uint16)
    path = tmp_path / "opencv.tif"
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb16, cv2.COLOR_RGB2BGR))
    with tifffile.TiffFile(path) as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.LZW
    loaded = read_image(path)
    assert loaded.raw.dtype == np.uint16 and np.array_equal(loaded.raw, rgb16)
    assert probe_image(path).dtype == "uint16"
    for compression in ("zlib", "zstd", "lzw"):
        tifffile.imwrite(tmp_path / f"{compression}.tif", rgb16[:, :, 0], compression=compression)
        assert np.array_equal(read_image(tmp_path / f"{compression}.tif").raw[:, :, 0], rgb16[:, :, 0])
