"""Axis-aligned boxes in pixel coordinates.

Every edit, repaint and undo step is described by the box it touched, so that work on a
16k x 16k mask stays proportional to the size of the change, not of the image.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class BBox:
    """Half-open box: rows y0 <= y < y1, columns x0 <= x < x1 (numpy slicing order)."""

    y0: int
    x0: int
    y1: int
    x1: int

    @classmethod
    def from_shape(cls, shape: tuple[int, ...]) -> BBox:
        """The box covering a whole array of this shape (only the first two axes count)."""
        return cls(0, 0, int(shape[0]), int(shape[1]))

    @classmethod
    def from_points(cls, points: Iterable[tuple[float, float]], margin: float = 0.0) -> BBox:
        """Smallest box holding every (x, y) point, grown by `margin` on each side.

        Points are pixel positions, so a point at x = 3.0 covers column 3 and the box ends at 4.
        """
        xs: list[float] = []
        ys: list[float] = []
        for x, y in points:
            xs.append(x)
            ys.append(y)
        if not xs:
            return cls(0, 0, 0, 0)
        return cls(
            math.floor(min(ys) - margin),
            math.floor(min(xs) - margin),
            math.floor(max(ys) + margin) + 1,
            math.floor(max(xs) + margin) + 1,
        )

    @property
    def height(self) -> int:
        return max(0, self.y1 - self.y0)

    @property
    def width(self) -> int:
        return max(0, self.x1 - self.x0)

    @property
    def area(self) -> int:
        return self.height * self.width

    @property
    def is_empty(self) -> bool:
        return self.y1 <= self.y0 or self.x1 <= self.x0

    @property
    def slices(self) -> tuple[slice, slice]:
        """Index a numpy array with `array[box.slices]`; the box must already be clipped."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def union(self, other: BBox | None) -> BBox:
        """Smallest box holding both; an empty box or None adds nothing."""
        if other is None or other.is_empty:
            return self
        if self.is_empty:
            return other
        return BBox(min(self.y0, other.y0), min(self.x0, other.x0), max(self.y1, other.y1), max(self.x1, other.x1))

    def intersect(self, other: BBox) -> BBox:
        """Overlap of the two boxes; possibly empty (then `is_empty` is true)."""
        return BBox(max(self.y0, other.y0), max(self.x0, other.x0), min(self.y1, other.y1), min(self.x1, other.x1))

    def clip(self, shape: tuple[int, ...]) -> BBox:
        """This box cut to an array of `shape`, so `slices` never reach outside it."""
        return self.intersect(BBox.from_shape(shape))

    def grow(self, margin: int) -> BBox:
        return BBox(self.y0 - margin, self.x0 - margin, self.y1 + margin, self.x1 + margin)

    def translate(self, dy: int, dx: int) -> BBox:
        return BBox(self.y0 + dy, self.x0 + dx, self.y1 + dy, self.x1 + dx)

    def contains(self, other: BBox) -> bool:
        return self.y0 <= other.y0 and self.x0 <= other.x0 and self.y1 >= other.y1 and self.x1 >= other.x1


def union_all(boxes: Iterable[BBox | None]) -> BBox | None:
    """Union of every non-empty box, or None when there is none."""
    result: BBox | None = None
    for box in boxes:
        if box is None or box.is_empty:
            continue
        result = box if result is None else result.union(box)
    return result
