"""A simulated annotator: corrects a mask with round brush dabs until it matches the truth.

This is the click-simulation protocol of interactive segmentation, with a brush: each stroke
goes to the centre of the largest remaining error region (the distance-transform maximum of the
largest connected component of wrong pixels of one true class) and paints the true class there.
The brush keeps its radius, except that it shrinks near pixels of another true class, as a
careful person would: a stroke may go over pixels that are already right, never spoil them. It stops when the
image's mean IoU with the truth reaches the target, or at the stroke cap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from segstudio.core.labels import IGNORE
Refresh = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (label, painted) -> a new proposal


@dataclass
class Annotation:
    label: np.ndarray  # the corrected mask (IGNORE where never labelled)
    painted: np.ndarray  # bool: pixels the annotator painted
    strokes: int
    pixels_corrected: int  # pixels whose value a stroke changed
    iou: float


def image_iou(truth: np.ndarray, label: np.ndarray) -> float:
    """Mean IoU over the classes in the truth or the label; unlabelled pixels are simply wrong."""
    valid = truth != IGNORE
    classes = np.union1d(np.unique(truth[valid]), np.unique(label[valid & (label != IGNORE)]))
    if classes.size == 0:
        return 1.0
    scores = []
    for class_id in classes:
        in_truth, in_label = valid & (truth == class_id), valid & (label == class_id)
        union = np.count_nonzero(in_truth | in_label)
        scores.append(np.count_nonzero(in_truth & in_label) / union if union else 1.0)
    return float(np.mean(scores))


def largest_error_region(truth: np.ndarray, label: np.ndarray) -> tuple[int, np.ndarray] | None:
    """(true class, component mask) of the largest connected error region, or None."""
    wrong = (label != truth) & (truth != IGNORE)
    best: tuple[int, int, np.ndarray, int] | None = None  # (area, class, labels, component index)
    for class_id in np.unique(truth[wrong]):
        count, components, stats, _ = cv2.connectedComponentsWithStats(
            (wrong & (truth == class_id)).astype(np.uint8), connectivity=4)
        if count <= 1:
            continue
        index = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        area = int(stats[index, cv2.CC_STAT_AREA])
        if best is None or area > best[0]:
            best = (area, int(class_id), components, index)
    if best is None:
        return None
    return best[1], best[2] == best[3]


def stroke(truth: np.ndarray, label: np.ndarray, radius: int) -> tuple[np.ndarray, int] | None:
    """The disc of the next stroke and its class, or None when nothing is wrong."""
    region = largest_error_region(truth, label)
    if region is None:
        return None
    class_id, component = region
    padded = np.pad(component.astype(np.uint8), 1)  # the image border counts as outside the region
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    cy, cx = np.unravel_index(int(np.argmax(distance)), distance.shape)
    # The brush may cover pixels that are already right, never pixels of another true class.
    same_class = cv2.distanceTransform((truth == class_id).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    reach = min(float(radius), float(same_class[cy, cx]) - 1e-3)
    yy, xx = np.ogrid[:truth.shape[0], :truth.shape[1]]
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= max(0.0, reach) ** 2
    return disc, class_id


def annotate(truth: np.ndarray, start: np.ndarray, *, radius: int = 6, target_iou: float = 0.95,
             max_strokes: int = 300, refresh: Refresh | None = None, refresh_every: int = 0) -> Annotation:
    """Correct `start` (a proposal, or all IGNORE for an empty mask) towards `truth`.

    With `refresh`, every `refresh_every` strokes the unpainted pixels take the value of
    refresh(label, painted): the app's live refresh of the open image, which re-proposes what
    nobody has painted yet. Every stroke counts, before and after a refresh.
    """
    label = start.copy()
    painted = np.zeros(truth.shape, bool)
    strokes = corrected = 0
    iou = image_iou(truth, label)
    while iou < target_iou and strokes < max_strokes:
        next_stroke = stroke(truth, label, radius)
        if next_stroke is None:
            break
        disc, class_id = next_stroke
        corrected += int(np.count_nonzero(disc & (label != class_id)))
        label[disc] = class_id
        painted |= disc
        strokes += 1
        if refresh is not None and refresh_every > 0 and strokes % refresh_every == 0:
            label = np.where(painted, label, refresh(label, painted)).astype(label.dtype)
        iou = image_iou(truth, label)
    return Annotation(label, painted, strokes, corrected, iou)
