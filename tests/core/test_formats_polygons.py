"""Masks -> polygons -> masks: exact in the pixel-centre convention, holes included."""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from segstudio.core.formats.polygons import PolygonShape, class_regions, label_regions, paint_polygons


def _rebuild(label: np.ndarray, class_ids) -> np.ndarray:
    regions = label_regions(label, class_ids)
    shapes = [PolygonShape(r.class_id, r.keyhole().astype(float)) for r in regions]
    return paint_polygons(label.shape, shapes)


def test_ring_with_a_hole_holding_another_class_comes_back_exactly():
    label = np.zeros((80, 90), np.uint8)
    cv2.circle(label, (45, 40), 30, 1, -1)
    cv2.circle(label, (45, 40), 12, 2, -1)
    cv2.circle(label, (45, 40), 4, 0, -1)
    (ring,) = class_regions(label, 1)
    assert len(ring.holes) == 1 and ring.area == int((label == 1).sum())
    np.testing.assert_array_equal(_rebuild(label, [0, 1, 2]), label.astype(np.int32))


def test_unlabelled_holes_stay_empty_the_cut_runs_through_the_region_itself():
    label = np.full((60, 60), 255, np.uint8)
    label[10:50, 10:50] = 1
    label[25:35, 25:35] = 255
    label[14:18, 40:44] = 255
    (region,) = class_regions(label, 1)
    assert len(region.holes) == 2
    np.testing.assert_array_equal(_rebuild(label, [1]), np.where(label == 255, -1, label.astype(np.int32)))


def test_single_pixels_and_thin_lines_are_regions_too():
    label = np.zeros((20, 20), np.uint8)
    label[3, 3] = 1
    label[10, 2:15] = 1
    assert len(class_regions(label, 1)) == 2
    np.testing.assert_array_equal(_rebuild(label, [0, 1]), label.astype(np.int32))


def test_smaller_shape_wins_where_shapes_overlap_whatever_the_order():
    big = PolygonShape(0, np.array([[0, 0], [19, 0], [19, 19], [0, 19]], float))
    small = PolygonShape(1, np.array([[5, 5], [9, 5], [9, 9], [5, 9]], float))
    for shapes in ([big, small], [small, big]):
        label = paint_polygons((20, 20), shapes)
        assert (label == 1).sum() == 25 and (label == 0).sum() == 375


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_random_blobs_round_trip_with_iou_of_at_least_098_per_class(seed):
    rng = np.random.default_rng(seed)
    label = np.zeros((48, 48), np.uint8)
    for _ in range(4):
        cls = int(rng.integers(1, 3))
        center = tuple(int(v) for v in rng.integers(4, 44, size=2))
        cv2.circle(label, center, int(rng.integers(3, 14)), cls, -1)
    rebuilt = _rebuild(label, [0, 1, 2])
    for cls in (0, 1, 2):
        a, b = label == cls, rebuilt == cls
        if a.any():
            assert (a & b).sum() / (a | b).sum() >= 0.98
