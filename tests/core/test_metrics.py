"""Metrics on hand-checked class maps: counts, ignore handling, boundary tolerance, table."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.core.metrics import (
    MetricAccumulator,
    boundary_counts,
    boundary_f_from_counts,
    confusion_matrix,
    format_table,
    scores_from_confusion,
)


def test_confusion_matrix_counts_and_ignores_255():
    truth = np.array([[0, 0, 1], [1, 255, 2]], np.uint8)
    pred = np.array([[0, 1, 1], [1, 2, 2]], np.uint8)
    matrix = confusion_matrix(truth, pred, 3)
    expected = np.array([[1, 1, 0], [0, 2, 0], [0, 0, 1]])
    np.testing.assert_array_equal(matrix, expected)


def test_scores_match_hand_computation():
    matrix = np.array([[1, 1, 0], [0, 2, 0], [0, 0, 1]])
    scores = scores_from_confusion(matrix)
    np.testing.assert_allclose(scores.iou, [1 / 2, 2 / 3, 1.0])
    np.testing.assert_allclose(scores.dice, [2 / 3, 4 / 5, 1.0])
    np.testing.assert_allclose(scores.precision, [1.0, 2 / 3, 1.0])
    np.testing.assert_allclose(scores.recall, [1 / 2, 1.0, 1.0])
    assert scores.pixel_accuracy == pytest.approx(4 / 5)
    assert scores.miou == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)


def test_absent_class_is_nan_and_left_out_of_the_mean():
    truth = np.zeros((4, 4), np.uint8)
    scores = scores_from_confusion(confusion_matrix(truth, truth, 3))
    assert scores.iou[0] == 1.0 and np.isnan(scores.iou[1]) and np.isnan(scores.iou[2])
    assert scores.miou == 1.0


def test_prediction_outside_class_range_is_an_error():
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.zeros((2, 2), np.uint8), np.full((2, 2), 5, np.uint8), 3)


def test_boundary_f_tolerance():
    truth = np.zeros((40, 40), np.uint8)
    truth[10:30, 10:30] = 1
    shifted = np.roll(truth, 2, axis=1)  # the square moved 2 px right
    strict = boundary_f_from_counts(boundary_counts(truth, shifted, 2, tolerance=0))
    tolerant = boundary_f_from_counts(boundary_counts(truth, shifted, 2, tolerance=2))
    assert tolerant[1] == pytest.approx(1.0)
    assert strict[1] < 0.6
    exact = boundary_f_from_counts(boundary_counts(truth, truth, 2, tolerance=0))
    assert exact[1] == pytest.approx(1.0)


def test_edge_of_a_partial_label_is_not_a_boundary():
    truth = np.full((30, 30), 255, np.uint8)
    truth[5:25, 5:25] = 1  # a scribble of class 1 surrounded by unlabelled pixels
    pred = np.ones((30, 30), np.uint8)  # the model says class 1 everywhere: no boundary at all
    counts = boundary_counts(truth, pred, 2, tolerance=1)
    assert counts[1, 3] == 0  # no truth boundary counted along the label's edge


def test_accumulator_pools_pixels_and_table_lists_every_class():
    acc = MetricAccumulator(2)
    truth = np.zeros((8, 8), np.uint8)
    truth[:, 4:] = 1
    acc.add(truth, truth)
    acc.add(truth, np.zeros_like(truth))
    scores = acc.scores()
    assert scores.iou[1] == pytest.approx(0.5)
    table = format_table(scores, ["background", "cell"])
    assert "background" in table and "cell" in table and "mean" in table and "BF" in table
    summary = scores.as_dict(["background", "cell"])
    assert summary["per_class"]["cell"]["iou"] == pytest.approx(0.5)
