"""Shapes of edits: which pixels a brush segment, a polygon or a fill covers.

Each function returns `(box, mask)`: a box clipped to the image and a boolean mask of the box's
size, or None when nothing is covered. They only look at the pixels inside the box they need,
so their cost follows the size of the shape, not of the image. `MaskDocument` writes the values.

Coordinates: x, y are image positions in pixels; pixel (row i, column j) covers
[j, j + 1) x [i, i + 1), so the pixel under a point is (floor(y), floor(x)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from segstudio.core.geometry import BBox

Region = tuple[BBox, np.ndarray]
Point = tuple[float, float]

# A long segment (a fast mouse on a zoomed-out view) is split so each piece works on a small box.
_MAX_PIECE = 64
# cv2 drawing takes fixed-point coordinates with this many fractional bits.
_SHIFT = 4
_GRABCUT_DITHER = 2.0


def pixel_of(x: float, y: float) -> tuple[int, int]:
    """(row, column) of the pixel under the image position (x, y)."""
    return math.floor(y), math.floor(x)


def inside(shape: tuple[int, ...], x: float, y: float) -> bool:
    row, col = pixel_of(x, y)
    return 0 <= row < shape[0] and 0 <= col < shape[1]


def stroke_pieces(p0: Point, p1: Point, radius: float) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The pixel segments a brush move from p0 to p1 is painted as, each short enough to be cheap."""
    r0, c0 = pixel_of(*p0)
    r1, c1 = pixel_of(*p1)
    length = math.hypot(r1 - r0, c1 - c0)
    count = max(1, math.ceil(length / max(_MAX_PIECE, 2 * radius)))
    points = [
        (round(r0 + (r1 - r0) * i / count), round(c0 + (c1 - c0) * i / count)) for i in range(count + 1)
    ]
    return list(zip(points[:-1], points[1:]))


def capsule(shape: tuple[int, ...], a: tuple[int, int], b: tuple[int, int], radius: float) -> Region | None:
    """Pixels whose centres lie within radius + 0.5 of the pixel segment a-b (row, column).

    Radius 0 is a one-pixel line that still leaves no gap; radius r is a disc 2r + 1 wide, so a
    stroke painted as consecutive capsules is as round and as gap-free as a stamped disc.
    """
    reach = max(0.0, float(radius)) + 0.5
    margin = math.ceil(reach)
    box = BBox(min(a[0], b[0]) - margin, min(a[1], b[1]) - margin,
               max(a[0], b[0]) + margin + 1, max(a[1], b[1]) + margin + 1).clip(shape)
    if box.is_empty:
        return None
    rows = np.arange(box.y0, box.y1, dtype=np.float32)[:, None] - a[0]
    cols = np.arange(box.x0, box.x1, dtype=np.float32)[None, :] - a[1]
    dr, dc = float(b[0] - a[0]), float(b[1] - a[1])
    length2 = dr * dr + dc * dc
    if length2 == 0.0:
        dist2 = rows * rows + cols * cols
    else:
        t = np.clip((rows * dr + cols * dc) / length2, 0.0, 1.0)
        dist2 = (rows - t * dr) ** 2 + (cols - t * dc) ** 2
    mask = dist2 <= reach * reach
    return (box, mask) if mask.any() else None


def polygon(shape: tuple[int, ...], points: Sequence[Point]) -> Region | None:
    """Pixels whose centres lie inside or on the polygon's outline (also used for lasso paths).

    A vertex clicked on a pixel includes that pixel, as a person expects.
    """
    if len(points) < 3:
        return None
    box = BBox.from_points(points, margin=1).clip(shape)
    if box.is_empty:
        return None
    # Pixel centres sit at integer + 0.5; shift so that the box's first centre is at 0.
    scale = 1 << _SHIFT
    vertices = np.array(
        [[(x - 0.5 - box.x0) * scale, (y - 0.5 - box.y0) * scale] for x, y in points]
    ).round().astype(np.int32)
    canvas = np.zeros((box.height, box.width), np.uint8)
    cv2.fillPoly(canvas, [vertices], 1, lineType=cv2.LINE_8, shift=_SHIFT)
    mask = canvas.astype(bool)
    return (box, mask) if mask.any() else None


def connected_same_value(array: np.ndarray, x: float, y: float, within: np.ndarray | None = None) -> Region | None:
    """The 4-connected region of pixels equal to the one under (x, y).

    `within` (a boolean array of the image's shape) further limits the region, e.g. to
    proposal pixels. OpenCV's flood fill does the walk; only the region's box is returned.
    """
    if not inside(array.shape, x, y):
        return None
    row, col = pixel_of(x, y)
    if within is not None and not within[row, col]:
        return None
    if within is None and array.dtype == np.uint8:
        return _flood_equal(array, row, col)  # floods the labels themselves, no image-sized copy
    same = array == array[row, col]
    if within is not None:
        same &= within
    return _flood_equal(same.view(np.uint8), row, col)


def color_region(image: np.ndarray, x: float, y: float, tolerance: float) -> Region | None:
    """Magic wand: 4-connected pixels whose colour is within `tolerance` of the clicked one."""
    if not inside(image.shape, x, y):
        return None
    row, col = pixel_of(x, y)
    image = np.ascontiguousarray(image)
    if not image.flags.writeable:  # OpenCV refuses read-only arrays even when it only reads
        image = image.copy()
    if image.ndim == 3 and image.shape[2] == 4:
        image = np.ascontiguousarray(image[:, :, :3])
    height, width = image.shape[:2]
    mask = np.zeros((height + 2, width + 2), np.uint8)
    tol = (float(tolerance),) * 3
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    _, _, _, rect = cv2.floodFill(image, mask, (col, row), 0, tol, tol, flags)
    return _region_from_rect(mask, rect)


def grabcut(image: np.ndarray, box: BBox, *, margin: int = 16, iterations: int = 3, max_side: int = 400) -> Region | None:
    """Foreground of OpenCV's GrabCut inside `box`, computed on the box plus a margin.

    The crop is scaled down to at most `max_side` pixels per side first, so a large box still
    answers in well under a second; the mask is scaled back up to the box. A faint fixed noise
    (sigma 2 grey levels, invisible) is added first: on perfectly flat colour, such as clipped
    white, GrabCut's graph cut degenerates and can run for minutes.
    """
    box = box.clip(image.shape)
    if box.height < 2 or box.width < 2:
        return None
    crop_box = box.grow(margin).clip(image.shape)
    crop = np.ascontiguousarray(image[crop_box.slices][:, :, :3])
    if crop.shape[2] == 1:  # a grey picture (to_picture): GrabCut models colour, so grey as RGB
        crop = cv2.cvtColor(crop.reshape(crop.shape[:2]), cv2.COLOR_GRAY2RGB)
    scale = min(1.0, max_side / max(crop.shape[:2]))
    if scale < 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    noise = np.random.default_rng(0).normal(0.0, _GRABCUT_DITHER, crop.shape)
    crop = np.clip(crop + noise, 0, 255).astype(np.uint8)
    inner = box.translate(-crop_box.y0, -crop_box.x0)
    rect = (
        int(inner.x0 * scale), int(inner.y0 * scale),
        max(1, int(inner.width * scale)), max(1, int(inner.height * scale)),
    )
    gc_mask = np.zeros(crop.shape[:2], np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(crop, gc_mask, rect, bgd, fgd, iterations, cv2.GC_INIT_WITH_RECT)
    except cv2.error:
        return None  # too little texture to model (e.g. a flat box): nothing to cut
    foreground = ((gc_mask == cv2.GC_FGD) | (gc_mask == cv2.GC_PR_FGD)).astype(np.uint8)
    if scale < 1.0:
        foreground = cv2.resize(foreground, (crop_box.width, crop_box.height), interpolation=cv2.INTER_NEAREST)
    mask = foreground[inner.slices].astype(bool)
    return (box, mask) if mask.any() else None


def _flood_equal(values: np.ndarray, row: int, col: int) -> Region | None:
    """4-connected pixels of a uint8 array equal to the one at (row, col)."""
    height, width = values.shape
    mask = np.zeros((height + 2, width + 2), np.uint8)
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    _, _, _, rect = cv2.floodFill(np.ascontiguousarray(values), mask, (col, row), 0, 0, 0, flags)
    return _region_from_rect(mask, rect)


def _region_from_rect(padded_mask: np.ndarray, rect: tuple[int, int, int, int]) -> Region | None:
    x, y, w, h = rect
    if w <= 0 or h <= 0:
        return None
    box = BBox(y, x, y + h, x + w)
    return box, padded_mask[y + 1 : y + 1 + h, x + 1 : x + 1 + w].astype(bool)
