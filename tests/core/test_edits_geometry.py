"""BBox: the half-open box every edit, repaint and undo step is described by."""

from __future__ import annotations

import numpy as np

from segstudio.core.geometry import BBox, union_all


def test_slices_index_exactly_the_box():
    array = np.zeros((10, 20), np.uint8)
    box = BBox(2, 3, 5, 9)
    array[box.slices] = 1
    assert array.sum() == box.area == 3 * 6
    assert array[2, 3] == 1 and array[4, 8] == 1 and array[5, 8] == 0 and array[4, 9] == 0


def test_union_and_intersect():
    a, b = BBox(0, 0, 4, 4), BBox(2, 3, 10, 6)
    assert a.union(b) == BBox(0, 0, 10, 6)
    assert a.intersect(b) == BBox(2, 3, 4, 4)
    assert a.intersect(BBox(5, 5, 6, 6)).is_empty
    assert a.union(BBox(3, 3, 3, 3)) == a and BBox(1, 1, 1, 1).union(a) == a
    assert union_all([None, BBox(1, 1, 1, 9), a, b]) == BBox(0, 0, 10, 6)
    assert union_all([None]) is None


def test_clip_keeps_slices_inside_the_array():
    box = BBox(-5, -2, 30, 8).clip((20, 6))
    assert box == BBox(0, 0, 20, 6)
    assert BBox(25, 0, 30, 4).clip((20, 6)).is_empty
    assert BBox(25, 0, 30, 4).clip((20, 6)).area == 0


def test_from_points_covers_each_pixel_and_margin():
    box = BBox.from_points([(3.0, 7.0), (5.5, 2.2)], margin=1)
    # x from floor(3-1)=2 to floor(5.5+1)+1=7; y from floor(2.2-1)=1 to floor(7+1)+1=9
    assert box == BBox(1, 2, 9, 7)
    assert BBox.from_points([]).is_empty
    assert BBox.from_points([(0, 0)]) == BBox(0, 0, 1, 1)
