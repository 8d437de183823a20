"""Masks -> polygons -> masks: exact in the pixel-centre convention, holes included."""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from segstudio.core.formats.polygons import class_regions, label_regions
from segstudio.core.formats.raster import fill_truncated


def _rebuild(label: np.ndarray, class_ids) -> np.ndarray:
    """Draw the regions' keyhole rings in the order exporters list them (largest first)."""
    rebuilt = np.full(label.shape, -1, dtype=np.int32)
    for region in label_regions(label, class_ids):
        fill_truncated(rebuilt, region.keyhole().astype(float), region.class_id)
    return rebuilt


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


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_random_blobs_round_trip_exactly(seed):
    rng = np.random.default_rng(seed)
    label = np.zeros((48, 48), np.uint8)
    for _ in range(4):
        cls = int(rng.integers(1, 3))
        center = tuple(int(v) for v in rng.integers(4, 44, size=2))
        cv2.circle(label, center, int(rng.integers(3, 14)), cls, -1)
    np.testing.assert_array_equal(_rebuild(label, [0, 1, 2]), label.astype(np.int32))
