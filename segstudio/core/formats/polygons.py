"""Masks to polygons and back, in the pixel-centre convention that labelme, Cityscapes and YOLO use.

A polygon vertex (x, y) is the centre of pixel column x, row y, and a rasterised polygon includes
its outline (what cv2.fillPoly and PIL's ImageDraw.polygon do). In that convention the contour
that cv2.findContours traces around a region fills back to exactly that region.

Holes: most polygon formats (labelme, YOLO, Cityscapes' _polygons.json) hold one ring per shape.
A region with holes is written as one "keyhole" ring: each hole is spliced into the outer ring
through a zero-width cut from its nearest outer vertex. Every reader fills such a ring with the
holes empty (under both the even-odd and the non-zero rule); only the pixels under the cut are
filled, and those are repainted by whatever region lies inside the hole, because exporters list
regions largest first and readers paint in that order or by area (see raster.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np


_MAX_CANDIDATES = 1500  # vertices compared per ring when choosing a cut (memory stays ~18 MB)


@dataclass(frozen=True)
class Region:
    """One 8-connected region of one class: its outer ring, its holes, its pixel count."""

    class_id: int
    outer: np.ndarray  # (N, 2) int32 x, y
    holes: tuple[np.ndarray, ...]
    area: int

    def keyhole(self) -> np.ndarray:
        """The outer ring with every hole spliced in: one ring for one-ring formats."""
        ring = self.outer
        for hole in self.holes:
            ring = _splice(ring, hole)
        return ring


def class_regions(label: np.ndarray, class_id: int) -> list[Region]:
    """The connected regions of one class, largest first."""
    binary = (label == class_id).astype(np.uint8)
    if not binary.any():
        return []
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    hierarchy = hierarchy[0]
    count, components = cv2.connectedComponents(binary, connectivity=8)
    areas = np.bincount(components.ravel(), minlength=count)
    regions = []
    for index, contour in enumerate(contours):
        if hierarchy[index][3] != -1:  # a hole; collected with its parent below
            continue
        holes = []
        child = hierarchy[index][2]
        while child != -1:
            holes.append(contours[child].reshape(-1, 2))
            child = hierarchy[child][0]
        outer = contour.reshape(-1, 2)
        x, y = outer[0]
        regions.append(Region(class_id, outer, tuple(holes), int(areas[components[y, x]])))
    regions.sort(key=lambda region: -region.area)
    return regions


def label_regions(label: np.ndarray, class_ids: Iterable[int]) -> list[Region]:
    """All regions of the given classes, largest first (the order readers should paint them)."""
    regions = [region for class_id in class_ids for region in class_regions(label, class_id)]
    regions.sort(key=lambda region: -region.area)
    return regions


def ring_points(ring: np.ndarray) -> list[list[int]]:
    """A ring as [[x, y], ...], padded to three points: a one-pixel region still is a polygon."""
    points = ring.reshape(-1, 2).tolist()
    while len(points) < 3:
        points.append(points[-1])
    return points


def _splice(ring: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Join a hole into a ring through its closest pair of vertices (there and back)."""
    ring_step = max(1, len(ring) // _MAX_CANDIDATES)
    hole_step = max(1, len(hole) // _MAX_CANDIDATES)
    a = ring[::ring_step].astype(np.int64)
    b = hole[::hole_step].astype(np.int64)
    distances = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
    i, j = np.unravel_index(int(np.argmin(distances)), distances.shape)
    i, j = int(i) * ring_step, int(j) * hole_step
    hole_loop = np.concatenate([hole[j:], hole[: j + 1]])
    return np.concatenate([ring[: i + 1], hole_loop, ring[i:]])
