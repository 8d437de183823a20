"""Reading images from disk into arrays, whatever their bit depth, colour model or orientation.

`read_image` gives two arrays: `raw`, the pixel values as stored (16-bit, float, alpha kept) for
a model's own normalisation, and `picture`, the uint8 picture for the screen: H x W x 1 for grey
images, H x W x 3 RGB for the rest (for 8-bit images the two share memory). Grey stays one
channel up to the canvas's tiles; `display` is the RGB form, made when first asked for (models
trained on ordinary photos, GrabCut, exports). EXIF orientation is applied to all. Qt's reader is never used (it refuses images over 256 MB). Anything
unreadable raises `ImageReadError` with the file and a reason written for a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segstudio.core.errors import ImageReadError
from segstudio.core.imageio import decoders, headers
from segstudio.core.imageio.decoders import MAX_PIXELS, ImageInfo
from segstudio.core.imageio.display import adjustable, apply_orientation, as_rgb, to_display, to_picture

HEAD_BYTES = 1 << 16
"""Bytes read for a header: enough for the chunks / segments before the image data of nearly every file."""

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})


@dataclass
class LoadedImage:
    path: Path
    picture: np.ndarray  # what the screen shows, uint8: H x W x 1 grey or H x W x 3 RGB (display.to_picture)
    raw: np.ndarray  # H x W x C, the stored values and dtype
    notes: list[str] = field(default_factory=list)  # what was done to show it, for the person
    alpha: bool | None = None  # whether the last of 2 or 4 channels is transparency; None: by the count
    _rgb: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def display(self) -> np.ndarray:
        """H x W x 3 uint8 RGB: the picture, a grey one made RGB when first asked for (and kept)."""
        if self._rgb is None:
            self._rgb = as_rgb(self.picture)
        return self._rgb

    def picture_with(self, limits: tuple[float, float] | None) -> np.ndarray:
        """The picture with chosen display limits: its own when none are chosen or when limits
        mean nothing for it (an 8-bit colour photo, `display.adjustable`)."""
        if limits is None or not adjustable(self.raw):
            return self.picture
        return to_picture(self.raw, limits=limits, alpha=self.alpha)

    @property
    def height(self) -> int:
        return self.picture.shape[0]

    @property
    def width(self) -> int:
        return self.picture.shape[1]


def probe_image(path: str | Path, head: bytes | None = None) -> ImageInfo:
    """Size (upright), channels, dtype and format from the header; the pixels are not decoded.

    Plain PNG and JPEG headers are parsed directly (`headers.sniff`), the rest by Pillow or
    tifffile. `head`: the file's first bytes (or all of them) when the caller has read them
    already, as `add` has for hashing; the file is then not checked or read again for them.
    """
    if head is None:
        path = decoders.check_file(path)
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
    path = path if isinstance(path, Path) else Path(path)
    if not head:
        raise ImageReadError(path, "the file is empty (0 bytes)")
    info, orientation = headers.sniff(head), 1
    if info is None:
        try:
            tiff = head[:4] in decoders.TIFF_MAGICS
            info, orientation = decoders.probe_tiff(path) if tiff else decoders.probe_pil(path)
        except ImageReadError:
            raise
        except Exception as exc:  # every decoder failure becomes the same typed, explained error
            raise ImageReadError(path, decoders.reason(exc, path)) from exc
    decoders.check_size(path, info.width, info.height)
    if orientation in (5, 6, 7, 8):  # read_image turns these by 90 degrees
        info = ImageInfo(info.height, info.width, info.channels, info.dtype, info.format, info.pages)
    return info


def read_image(path: str | Path) -> LoadedImage:
    """Decode the first page of an image, upright; see the module docstring."""
    path = decoders.check_file(path)
    notes: list[str] = []
    try:
        read = decoders.read_tiff if decoders.is_tiff(path) else decoders.read_pil
        raw, orientation, alpha = read(path, notes)
    except ImageReadError:
        raise
    except Exception as exc:
        raise ImageReadError(path, decoders.reason(exc, path)) from exc
    if raw.ndim == 2:
        raw = raw[:, :, None]
    if raw.size == 0:
        raise ImageReadError(path, "the image has no pixels")
    raw = np.ascontiguousarray(apply_orientation(raw, orientation))
    if orientation != 1:
        notes.append(f"turned upright from EXIF orientation {orientation}")
    return LoadedImage(path, to_picture(raw, notes, alpha=alpha), raw, notes, alpha)


__all__ = [
    "IMAGE_EXTENSIONS", "MAX_PIXELS", "ImageInfo", "ImageReadError", "LoadedImage", "apply_orientation", "as_rgb",
    "probe_image", "read_image", "to_display", "to_picture",
]
