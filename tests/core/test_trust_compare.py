"""compare.decide: a candidate replaces the best only when it is surely better on the same images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from segstudio.core.metrics import scores_from_confusion
from segstudio.core.compare import MIN_GAIN, batched_miou, block_confusions, decide, score_images


@dataclass
class Image:
    image_id: int
    target: np.ndarray


def images(count: int, size: int = 64, seed: int = 0) -> list[Image]:
    rng = np.random.default_rng(seed)
    made = []
    for index in range(count):
        target = np.zeros((size, size), np.uint8)
        for _ in range(3):
            y, x = rng.integers(0, size - 16, 2)
            target[y:y + 16, x:x + 16] = rng.integers(1, 3)
        target[:4] = 255  # unreviewed pixels never count
        made.append(Image(index, target))
    return made


def noisy(accuracy: float, seed: int):
    """A 'model' that is right on a share of the pixels: any predict function will do, no torch."""
    rng = np.random.default_rng(seed)

    def predict(image: Image) -> np.ndarray:
        wrong = rng.random(image.target.shape) > accuracy
        return np.where(wrong, (image.target.astype(np.int64) + 1) % 3, np.minimum(image.target, 2)).astype(np.uint8)

    return predict


def test_scores_match_the_metrics_module_and_ignore_unreviewed_pixels():
    data = images(5)
    evaluation = score_images(noisy(0.8, 1), data, 3)
    assert evaluation.image_ids == (0, 1, 2, 3, 4) and evaluation.blocks.shape == (5, 16, 3, 3)
    assert evaluation.confusion.sum() == sum(int((image.target != 255).sum()) for image in data)
    assert evaluation.miou == pytest.approx(scores_from_confusion(evaluation.confusion).miou)
    assert len(evaluation.per_image()) == 5
    assert np.isnan(batched_miou(np.zeros((1, 3, 3)))[0])
    stray = np.array([[[5, 0, 0], [0, 4, 1], [0, 0, 0]]])  # class 2 predicted once, never reviewed
    assert batched_miou(stray)[0] == pytest.approx((1 + 0.8 + 0) / 3)
    assert batched_miou(stray, reviewed_classes_only=True)[0] == pytest.approx((1 + 0.8) / 2)


def test_block_confusions_split_an_image_into_a_grid():
    target = np.zeros((8, 8), np.uint8)
    target[4:, 4:] = 1
    blocks = block_confusions(target, target, 2, grid=2)
    assert blocks[3, 1, 1] == 16 and blocks[0, 0, 0] == 16 and blocks.sum() == 64
    with pytest.raises(ValueError, match="outside"):
        block_confusions(target, np.full((8, 8), 5, np.uint8), 2)


def test_a_clearly_better_model_is_kept_a_worse_or_equal_one_is_not():
    data = images(12)
    good, bad = score_images(noisy(0.92, 1), data, 3), score_images(noisy(0.75, 2), data, 3)
    verdict = decide(good, bad, new_name="v2", old_name="v1")
    assert verdict.better and verdict.bound > 0 and "v2 is better than v1" in verdict.reason
    assert not decide(bad, good).better
    same = decide(good, good)
    assert not same.better and same.bound == 0.0


def test_the_first_model_is_kept_and_unpaired_scores_are_refused():
    data = images(3)
    first = decide(score_images(noisy(0.5, 1), data, 3), None)
    assert first.better and "first" in first.reason
    with pytest.raises(ValueError, match="same images"):
        decide(score_images(noisy(0.9, 1), data, 3), score_images(noisy(0.9, 1), data[:2], 3))


def test_one_image_a_tiny_gain_is_not_enough():
    """The old rule kept any new model when validation had fewer than 3 images; now one image
    still needs a gain that holds across its regions."""
    (one,) = images(1)
    slightly = decide(score_images(noisy(0.90, 1), [one], 3), score_images(noisy(0.89, 2), [one], 3))
    assert not slightly.better
    clearly = decide(score_images(noisy(0.97, 1), [one], 3), score_images(noisy(0.6, 2), [one], 3))
    assert clearly.better


def test_a_scribble_needs_a_plain_margin():
    from segstudio.core.compare import Evaluation

    target = np.full((64, 64), 255, np.uint8)
    target[:16, :8], target[:16, 8:16] = 0, 1  # reviewed pixels in one block only
    scribble = [Image(7, target)]
    right = score_images(lambda image: np.minimum(image.target, 1), scribble, 2)
    old = right.blocks.copy()
    old[0, 0, 1, 1] -= 1  # one pixel worse: a gain of 0.008, below MIN_GAIN
    old[0, 0, 1, 0] += 1
    verdict = decide(right, Evaluation(right.image_ids, old))
    assert not verdict.better and verdict.bound > 0 and f"{MIN_GAIN}" in verdict.reason


def test_on_fresh_images_a_better_model_passes_and_one_surely_worse_elsewhere_does_not():
    """The fresh rule (trainer: validation images the best did not win its place on) judges on
    the new images, but never lets through a model that is surely worse on all of them."""
    from segstudio.core.compare import Evaluation, decide_on_fresh

    data = images(6, seed=3)
    old = score_images(noisy(0.80, 1), data, 3)
    better_on_new = score_images(noisy(0.80, 2), data[:5], 3)  # as good on the old five
    good_new = score_images(noisy(0.97, 3), data[5:], 3)
    candidate = Evaluation(old.image_ids, np.concatenate([better_on_new.blocks, good_new.blocks]))
    assert decide_on_fresh(candidate, old, [5]).better
    assert "on 1 image(s)" in decide_on_fresh(candidate, old, [5]).reason
    assert not decide(candidate, old).better  # on all six its gain is not sure: the old rule blocked it

    worse_on_old = score_images(noisy(0.55, 4), data[:5], 3)
    lucky = Evaluation(old.image_ids, np.concatenate([worse_on_old.blocks, good_new.blocks]))
    verdict = decide_on_fresh(lucky, old, [5])
    assert not verdict.better and "surely worse" in verdict.reason
    assert decide_on_fresh(candidate, old, []).reason == decide(candidate, old).reason  # no fresh image: the old rule


def test_block_efforts_count_one_dab_per_error_region_plus_its_area():
    from segstudio.core.compare import DAB_PIXELS, block_efforts

    truth = np.zeros((64, 64), np.uint8)
    truth[:, 32:] = 1
    prediction = truth.copy()
    prediction[2:12, 2:12] = 1  # a 100-pixel region in the top-left block
    prediction[40:42, 40] = 0  # a 2-pixel speck: its area counts, no dab of its own
    truth_unreviewed = truth.copy()
    truth_unreviewed[50:60, 2:12] = 255
    prediction[50:60, 2:12] = 1  # wrong only where nobody reviewed: free
    efforts = block_efforts(truth_unreviewed, prediction, 2)
    assert efforts[0] == pytest.approx(1 + 100 / DAB_PIXELS)
    speck_block = (40 * 4 // 64) * 4 + 40 * 4 // 64
    assert efforts[speck_block] == pytest.approx(2 / DAB_PIXELS)
    assert efforts.sum() == pytest.approx(1 + 102 / DAB_PIXELS)


def test_effort_saving_bound_is_paired_and_signed():
    from segstudio.core.compare import effort_saving_bound

    rng = np.random.default_rng(0)
    old = rng.uniform(1, 3, size=(6, 16))
    assert effort_saving_bound(old / 2, old) > 0.4  # half the work on every block: surely saves
    assert effort_saving_bound(old, old / 2) < 0
    assert effort_saving_bound(old, old) == 0


def test_a_verdict_quotes_the_scores_its_bound_compares_when_a_stray_class_sets_them_apart():
    # Both models are nearly right on classes 0 and 1; the old one also paints a few pixels of
    # class 2, which no reviewed pixel holds: 0 in the shown mIoU, nothing in the bound's.
    data = images(2)
    for image in data:
        image.target = np.minimum(image.target, 1).astype(np.uint8)
        image.target[:4] = 255
    truth = lambda image: np.where(image.target == 255, 0, image.target).astype(np.uint8)  # noqa: E731

    def stray(image):
        prediction = truth(image)
        prediction[10:12, 10:12] = 2
        return prediction

    new, old = score_images(truth, data, 3), score_images(stray, data, 3)
    verdict = decide(new, old)
    assert old.miou < 0.7 and new.miou == pytest.approx(1.0)
    assert f"mIoU {new.miou:.3f} against {old.miou:.3f}" in verdict.reason
    reviewed_old = batched_miou(old.confusion[None], reviewed_classes_only=True)[0]
    assert f"(1.000 against {reviewed_old:.3f} over the reviewed classes" in verdict.reason
    same = decide(score_images(truth, data, 3), score_images(truth, data, 3))
    assert "over the reviewed classes" not in same.reason
