"""MaskDocument operations: what each edit writes, what it leaves alone, and how it is undone."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segstudio.core.document import MaskDocument
from segstudio.core.geometry import BBox

UNLABELLED = 255


def blank(height=64, width=64, **kwargs) -> MaskDocument:
    return MaskDocument(
        1, np.full((height, width), UNLABELLED, np.uint8), np.zeros((height, width), np.uint8), **kwargs
    )


def test_a_dab_is_a_round_disc_2r_plus_1_wide_of_human_pixels():
    doc = blank()
    doc.paint_segment((20.5, 30.5), (20.5, 30.5), 5, 2)
    rows, cols = np.nonzero(doc.label == 2)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (25, 35, 15, 25)
    assert doc.label[25, 15] == UNLABELLED  # corners of the box are outside the disc
    assert np.array_equal(doc.source == 3, doc.label == 2)


@pytest.mark.parametrize("radius", [0, 1, 6])
def test_a_fast_stroke_leaves_no_gap(radius):
    doc = blank(200, 400)
    doc.paint_segment((3.2, 5.7), (390.9, 181.1), radius, 1)
    painted = doc.label == 1
    for col in range(3, 391):  # every column the stroke crosses holds painted pixels
        assert painted[:, col].any(), col
    count, _ = cv2.connectedComponents(painted.astype(np.uint8), connectivity=8)
    assert count == 2  # background + one stroke


def test_eraser_returns_pixels_to_unlabelled_without_source():
    doc = blank()
    doc.paint_segment((10, 10), (50, 10), 4, 3)
    doc.erase_segment((30, 0), (30, 63), 2)
    assert doc.label[10, 30] == UNLABELLED and doc.source[10, 30] == 0
    assert doc.label[10, 15] == 3 and doc.source[10, 15] == 3


def test_eraser_on_a_uint16_label_map_uses_65535():
    doc = MaskDocument(1, np.zeros((20, 20), np.uint16), np.full((20, 20), 3, np.uint8))
    doc.erase_segment((10, 10), (10, 10), 1)
    assert doc.label[10, 10] == 65535 and doc.source[10, 10] == 0
    assert doc.unlabelled == 65535


def test_flood_fill_is_4_connected_and_same_label_only():
    doc = blank(10, 10)
    doc.label[:] = 0
    doc.label[5, :] = 1  # a wall across the image
    doc.label[4, 4] = 1  # an island of another label inside the filled side
    doc.label[6, 3] = 7
    doc.flood_fill(0.5, 0.5, 4)
    assert (doc.label[:5][doc.label[:5] != 1] == 4).all()
    assert (doc.label[6:][doc.label[6:] != 7] == 0).all()  # across the wall: untouched
    assert doc.label[6, 3] == 7 and doc.label[4, 4] == 1
    assert doc.source[0, 0] == 3 and doc.source[9, 9] == 0


def test_flood_fill_does_not_leak_through_diagonal_gaps():
    doc = blank(4, 4)
    doc.label[:] = 0
    doc.label[0, 1] = doc.label[1, 0] = 1  # pixel (0, 0) touches the rest only diagonally
    doc.flood_fill(0.5, 0.5, 9)
    assert doc.label[0, 0] == 9 and (doc.label == 9).sum() == 1


def test_polygon_fills_the_clicked_pixels_and_everything_between():
    doc = blank(20, 20)
    # Vertices on the centres of pixels (row 3, col 2) ... (row 7, col 8): those pixels are in.
    doc.fill_polygon([(2.5, 3.5), (8.5, 3.5), (8.5, 7.5), (2.5, 7.5)], 5)
    expected = np.zeros((20, 20), bool)
    expected[3:8, 2:9] = True
    assert np.array_equal(doc.label == 5, expected)


def test_apply_proposal_only_touches_undecided_pixels():
    doc = blank(4, 4)
    doc.source[0, :] = [0, 1, 2, 3]
    doc.label[0, :] = [UNLABELLED, 6, 6, 6]
    proposal = np.full((4, 4), 8, np.uint8)
    doc.apply_proposal(proposal)
    assert list(doc.label[0]) == [8, 8, 6, 6]
    assert list(doc.source[0]) == [1, 1, 2, 3]
    assert doc.undo_name == "proposal"


def test_apply_proposal_in_a_region_and_accept_in_a_box():
    doc = blank(8, 8)
    region = np.zeros((8, 8), bool)
    region[:, :4] = True
    doc.apply_proposal(np.full((8, 8), 2, np.uint8), region)
    assert (doc.source[:, :4] == 1).all() and (doc.source[:, 4:] == 0).all()
    doc.accept_proposals(BBox(0, 0, 4, 8))
    assert (doc.source[:4, :4] == 2).all() and (doc.source[4:, :4] == 1).all()
    doc.accept_proposals()
    assert (doc.source[:, :4] == 2).all() and (doc.label[:, :4] == 2).all()


def test_apply_proposal_rejects_a_map_of_another_size_or_kind():
    with pytest.raises(ValueError, match="does not match"):
        blank(8, 8).apply_proposal(np.zeros((8, 9), np.uint8))
    with pytest.raises(ValueError, match="class ids"):
        blank(8, 8).apply_proposal(np.full((8, 8), 300, np.int64))  # would wrap around in uint8
    with pytest.raises(ValueError, match="class ids"):
        blank(8, 8).apply_proposal(np.zeros((8, 8), np.float32))


def test_clear_is_one_undoable_step():
    doc = blank()
    doc.paint_segment((5, 5), (60, 60), 3, 1)
    doc.clear()
    assert (doc.label == UNLABELLED).all() and not doc.source.any()
    doc.undo()
    assert (doc.label == 1).sum() > 100


def test_one_stroke_is_one_step_with_one_commit_and_a_repaint_per_dab():
    doc = blank()
    repaints, commits = [], []
    doc.add_change_listener(repaints.append)
    doc.add_commit_listener(lambda box, label, source: commits.append((box, label.copy(), source.copy())))
    doc.begin_step("brush")
    points = [(5, 5), (10, 8), (20, 30), (40, 41)]
    for p0, p1 in zip(points[:1] + points[:-1], points):
        doc.paint_segment(p0, p1, 2, 1)
    assert len(repaints) == 4 and not commits
    box = doc.end_step()
    assert len(commits) == 1 and commits[0][0] == box
    assert np.array_equal(commits[0][1], doc.label[box.slices])
    revision = doc.revision
    assert doc.undo() == box and not (doc.label == 1).any()
    assert doc.revision > revision and len(commits) == 2 and not doc.can_undo and doc.can_redo
    doc.redo()
    assert (doc.label == 1).sum() > 50 and doc.can_undo and not doc.can_redo


def test_commit_patches_are_read_only_views():
    doc = blank()
    seen = []
    doc.add_commit_listener(lambda box, label, source: seen.append(label.flags.writeable))
    doc.paint_segment((5, 5), (5, 5), 1, 1)
    assert seen == [False]
    doc.label[0, 0] = 3  # the document's own array stays writable


def test_cancel_step_puts_everything_back_without_an_undo_entry():
    doc = blank()
    before = doc.label.copy()
    doc.begin_step("brush")
    doc.paint_segment((5, 5), (50, 50), 4, 1)
    doc.cancel_step()
    assert np.array_equal(doc.label, before) and not doc.source.any() and not doc.can_undo


def test_a_new_step_drops_the_redo_history():
    doc = blank()
    doc.paint_segment((5, 5), (5, 5), 1, 1)
    doc.undo()
    doc.paint_segment((9, 9), (9, 9), 1, 2)
    assert not doc.can_redo and doc.label[5, 5] == UNLABELLED


def test_memory_cap_drops_the_oldest_steps_first():
    doc = blank()
    dots = [(5 + 10 * i, 5) for i in range(6)]
    doc.paint_segment(dots[0], dots[0], 1, 1)
    one_step = doc.undo_bytes
    doc.undo_limit_bytes = 3 * one_step
    for dot in dots[1:]:
        doc.paint_segment(dot, dot, 1, 1)
        assert doc.undo_bytes <= 3 * one_step
    while doc.can_undo:
        doc.undo()
    # The three newest dots were undone; the three oldest can no longer be.
    assert [doc.label[5, x] for x, _ in dots] == [1, 1, 1, UNLABELLED, UNLABELLED, UNLABELLED]


def test_a_step_bigger_than_the_cap_clears_the_history():
    doc = blank(undo_limit_bytes=2_000)
    doc.paint_segment((5, 5), (5, 5), 1, 1)
    assert doc.can_undo
    doc.flood_fill(40, 40, 2)  # the whole 64 x 64 region: more than 2,000 bytes to keep
    assert not doc.can_undo and doc.undo_bytes == 0 and doc.label[40, 40] == 2


def test_a_long_stroke_on_a_16k_image_keeps_only_the_touched_pixels():
    size = 16384
    doc = MaskDocument(1, np.zeros((size, size), np.uint8), np.zeros((size, size), np.uint8))
    doc.begin_step("brush")
    points = [(10 + i * 160.0, 20 + i * 150.0) for i in range(100)]
    for p0, p1 in zip(points[:-1], points[1:]):
        box = doc.paint_segment(p0, p1, 8, 3)
        assert box.area < 200 * 200  # each dab touches its own box only
    box = doc.end_step()
    assert box.area > 10_000 * 10_000
    stroke_pixels = int((doc.source[box.slices] == 3).sum())
    # Old and new values of both arrays, cut to the changed box of each tile: far below 4 bytes
    # per pixel of the stroke's bounding box.
    assert doc.undo_bytes < 40 * stroke_pixels < box.area
    doc.undo()
    assert not doc.source[box.slices].any()
