"""The canvas layers: each renders a box of one pyramid level as ARGB32 pixels (uint32).

Level k has one pixel per 2**k x 2**k block (the image is area-downsampled once on load, masks
are sampled at the block's top-left pixel when drawn), so a zoomed-out 16k view draws about as many pixels as a zoomed-in
one. Boxes are in the pixel grid of their level. Pure NumPy + OpenCV: the tile cache turns
the results into QImages.
"""

from __future__ import annotations

import mmap

import cv2
import numpy as np

from segstudio.core.geometry import BBox
from segstudio.gui.canvas.colorize import Palette, heatmap_argb32, outline_mask

MIN_LEVEL_SIZE = 512  # stop downsampling once the whole image fits in one tile


def level_count(shape: tuple[int, ...]) -> int:
    levels, size = 1, max(shape[0], shape[1])
    while size > MIN_LEVEL_SIZE:
        size = (size + 1) // 2
        levels += 1
    return levels


def level_shape(shape: tuple[int, ...], level: int) -> tuple[int, int]:
    f = 1 << level
    return (shape[0] + f - 1) // f, (shape[1] + f - 1) // f


def commit_pages(array: np.ndarray) -> None:
    """Write every memory page of `array` once, with the value it holds, so the kernel maps it now.

    Memory from np.zeros is only mapped on its first write, and NumPy asks for transparent huge
    pages on large arrays: the first brush dab into each untouched 2 MB band of a mask waited
    4-10 ms for the kernel to clear it (1 move in 20 of a fit-zoom stroke on a 16k image).
    Paying that once, when the mask is shown, keeps every later edit free of it.
    """
    if not (array.flags.c_contiguous and array.flags.writeable):
        return
    flat = array.reshape(-1)
    pages = flat[:: max(1, mmap.PAGESIZE // array.itemsize)]
    pages[...] = pages.copy()


def to_level(box: BBox, level: int) -> BBox:
    """The level-`level` pixels whose sampled source pixel lies inside the level-0 `box`."""
    f = 1 << level
    return BBox(-(-box.y0 // f), -(-box.x0 // f), -(-box.y1 // f), -(-box.x1 // f))


class ImageLayer:
    """The photo itself, with a precomputed area-averaged pyramid (built once on load).

    A grey picture (H x W or H x W x 1) stays grey in every level and becomes colour only in
    the tile being drawn: a third of the memory and of the pyramid's work of an RGB copy.
    """

    def __init__(self, picture: np.ndarray):
        if picture.ndim == 3 and picture.shape[2] == 1:
            picture = picture.reshape(picture.shape[:2])
        self.shape = picture.shape[:2]
        self._to_bgra = cv2.COLOR_GRAY2BGRA if picture.ndim == 2 else cv2.COLOR_RGB2BGRA
        self.levels = [picture]
        for _ in range(1, level_count(self.shape)):
            prev = self.levels[-1]
            h, w = prev.shape[:2]
            self.levels.append(cv2.resize(prev, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA))

    def render(self, level: int, box: BBox) -> np.ndarray:
        return cv2.cvtColor(self.levels[level][box.slices], self._to_bgra).view(np.uint32)[..., 0]


class LabelLayer:
    """Class colours of a mask and its provenance, read from the document's live arrays.

    A coarse level samples every 2**k-th pixel straight from the full-size arrays: a 512 px
    tile costs a fraction of a millisecond, and there are no level copies to keep in step.
    """

    def __init__(self, label: np.ndarray, source: np.ndarray, palette: Palette, outline: bool = False):
        for array in (label, source):
            commit_pages(array)
        self.shape = label.shape[:2]
        self.label = label
        self.source = source
        self.palette = palette
        self.outline = outline

    @property
    def halo(self) -> int:
        """Outline pixels depend on their neighbours, so an edit recolours one pixel around it."""
        return 1 if self.outline else 0

    def _sample(self, level: int, box: BBox) -> tuple[np.ndarray, np.ndarray]:
        f = 1 << level
        rows, cols = slice(box.y0 * f, box.y1 * f, f), slice(box.x0 * f, box.x1 * f, f)
        return self.label[rows, cols], self.source[rows, cols]

    def render(self, level: int, box: BBox) -> np.ndarray:
        if not self.outline:
            return self.palette.colorize(*self._sample(level, box), (box.y0, box.x0))
        grown = box.grow(1).clip(level_shape(self.shape, level))
        label, source = self._sample(level, grown)
        pixels = self.palette.colorize(label, source, (grown.y0, grown.x0))
        pixels[~outline_mask(label)] = 0
        dy, dx = box.y0 - grown.y0, box.x0 - grown.x0
        return np.ascontiguousarray(pixels[dy : dy + box.height, dx : dx + box.width])


class HeatmapLayer:
    """Model uncertainty (0 = sure, 255 = unsure) as a white veil (see colorize.heatmap_argb32)."""

    def __init__(self, values: np.ndarray):
        self.shape = values.shape[:2]
        self.values = values

    def render(self, level: int, box: BBox) -> np.ndarray:
        f = 1 << level
        return heatmap_argb32(self.values[box.y0 * f : box.y1 * f : f, box.x0 * f : box.x1 * f : f])
