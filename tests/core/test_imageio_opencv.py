"""The OpenCV fast path gives exactly Pillow's pixels, and leaves everything else to Pillow."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from segstudio.core.errors import ImageReadError
from segstudio.core.imageio import read_image, to_display
from segstudio.core.imageio.decoders import open_pil
from segstudio.core.imageio.opencv_decode import decode_8bit
from tests.data_makers.awkward_images import gradient


def picture(channels: int) -> np.ndarray:
    """Odd-sized (67 x 45, so JPEG's 4:2:0 has half blocks at the edges) with noise, not flat."""
    noise = np.random.default_rng(channels).integers(0, 40, (45, 67, channels), dtype=np.uint8)
    array = gradient(45, 67, channels) // 2 + noise
    return array[:, :, 0] if channels == 1 else array


def encoded(array: np.ndarray, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **options)
    return buffer.getvalue()


FAST = {
    "rgb.jpg": (picture(3), "JPEG", {"quality": 90}),  # 4:2:0, Pillow's default
    "rgb444.jpg": (picture(3), "JPEG", {"quality": 95, "subsampling": 0}),
    "grey.jpg": (picture(1), "JPEG", {}),
    "rgb.png": (picture(3), "PNG", {}),
    "rgba.png": (picture(4), "PNG", {}),
    "grey.png": (picture(1), "PNG", {}),
    "lossy.webp": (picture(3), "WEBP", {"quality": 80}),
    "lossless_rgba.webp": (picture(4), "WEBP", {"lossless": True}),
    "rgb.bmp": (picture(3), "BMP", {}),
}


@pytest.mark.parametrize("name", sorted(FAST))
def test_opencv_decodes_the_common_layouts_exactly_as_pillow(tmp_path, name):
    array, fmt, options = FAST[name]
    path = tmp_path / f"ünïcødé {name}"  # np.fromfile + imdecode: non-ASCII names work everywhere
    path.write_bytes(encoded(array, fmt, **options))
    with open_pil(path) as image:
        fast = decode_8bit(path, image, png_bit_depth=8)
        assert fast is not None, "this layout should take the fast path"
    with Image.open(path) as image:
        reference = np.asarray(image)
    assert fast.dtype == np.uint8 and np.array_equal(fast, reference)
    loaded = read_image(path)
    assert np.array_equal(loaded.raw.reshape(reference.shape), reference)
    assert loaded.raw.flags.writeable and loaded.display.flags.writeable


def test_awkward_layouts_are_left_to_pillow(tmp_path):
    rgb = picture(3)
    files = {
        "palette.png": _save(Image.fromarray(rgb).convert("P"), "PNG"),
        "transparent.png": _save(Image.fromarray(rgb), "PNG", transparency=(1, 2, 3)),
        "bilevel.png": _save(Image.fromarray(rgb[:, :, 0]).convert("1"), "PNG"),
        "cmyk.jpg": _save(Image.fromarray(rgb).convert("CMYK"), "JPEG"),
        "grey_alpha.png": _save(Image.fromarray(rgb[:, :, :2], "LA"), "PNG"),
    }
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        with open_pil(path) as image:
            assert decode_8bit(path, image, png_bit_depth=1 if name == "bilevel.png" else 8) is None, name
        assert read_image(path).display.shape == (45, 67, 3)


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["rgb.jpg", "rgb.png"])
def test_a_file_cut_short_still_says_truncated(tmp_path, name):
    array, fmt, options = FAST[name]
    data = encoded(array, fmt, **options)
    path = tmp_path / name
    path.write_bytes(data[: len(data) * 3 // 4])
    with open_pil(path) as image:
        assert decode_8bit(path, image, png_bit_depth=8) is None
    with pytest.raises(ImageReadError, match="truncated"):
        read_image(path)


def test_16_bit_and_wide_ints_give_the_same_picture_and_grey_becomes_rgb(tmp_path):
    values = np.random.default_rng(5).integers(300, 60000, (50, 70, 1)).astype(np.uint16)
    values[0, 0] = 65535  # a hot pixel, clipped to white
    display = to_display(values)
    plain = to_display(values.astype(np.int32))  # ints wider than 16 bits take the arithmetic path
    assert np.array_equal(display, plain)
    assert display.shape == (50, 70, 3) and (display[:, :, 0] == display[:, :, 2]).all()
    assert display[0, 0, 0] == 255 and display.min() == 0
