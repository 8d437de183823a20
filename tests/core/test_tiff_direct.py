"""The parallel reader of uncompressed TIFF pages gives tifffile's array, or steps aside."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from segstudio.core.errors import ImageReadError
from segstudio.core.imageio import probe_image, read_image, tiff_direct


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Small images, many blocks: every block boundary case at test size."""
    monkeypatch.setattr(tiff_direct, "MIN_BYTES", 0)
    monkeypatch.setattr(tiff_direct, "_BLOCK_BYTES", 4099)  # odd: blocks end inside pixels and rows


def _direct(path):
    with tifffile.TiffFile(path) as tif:
        return tiff_direct.read(path, tif, tif.pages[0])


rng = np.random.default_rng(7)
READ_HERE = {
    "16-bit grey": (rng.integers(0, 65535, (97, 131), dtype=np.uint16), {}),
    "8-bit RGB": (rng.integers(0, 255, (64, 80, 3), dtype=np.uint8), {"photometric": "rgb"}),
    "float32 grey": (rng.normal(size=(50, 70)).astype(np.float32), {}),
    "16-bit RGB planes": (rng.integers(0, 65535, (3, 40, 60), dtype=np.uint16),
                          {"photometric": "rgb", "planarconfig": "separate"}),
    "16-bit grey in many strips": (rng.integers(0, 65535, (120, 90), dtype=np.uint16), {"rowsperstrip": 7}),
    "int16 grey": (rng.integers(-30000, 30000, (33, 45), dtype=np.int16), {}),
}
LEFT_TO_TIFFFILE = {
    "compressed": (rng.integers(0, 65535, (64, 64), dtype=np.uint16), {"compression": "zlib"}),
    "tiled": (rng.integers(0, 65535, (64, 64), dtype=np.uint16), {"tile": (32, 32)}),
    "big-endian": (rng.integers(0, 65535, (64, 64), dtype=np.uint16), {"byteorder": ">"}),
    "1-bit": (rng.integers(0, 2, (64, 64)).astype(bool), {}),
}


@pytest.mark.parametrize("name", READ_HERE)
def test_read_here_equals_tifffile(tmp_path, name):
    data, options = READ_HERE[name]
    path = tmp_path / "image.tif"
    tifffile.imwrite(path, data, **options)
    direct = _direct(path)
    assert direct is not None, "this layout should be read directly"
    expected = tifffile.imread(path)
    assert direct.dtype == expected.dtype and direct.shape == expected.shape
    np.testing.assert_array_equal(direct, expected)
    np.testing.assert_array_equal(read_image(path).raw.reshape(-1), np.moveaxis(
        expected, 0, -1).reshape(-1) if options.get("planarconfig") else expected.reshape(-1))


@pytest.mark.parametrize("name", LEFT_TO_TIFFFILE)
def test_other_layouts_are_left_to_tifffile(tmp_path, name):
    data, options = LEFT_TO_TIFFFILE[name]
    path = tmp_path / "image.tif"
    tifffile.imwrite(path, data, **options)
    assert _direct(path) is None
    expected = tifffile.imread(path)
    if expected.dtype == np.bool_:  # tifffile writes bits as "min is white": shown inverted, as viewers do
        expected = (~expected).astype(np.uint8) * 255  # 1-bit pages read as 0/255, as Pillow's
    np.testing.assert_array_equal(read_image(path).raw[:, :, 0], expected)


def test_a_min_is_white_1_bit_tiff_opens_with_set_bits_black(tmp_path):
    bits = np.zeros((16, 16), bool)
    bits[4:8] = True
    path = tmp_path / "bilevel.tif"
    tifffile.imwrite(path, bits)  # photometric MINISWHITE: a set bit is black
    loaded = read_image(path)
    assert loaded.raw.dtype == np.uint8 and probe_image(path).dtype == "uint8"
    picture = loaded.picture[:, :, 0]
    assert (picture[4:8] == 0).all() and (picture[:4] == 255).all()


def test_a_truncated_file_is_not_read_here_and_opens_as_before(tmp_path, monkeypatch):
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, rng.integers(0, 65535, (200, 200), dtype=np.uint16))
    path.write_bytes(path.read_bytes()[:-20_000])
    assert _direct(path) is None
    try:
        expected = read_image(path)
    except ImageReadError as exc:
        expected = exc
    monkeypatch.setattr(tiff_direct, "read", lambda *args: None)  # tifffile alone, as before
    try:
        before = read_image(path)
    except ImageReadError as exc:
        assert isinstance(expected, ImageReadError) and str(expected) == str(exc)
    else:
        np.testing.assert_array_equal(expected.raw, before.raw)
