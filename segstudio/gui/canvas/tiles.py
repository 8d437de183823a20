"""Tiles of one canvas layer as QImages: made on first draw, patched in place after an edit.

Each tile keeps a NumPy view of its QImage's pixels, so recolouring the few pixels a brush dab
changed is a slice assignment, whatever the image size. A byte budget bounds the
memory; the least recently drawn tiles go first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Protocol

import numpy as np
from PySide6.QtGui import QImage

from segstudio.core.geometry import BBox
from segstudio.gui.canvas.layers import level_count, level_shape, to_level

TILE = 512
DEFAULT_BUDGET = 256 * 2**20


class Layer(Protocol):
    shape: tuple[int, int]

    def render(self, level: int, box: BBox) -> np.ndarray:
        """ARGB32 pixels (uint32, shape of `box`) of a box of pyramid level `level`."""


class TileCache:
    def __init__(
        self,
        layer: Layer,
        image_format: QImage.Format = QImage.Format.Format_ARGB32_Premultiplied,
        budget_bytes: int = DEFAULT_BUDGET,
    ):
        self.layer = layer
        self.image_format = image_format
        self.levels = level_count(layer.shape)
        self.budget_bytes = budget_bytes
        self._tiles: OrderedDict[tuple[int, int, int], tuple[np.ndarray, QImage]] = OrderedDict()
        self._bytes = 0
        self._count = [0] * self.levels  # cached tiles per level: edits skip empty levels

    def tile_box(self, level: int, ty: int, tx: int) -> BBox:
        return BBox(ty * TILE, tx * TILE, (ty + 1) * TILE, (tx + 1) * TILE).clip(level_shape(self.layer.shape, level))

    def tiles_in(self, level: int, box: BBox) -> Iterator[tuple[int, int]]:
        """(ty, tx) of every tile of `level` that overlaps `box` (level pixels)."""
        box = box.clip(level_shape(self.layer.shape, level))
        if box.is_empty:
            return
        for ty in range(box.y0 // TILE, (box.y1 - 1) // TILE + 1):
            for tx in range(box.x0 // TILE, (box.x1 - 1) // TILE + 1):
                yield ty, tx

    def has(self, level: int, ty: int, tx: int) -> bool:
        return (level, ty, tx) in self._tiles

    def tile(self, level: int, ty: int, tx: int) -> QImage:
        key = (level, ty, tx)
        entry = self._tiles.get(key)
        if entry is not None:
            self._tiles.move_to_end(key)
            return entry[1]
        box = self.tile_box(level, ty, tx)
        image = QImage(box.width, box.height, self.image_format)
        # A NumPy view of the QImage's own pixels (32-bit rows need no padding): Qt owns the
        # memory, and an edit recolours the tile by writing through the view.
        pixels = np.frombuffer(image.bits(), np.uint32).reshape(box.height, box.width)
        pixels[...] = self.layer.render(level, box)
        self._tiles[key] = (pixels, image)
        self._bytes += pixels.nbytes
        self._count[level] += 1
        while self._bytes > self.budget_bytes and len(self._tiles) > 1:
            self._drop(next(iter(self._tiles)))
        return image

    def _drop(self, key: tuple[int, int, int]) -> None:
        pixels, _ = self._tiles.pop(key)
        self._bytes -= pixels.nbytes
        self._count[key[0]] -= 1

    def refresh(self, box: BBox, shown_level: int | None = None) -> None:
        """The level-0 `box` changed: re-render it in the cached tiles of `shown_level` (all
        levels when None) and drop the other levels' cached tiles it reaches.

        Patching only what is on screen keeps a long stroke on a zoomed-out 16k view cheap;
        a dropped tile is made again when its level is drawn. A layer whose pixels depend on
        their neighbours (outlines) declares a `halo`.
        """
        halo = getattr(self.layer, "halo", 0)
        for level in range(self.levels):
            if not self._count[level]:
                continue
            lbox = to_level(box, level).grow(halo).clip(level_shape(self.layer.shape, level))
            if lbox.is_empty:
                continue
            for ty, tx in self.tiles_in(level, lbox):
                key = (level, ty, tx)
                entry = self._tiles.get(key)
                if entry is None:
                    continue
                if shown_level is not None and level != shown_level:
                    self._drop(key)
                    continue
                tile_box = self.tile_box(level, ty, tx)
                part = lbox.intersect(tile_box)
                entry[0][part.translate(-tile_box.y0, -tile_box.x0).slices] = self.layer.render(level, part)

    def clear(self) -> None:
        self._tiles.clear()
        self._bytes = 0
        self._count = [0] * self.levels

    @property
    def nbytes(self) -> int:
        return self._bytes
