"""Segmentation metrics: confusion matrix, IoU, Dice, precision, recall, boundary F-score.

Everything is computed from one confusion matrix accumulated over images (pixels whose truth is
the ignore value never count), so a score over a split is the score of all its pixels together,
not a mean of per-image scores. The boundary F-score needs the class maps themselves and is
accumulated separately as matched / total boundary pixel counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from segstudio.core.labels import IGNORE


def confusion_matrix(truth: np.ndarray, pred: np.ndarray, num_classes: int, ignore: int = IGNORE) -> np.ndarray:
    """(num_classes, num_classes) int64 counts, rows = truth, columns = prediction.

    Pixels whose truth is `ignore` (or outside 0..num_classes-1) are left out; a prediction outside
    the class range is a ValueError (it would silently vanish otherwise).
    """
    if truth.shape != pred.shape:
        raise ValueError(f"truth {truth.shape} and prediction {pred.shape} differ in shape")
    truth = truth.reshape(-1).astype(np.int64, copy=False)
    pred = pred.reshape(-1).astype(np.int64, copy=False)
    valid = (truth != ignore) & (truth >= 0) & (truth < num_classes)
    truth, pred = truth[valid], pred[valid]
    if pred.size and (pred.min() < 0 or pred.max() >= num_classes):
        raise ValueError(f"prediction has class ids outside 0..{num_classes - 1}")
    counts = np.bincount(truth * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Element-wise division with NaN where the denominator is 0 (class absent: no score)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


@dataclass(frozen=True)
class Scores:
    """Per-class arrays (NaN where a class has neither truth nor prediction) and their means."""

    iou: np.ndarray
    dice: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    pixel_accuracy: float
    boundary_f: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def miou(self) -> float:
        return _nanmean(self.iou)

    @property
    def mean_dice(self) -> float:
        return _nanmean(self.dice)

    def as_dict(self, class_names: Sequence[str]) -> dict:
        """JSON-able summary (NaN becomes None) for model.json metrics and --json outputs."""

        def clean(value: float) -> float | None:
            return None if np.isnan(value) else round(float(value), 6)

        per_class = {}
        for index, name in enumerate(class_names):
            per_class[name] = {
                "iou": clean(self.iou[index]),
                "dice": clean(self.dice[index]),
                "precision": clean(self.precision[index]),
                "recall": clean(self.recall[index]),
            }
            if self.boundary_f.size:
                per_class[name]["boundary_f"] = clean(self.boundary_f[index])
        summary = {"miou": clean(self.miou), "mean_dice": clean(self.mean_dice),
                   "pixel_accuracy": clean(self.pixel_accuracy), "per_class": per_class}
        if self.boundary_f.size:
            summary["mean_boundary_f"] = clean(_nanmean(self.boundary_f))
        return summary


def scores_from_confusion(matrix: np.ndarray, boundary_f: np.ndarray | None = None) -> Scores:
    matrix = np.asarray(matrix, dtype=np.float64)
    true_positive = np.diag(matrix)
    truth_total = matrix.sum(axis=1)
    pred_total = matrix.sum(axis=0)
    union = truth_total + pred_total - true_positive
    total = matrix.sum()
    return Scores(
        iou=_ratio(true_positive, union),
        dice=_ratio(2 * true_positive, truth_total + pred_total),
        precision=_ratio(true_positive, pred_total),
        recall=_ratio(true_positive, truth_total),
        pixel_accuracy=float(true_positive.sum() / total) if total else float("nan"),
        boundary_f=np.zeros(0) if boundary_f is None else boundary_f,
    )


def boundary_map(class_map: np.ndarray, class_id: int) -> np.ndarray:
    """Boolean map of the one-pixel inner boundary of `class_id`'s region (morphological gradient)."""
    region = (class_map == class_id).astype(np.uint8)
    eroded = cv2.erode(region, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    return (region - eroded).astype(bool)


def _dilate(mask: np.ndarray, tolerance: int) -> np.ndarray:
    if tolerance <= 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance + 1, 2 * tolerance + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def boundary_counts(truth: np.ndarray, pred: np.ndarray, num_classes: int, tolerance: int = 2,
                    ignore: int = IGNORE) -> np.ndarray:
    """(num_classes, 4) counts: [pred boundary matched, pred boundary total, truth matched, truth total].

    A predicted boundary pixel is matched when a truth boundary pixel of the same class lies within
    `tolerance` pixels (and vice versa). Only pixels at least one pixel away from ignored ones
    count: the edge of a partial label is not a boundary between classes.
    """
    valid = truth != ignore
    inside = cv2.erode(valid.astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE) > 0
    counts = np.zeros((num_classes, 4), dtype=np.int64)
    for class_id in range(num_classes):
        truth_edge = boundary_map(truth, class_id) & inside
        pred_edge = boundary_map(pred, class_id) & inside
        counts[class_id] = (
            np.count_nonzero(pred_edge & _dilate(truth_edge, tolerance)),
            np.count_nonzero(pred_edge),
            np.count_nonzero(truth_edge & _dilate(pred_edge, tolerance)),
            np.count_nonzero(truth_edge),
        )
    return counts


def boundary_f_from_counts(counts: np.ndarray) -> np.ndarray:
    """Per-class boundary F-score; NaN for a class with no boundary in truth or prediction."""
    precision = _ratio(counts[:, 0].astype(float), counts[:, 1].astype(float))
    recall = _ratio(counts[:, 2].astype(float), counts[:, 3].astype(float))
    both_empty = (counts[:, 1] == 0) & (counts[:, 3] == 0)
    precision = np.where(np.isnan(precision) & ~both_empty, 0.0, precision)
    recall = np.where(np.isnan(recall) & ~both_empty, 0.0, recall)
    return _ratio(2 * precision * recall, precision + recall)


class MetricAccumulator:
    """Adds images one at a time; `scores()` gives the metrics over all pixels seen so far."""

    def __init__(self, num_classes: int, *, boundary_tolerance: int | None = 2, ignore: int = IGNORE):
        self.num_classes = num_classes
        self.ignore = ignore
        self.boundary_tolerance = boundary_tolerance
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
        self.boundary = np.zeros((num_classes, 4), dtype=np.int64)

    def add(self, truth: np.ndarray, pred: np.ndarray) -> None:
        self.matrix += confusion_matrix(truth, pred, self.num_classes, self.ignore)
        if self.boundary_tolerance is not None:
            self.boundary += boundary_counts(truth, pred, self.num_classes, self.boundary_tolerance, self.ignore)

    def scores(self) -> Scores:
        boundary = boundary_f_from_counts(self.boundary) if self.boundary_tolerance is not None else None
        return scores_from_confusion(self.matrix, boundary)


def format_table(scores: Scores, class_names: Sequence[str]) -> str:
    """A plain-text table, one row per class and a mean row, for the terminal."""
    columns = ["IoU", "Dice", "Prec", "Recall"] + (["BF"] if scores.boundary_f.size else [])
    width = max([len("mean"), *(len(name) for name in class_names)])
    lines = [f"{'class':<{width}}  " + "  ".join(f"{column:>6}" for column in columns)]

    def cell(value: float) -> str:
        return f"{'-':>6}" if np.isnan(value) else f"{value:6.3f}"

    def row(name: str, values: Sequence[float]) -> str:
        return f"{name:<{width}}  " + "  ".join(cell(value) for value in values)

    for index, name in enumerate(class_names):
        values = [scores.iou[index], scores.dice[index], scores.precision[index], scores.recall[index]]
        if scores.boundary_f.size:
            values.append(scores.boundary_f[index])
        lines.append(row(name, values))
    means = [scores.miou, scores.mean_dice, _nanmean(scores.precision), _nanmean(scores.recall)]
    if scores.boundary_f.size:
        means.append(_nanmean(scores.boundary_f))
    lines.append(row("mean", means))
    lines.append(f"pixel accuracy: {cell(scores.pixel_accuracy).strip()}")
    return "\n".join(lines)
