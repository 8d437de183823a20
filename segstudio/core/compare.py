"""Is a candidate model better than the one proposing? One paired comparison, for every model kind.

The trainer asks it after every epoch, and the model ladder asks it when an instant pixel
classifier competes with network versions, so nothing here knows about torch: a model is a
`predict_fn(image) -> class map`.

Why this rule can be trusted with few images:
- Paired: both models are scored on the same reviewed pixels of the same images, so the
  difference is not drowned by how hard those images happen to be.
- A bound, not a point score: the gain in mIoU (of all pixels together, the figure shown
  everywhere) must stay above zero at its lower confidence bound. The bound comes from a
  two-level bootstrap: images are resampled, then blocks of a 4 x 4 grid within each image.
  With many images the spread between images dominates; with one or two images the spread
  between regions of each image still gives an honest (if optimistic) width, where a pixel-level
  test would call every tiny difference significant (neighbouring pixels are not independent).
  Each resample averages both models over the classes reviewed in it, so a stray class that
  one model predicts cannot swing the bound.
- Too little evidence (fewer than MIN_UNITS labelled blocks in all) also needs a plain margin
  of MIN_GAIN, so a scribble on one image cannot crown a model by a hair.
- Never "replace whatever the score": a candidate without a better bound is not kept, however
  few images there are. Only the very first model (nothing to compare with) is kept outright.
- The trainer judges on the validation images the best did not win its place on, when there
  are any (`decide_on_fresh`: the best's score where it won is lucky), and still refuses a
  candidate the best surely beats on all of them.

Cost: the resampling is one (resamples x blocks) @ (blocks x K^2) matrix product per model,
about 0.1 s for 200 validation images and 4 classes; scoring each image is the prediction the
trainer makes for validation anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

IGNORE = 255
GRID = 4  # blocks per side of each image for the within-image resampling
CONFIDENCE = 0.95  # one-sided: the gain's 5th percentile must be above zero
RESAMPLES = 1000
MIN_UNITS = 8  # labelled blocks below which a plain margin is needed as well
MIN_GAIN = 0.02
DAB_PIXELS = 200  # pixels one dab of a 16-pixel brush paints: the unit of correction effort
MIN_REGION_PIXELS = 9  # error regions smaller than 3 x 3 pixels are not worth a stroke of their own


@dataclass(frozen=True)
class Evaluation:
    """A model's confusion counts on each block of each validation image (rows: reviewed class)."""

    image_ids: tuple[int, ...]
    blocks: np.ndarray  # (images, GRID * GRID, K, K) int64

    @property
    def confusion(self) -> np.ndarray:
        return self.blocks.sum(axis=(0, 1))

    @property
    def miou(self) -> float:
        return float(batched_miou(self.confusion[None])[0])

    def only(self, image_ids) -> Evaluation:
        """The same scores on some of the images (in this evaluation's order)."""
        keep = set(image_ids)
        index = [i for i, image_id in enumerate(self.image_ids) if image_id in keep]
        return Evaluation(tuple(self.image_ids[i] for i in index), self.blocks[index])

    def per_image(self) -> list[np.ndarray]:
        """One K x K confusion matrix per image."""
        return list(self.blocks.sum(axis=1))

    @property
    def labelled_units(self) -> int:
        return int(np.count_nonzero(self.blocks.sum(axis=(2, 3))))


@dataclass(frozen=True)
class Verdict:
    better: bool
    reason: str
    new_miou: float
    old_miou: float
    bound: float  # lower confidence bound of the mIoU gain (NaN when there was nothing to compare)


def _block_index(shape: tuple[int, int], grid: int) -> np.ndarray:
    """(H, W) index of the grid block each pixel lies in, row by row."""
    height, width = shape
    rows = np.minimum(np.arange(height) * grid // max(1, height), grid - 1)
    cols = np.minimum(np.arange(width) * grid // max(1, width), grid - 1)
    return rows[:, None] * grid + cols[None, :]


def block_confusions(target: np.ndarray, prediction: np.ndarray, num_classes: int, grid: int = GRID) -> np.ndarray:
    """(grid * grid, K, K) confusion counts of the reviewed pixels of each block of one image."""
    if target.shape != prediction.shape:
        raise ValueError(f"target {target.shape} and prediction {prediction.shape} differ in shape")
    block = _block_index(target.shape, grid).ravel()
    truth = target.ravel().astype(np.int64)
    predicted = prediction.ravel().astype(np.int64)
    valid = truth < num_classes  # IGNORE (and anything outside the classes) never counts
    if predicted[valid].size and (predicted[valid].min() < 0 or predicted[valid].max() >= num_classes):
        raise ValueError(f"prediction has class ids outside 0..{num_classes - 1}")
    cells = (block[valid] * num_classes + truth[valid]) * num_classes + predicted[valid]
    counts = np.bincount(cells, minlength=grid * grid * num_classes * num_classes)
    return counts.reshape(grid * grid, num_classes, num_classes)


def score_images(predict_fn: Callable[[object], np.ndarray], images: Iterable, num_classes: int) -> Evaluation:
    """Score a model on images that carry `image_id` and `target` (H x W, IGNORE where unreviewed).

    `predict_fn(image)` returns the model's class map for that image: any model kind will do.
    """
    ids, blocks = [], []
    for image in images:
        ids.append(int(image.image_id))
        blocks.append(block_confusions(image.target, np.asarray(predict_fn(image)), num_classes))
    stacked = np.stack(blocks) if blocks else np.zeros((0, GRID * GRID, num_classes, num_classes), np.int64)
    return Evaluation(tuple(ids), stacked)


def batched_miou(confusions: np.ndarray, *, reviewed_classes_only: bool = False) -> np.ndarray:
    """mIoU of each of R confusion matrices (R, K, K).

    By default a class counts when it was reviewed or predicted (as segstudio.core.metrics does);
    with `reviewed_classes_only`, only classes present in the reviewed pixels count, so two
    models scored on the same pixels average over the same classes (a model's stray prediction
    of an absent class still costs it: those pixels are missed for their true class).
    """
    confusions = np.asarray(confusions, np.float64)
    true_positive = np.diagonal(confusions, axis1=1, axis2=2)
    reviewed = confusions.sum(axis=2)
    union = reviewed + confusions.sum(axis=1) - true_positive
    present = reviewed > 0 if reviewed_classes_only else union > 0
    iou = np.where(present, true_positive / np.maximum(union, 1), 0.0)
    counted = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counted > 0, iou.sum(axis=1) / np.maximum(counted, 1), np.nan)


def _resample_weights(images: int, units: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, images * units): how often each block of each image is drawn in each resample
    of the two-level bootstrap (images, then blocks within each drawn image)."""
    rng = np.random.default_rng(seed)  # fixed: the same two models always get the same verdict
    chosen_images = rng.integers(0, images, size=(resamples, images))
    chosen_blocks = rng.integers(0, units, size=(resamples, images, units))
    cells = (np.arange(resamples)[:, None, None] * images + chosen_images[:, :, None]) * units + chosen_blocks
    return np.bincount(cells.ravel(), minlength=resamples * images * units).reshape(resamples, -1).astype(np.float64)


def gain_lower_bound(new: Evaluation, old: Evaluation, *, confidence: float = CONFIDENCE,
                     resamples: int = RESAMPLES, seed: int = 0) -> float:
    """Lower bound of the mIoU gain: paired two-level bootstrap (images, then blocks).

    Each resample scores both models on the same resampled pixels, over the classes reviewed
    in them (a class present in one resample and not another must not count for one model only).
    """
    images, units = new.blocks.shape[:2]
    if images == 0:
        return float("nan")
    weights = _resample_weights(images, units, resamples, seed)
    size = new.blocks.shape[-1]

    def resampled_miou(evaluation: Evaluation) -> np.ndarray:
        counts = (weights @ evaluation.blocks.reshape(images * units, -1)).reshape(-1, size, size)
        return batched_miou(counts, reviewed_classes_only=True)

    gains = resampled_miou(new) - resampled_miou(old)
    gains = gains[~np.isnan(gains)]
    return float(np.quantile(gains, 1.0 - confidence)) if gains.size else float("nan")


def block_efforts(target: np.ndarray, prediction: np.ndarray, num_classes: int, grid: int = GRID) -> np.ndarray:
    """(grid * grid,) what correcting `prediction` into `target` would cost a person, per block,
    in brush dabs: one for each separate error region (of one true class, at least
    MIN_REGION_PIXELS, counted in the block of its centre) plus its area in dabs of DAB_PIXELS.

    Why not mIoU alone: a person pays per place to click, not per pixel. Two proposals of the
    same mIoU cost very different work when one is wrong in one blob and the other in forty
    specks; the ladder weighs both (core/ladder.choose_kind).
    """
    if target.shape != prediction.shape:
        raise ValueError(f"target {target.shape} and prediction {prediction.shape} differ in shape")
    import cv2

    height, width = target.shape
    block = _block_index(target.shape, grid)
    wrong = (prediction != target) & (target < num_classes)  # IGNORE (unreviewed) never counts
    efforts = np.bincount(block[wrong], minlength=grid * grid) / DAB_PIXELS
    for class_id in np.unique(target[wrong]):
        count, _, stats, centres = cv2.connectedComponentsWithStats(
            (wrong & (target == class_id)).astype(np.uint8), connectivity=4)
        big = stats[1:, cv2.CC_STAT_AREA] >= MIN_REGION_PIXELS
        for x, y in centres[1:][big]:
            efforts[block[min(int(y), height - 1), min(int(x), width - 1)]] += 1.0
    return efforts


def effort_saving_bound(new: np.ndarray, old: np.ndarray, *, confidence: float = CONFIDENCE,
                        resamples: int = RESAMPLES, seed: int = 0) -> float:
    """Lower bound of the share of the old model's correction effort that the new one saves
    (both (images, GRID * GRID) from block_efforts on the same images), by the same two-level
    bootstrap as the mIoU gain. Positive: the new model surely costs a person less work."""
    new, old = np.asarray(new, np.float64), np.asarray(old, np.float64)
    if new.shape != old.shape:
        raise ValueError("a paired comparison needs both models scored on the same images")
    images, units = new.shape
    if images == 0:
        return float("nan")
    weights = _resample_weights(images, units, resamples, seed)
    new_total, old_total = weights @ new.ravel(), weights @ old.ravel()
    savings = (old_total - new_total) / np.maximum(old_total, 1.0)
    return float(np.quantile(savings, 1.0 - confidence))


def decide(new: Evaluation, old: Evaluation | None, *, new_name: str = "the new model",
           old_name: str = "the best model") -> Verdict:
    """Should `new` replace `old`? Both must be scored on the same images (same order)."""
    if old is None:
        return Verdict(True, f"{new_name} is the first model", new.miou, float("nan"), float("nan"))
    if new.image_ids != old.image_ids or new.blocks.shape != old.blocks.shape:
        raise ValueError("a paired comparison needs both models scored on the same images")
    new_miou, old_miou = new.miou, old.miou
    where = f"on {len(new.image_ids)} image(s)"
    if np.isnan(new_miou) or np.isnan(old_miou):
        return Verdict(False, f"no reviewed pixel to compare {where}", new_miou, old_miou, float("nan"))
    bound = gain_lower_bound(new, old)
    scores = f"mIoU {new_miou:.3f} against {old_miou:.3f} {where}" + _reviewed_scores(new, old, new_miou, old_miou)
    if not bound > 0:
        return Verdict(False, f"{new_name} is not surely better than {old_name}: {scores}, "
                              f"gain bound {bound:+.3f}", new_miou, old_miou, bound)
    if new.labelled_units < MIN_UNITS and new_miou - old_miou < MIN_GAIN:
        return Verdict(False, f"too few reviewed pixels to trust a gain under {MIN_GAIN}: {scores}",
                       new_miou, old_miou, bound)
    return Verdict(True, f"{new_name} is better than {old_name}: {scores}, gain at least {bound:.3f} "
                         f"({CONFIDENCE:.0%} bound)", new_miou, old_miou, bound)


def _reviewed_scores(new: Evaluation, old: Evaluation, new_miou: float, old_miou: float) -> str:
    """The mIoUs the bound compares, when they differ from the shown ones: a class predicted where
    none was reviewed scores 0 in the shown mIoU, so "0.919 against 0.616, not surely better"
    would read as a mistake when the models differ only by such a stray class."""
    reviewed = batched_miou(np.stack([new.confusion, old.confusion]), reviewed_classes_only=True)
    if np.allclose(reviewed, [new_miou, old_miou], atol=5e-4):
        return ""
    return (f" ({reviewed[0]:.3f} against {reviewed[1]:.3f} over the reviewed classes, which the bound "
            f"compares: a class predicted where none was reviewed scores 0 in the first figures)")


def decide_on_fresh(new: Evaluation, old: Evaluation | None, fresh: list[int], **names) -> Verdict:
    """`decide` on the `fresh` images (those `old` did not win its place on) when there are any.

    A candidate judged on a few fresh images could still be lucky there and clearly worse on
    the others, so it is refused when `old` is surely better than it on all the images: the
    fresh rule lets a better model through, never a worse one.
    """
    if not fresh or old is None:
        return decide(new, old, **names)
    verdict = decide(new.only(fresh), old.only(fresh), **names)
    if verdict.better and gain_lower_bound(old, new) > 0:
        where = f"on all {len(new.image_ids)} validation image(s)"
        return Verdict(False, f"{names.get('new_name', 'the new model')} is better on the {len(fresh)} new "
                              f"validation image(s) but surely worse {where}: mIoU {new.miou:.3f} against "
                              f"{old.miou:.3f}", verdict.new_miou, verdict.old_miou, verdict.bound)
    return verdict
