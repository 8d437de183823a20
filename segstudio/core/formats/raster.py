"""How polygon coordinates read from a dataset become pixels: one check, then the peer's own rule.

Every coordinate read from a file passes `bounded_ring` before any rasteriser sees it: NaN and
infinity are refused with a message naming the file, and the ring is clipped (Sutherland-Hodgman,
exact for every pixel of the image) to the image plus a small margin, so 1e9 cannot overflow
int32 or make a scan-line filler walk 2^31 rows.

Rasterisation then follows the reader each format's own tools use, measured in
tests/core/test_formats_peers.py against the peers' code:

- labelme: PIL `ImageDraw.polygon(xy, fill, outline)` on the float coordinates, shapes painted in
  file order, later shapes on top (labelme's `shapes_to_label`). Vertex (x, y) is pixel column x,
  row y; the outline is included.
- YOLO: Ultralytics multiplies the normalised values by the image size and truncates to int32,
  then fills with `cv2.fillPoly`; larger polygons first so smaller ones stay on top
  (`polygons2masks_overlap`). Our exporter writes each vertex at the pixel centre (x + 0.5) / width
  with 8 decimals, so the truncation lands on pixel x whatever the float rounding.
- COCO: pycocotools `frPyObjects` (pixel-edge coordinates), larger annotations first.

All three draw into one int32 label map, one shape at a time, so memory does not grow with the
number of shapes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from segstudio.core.errors import FormatError

CLIP_MARGIN = 4.0
"""Pixels around the image that clipped rings keep (so outlines at the border stay the same)."""


def finite_points(values: object, origin: Path | str, what: str = "shape") -> np.ndarray:
    """(N, 2) float64 x, y, refused with a message naming `origin` when the numbers are malformed
    or not finite."""
    try:
        ring = np.asarray(values, dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError, OverflowError):
        raise FormatError(f"{origin}: {what} has malformed coordinates (expected x, y number pairs)") from None
    if not np.isfinite(ring).all():
        raise FormatError(f"{origin}: {what} has coordinates that are not finite numbers (NaN or infinity)")
    return ring


def near_image(points: np.ndarray, shape: tuple[int, int], origin: Path | str, what: str = "shape") -> np.ndarray:
    """Points of a shape that cannot be clipped (a circle's centre, a line), refused when they lie
    more than one image size outside the image."""
    reach = float(max(shape))
    if len(points) and ((points < -reach).any() or (points > np.array(shape[::-1]) + reach).any()):
        raise FormatError(f"{origin}: {what} has coordinates more than an image size outside the "
                          f"{shape[1]}x{shape[0]} image")
    return points


def bounded_ring(values: object, shape: tuple[int, int], origin: Path | str, what: str = "shape") -> np.ndarray:
    """A polygon's (N, 2) float64 x, y: finite (see finite_points), clipped to the image plus
    CLIP_MARGIN."""
    ring = finite_points(values, origin, what)
    height, width = shape
    low, high = -CLIP_MARGIN, np.array([width, height]) + CLIP_MARGIN
    if len(ring) and ((ring < low).any() or (ring > high).any()):
        ring = _clip(ring, low, high)
    return ring


def _clip(ring: np.ndarray, low: float, high: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman clipping of a ring to the box [low, high] (the box is convex, the ring
    need not be); inside the box the polygon is unchanged."""
    for axis in (0, 1):
        for bound, keep in ((low, np.greater_equal), (high[axis], np.less_equal)):
            if len(ring) == 0:
                return ring
            inside = keep(ring[:, axis], bound)
            if inside.all():
                continue
            previous = np.roll(ring, 1, axis=0)
            previous_inside = np.roll(inside, 1)
            points = []
            for point, prev, now_in, prev_in in zip(ring, previous, inside, previous_inside):
                if now_in != prev_in:
                    t = (bound - prev[axis]) / (point[axis] - prev[axis])
                    crossing = prev + t * (point - prev)
                    crossing[axis] = bound
                    points.append(crossing)
                if now_in:
                    points.append(point)
            ring = np.array(points, dtype=np.float64).reshape(-1, 2)
    return ring


def truncated_mask_area(ring: np.ndarray, shape: tuple[int, int]) -> int:
    """Pixels Ultralytics' rule fills for one ring (drawn in its bounding box only)."""
    points = ring.astype(np.int32)
    x0, y0 = np.maximum(points.min(axis=0), 0)
    x1, y1 = np.minimum(points.max(axis=0), (shape[1] - 1, shape[0] - 1))
    if x1 < x0 or y1 < y0:
        return 0
    patch = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
    cv2.fillPoly(patch, [(points - (x0, y0)).reshape(-1, 1, 2)], 1)
    return int(patch.sum())


def fill_truncated(label: np.ndarray, ring: np.ndarray, value: int) -> None:
    """Ultralytics' rule: truncate to int32, then cv2.fillPoly (in place, into `label`)."""
    cv2.fillPoly(label, [ring.astype(np.int32).reshape(-1, 1, 2)], int(value))
