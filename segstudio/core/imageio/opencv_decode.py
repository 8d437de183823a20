"""Decoding through OpenCV where it beats Pillow: 8-bit JPEG/PNG/WebP/BMP and 16-bit PNG.

OpenCV (libjpeg-turbo, libpng, libwebp, as Pillow uses) decodes straight into a NumPy array in
RGB order, where Pillow decodes into its own 4-bytes-a-pixel buffer that NumPy then copies:
an 8k JPEG reads in about half the time. Pillow has already read the header, so it decides what
the file is; OpenCV only ever decodes layouts where both give the same pixels, and returns None
for anything else (palettes, transparent colours, 1-bit, CMYK, several frames) or on any doubt,
so that Pillow decodes it and explains what is wrong with a damaged file. EXIF orientation is
never applied here: read_image applies it, the same way for every decoder.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

_FLAGS = {  # Pillow mode -> OpenCV flags; every read ignores EXIF orientation
    "L": cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION,
    "RGB": cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION,
    "RGBA": cv2.IMREAD_UNCHANGED,  # BGRA, swapped in place below
}
_MODES = {"JPEG": ("L", "RGB"), "PNG": ("L", "RGB", "RGBA"), "WEBP": ("RGB", "RGBA"), "BMP": ("RGB",)}
_ENDINGS = {"JPEG": b"\xff\xd9", "PNG": b"IEND\xaeB`\x82"}  # a file cut short lacks them


def decode_8bit(path: Path, image: Image.Image, png_bit_depth: int) -> np.ndarray | None:
    """H x W[ x C] uint8 pixels of an opened (not loaded) Pillow image, or None to leave it to Pillow."""
    mode = image.mode
    if mode not in _MODES.get(image.format or "", ()) or "transparency" in image.info:
        return None
    if getattr(image, "n_frames", 1) > 1 or (image.format == "PNG" and png_bit_depth != 8):
        return None
    data = np.fromfile(path, np.uint8)  # not cv2.imread: it fails on non-ASCII paths on Windows
    ending = _ENDINGS.get(image.format)
    if ending is not None and data[-len(ending):].tobytes() != ending:
        return None
    array = cv2.imdecode(data, _FLAGS[mode])
    del data
    channels = len(mode)
    if array is None or array.shape[:2] != (image.height, image.width) or (array.ndim == 3) != (channels > 1):
        return None
    if channels == 4:
        if array.shape[2] != 4:
            return None
        cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA, dst=array)
    return array


def decode_png16(path: Path, colour_type: int) -> np.ndarray:
    """16-bit PNG, all 16 bits of colour kept (Pillow cuts them to 8), as grey[+alpha] or RGB[A]."""
    array = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ValueError("damaged PNG data")
    if colour_type == 4 and array.ndim == 3 and array.shape[2] == 4:
        return np.ascontiguousarray(array[:, :, [0, 3]])  # OpenCV widens grey + alpha to BGRA
    if array.ndim == 3 and array.shape[2] >= 3:
        cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB, dst=array)
    return array
