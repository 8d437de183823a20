"""The instant tier: how much class prior it keeps (chosen by test-then-train) and what its forest learns from."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.core.instant.forest import ForestParams
from segstudio.core.instant.prior import POWERS, PriorCalibration, apply_prior, prior_weights
from segstudio.core.instant_tier import ImageSamples, InstantTier


def test_power_zero_changes_nothing_and_power_one_is_bayes_rule():
    fractions = np.array([[0.5, 0.5], [0.2, 0.8], [0.02, 0.98]], np.float32)
    assert apply_prior(fractions, prior_weights([900, 100], [0, 1], 0.0)) is fractions
    corrected = apply_prior(fractions, prior_weights([900, 100], [0, 1], 1.0))
    np.testing.assert_allclose(corrected.sum(axis=1), 1.0, rtol=1e-6)
    assert corrected.argmax(axis=1).tolist() == [0, 0, 1]  # a doubtful pixel goes to the common class
    np.testing.assert_allclose(corrected[1], [0.2 * 0.9 / (0.2 * 0.9 + 0.8 * 0.1), 0.8 * 0.1 / (0.2 * 0.9 + 0.8 * 0.1)],
                               rtol=1e-5)


def test_only_present_classes_weigh_and_a_class_with_no_pixel_still_has_a_weight():
    weights = prior_weights([0, 300, 100], [1, 2], 1.0)
    np.testing.assert_allclose(weights, [0.75, 0.25])
    assert prior_weights([5, 0], [0], 1.0) is None  # one class: nothing to correct


def _samples(labels_per_class: dict[int, int], counts: list[int]):
    labels = np.concatenate([np.full(n, c) for c, n in labels_per_class.items()]).astype(np.uint8)
    return labels, np.array(counts)


def test_calibration_picks_a_correction_for_a_model_that_overpredicts_the_rare_class():
    """The rare class (1 % of pixels) is drawn as often as the common one; the model gives the
    common class's pixels 0.4-0.6 for the rare class: at power 0 half the image turns rare."""
    rng = np.random.default_rng(0)
    calibration = PriorCalibration(2)
    for image_id in range(3):
        labels, counts = _samples({0: 500, 1: 500}, [99_000, 1_000])
        rare = np.where(labels == 1, rng.uniform(0.8, 1.0, labels.size), rng.uniform(0.4, 0.6, labels.size))
        calibration.score(image_id, np.stack([1 - rare, rare], axis=1).astype(np.float32), [0, 1], [99_000, 1_000],
                          labels, counts)
    assert calibration.best_power() > 0


def test_calibration_keeps_power_zero_for_a_calibrated_balanced_model_and_without_evidence():
    rng = np.random.default_rng(1)
    calibration = PriorCalibration(2)
    assert calibration.best_power() == 0.0
    labels, counts = _samples({0: 500, 1: 500}, [50_000, 50_000])
    right = rng.uniform(0.55, 1.0, labels.size)
    fractions = np.where(labels[:, None] == np.arange(2), right[:, None], 1 - right[:, None]).astype(np.float32)
    calibration.score(7, fractions, [0, 1], [50_000, 50_000], labels, counts)
    assert calibration.best_power() == 0.0


def test_the_tier_scores_each_image_before_it_learns_from_it_and_models_carry_the_power():
    """Image-level fits score the images the last one never saw; live fits (extra samples) do not."""
    rng = np.random.default_rng(2)
    tier = InstantTier(["background", "rare"], channels=2)

    def image(n_rare_drawn: int, rare_pixels: int) -> ImageSamples:
        labels = np.concatenate([np.zeros(300), np.ones(n_rare_drawn)]).astype(np.uint8)
        # the rare class is separable on feature 0, but background overlaps it on half its pixels
        features = np.stack([np.where(labels == 1, rng.uniform(0.5, 1.0, labels.size),
                                      rng.uniform(0.0, 1.0, labels.size)),
                             rng.normal(size=labels.size)], axis=1).astype(np.float32)
        features = np.repeat(features, 49, axis=1)  # the 98 filter-bank features of two channels
        return ImageSamples((), features, labels, np.array([100_000 - rare_pixels, rare_pixels]))

    tier.cache[1] = image(300, 500)
    first = tier.fit([1])
    assert first.prior_power == 0.0 and not tier.calibration.scored
    tier.cache[2] = image(300, 500)
    live = tier.fit([1], [image(50, 50)])
    assert not tier.calibration.scored and tier.base_model is first  # a live refresh is no evidence
    second = tier.fit([1, 2])
    assert list(tier.calibration.scored) == [2] and tier.base_model is second
    assert second.prior_power == tier.calibration.best_power() > 0
    assert live.prior_power == 0.0


def test_a_saved_power_reloads_and_a_power_out_of_range_is_refused(tmp_path):
    import json

    from segstudio.core.errors import ModelError
    from segstudio.core.instant.classifier import InstantModel
    from segstudio.core.instant.forest import ForestParams

    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, (40, 40), dtype=np.uint8)
    target = np.full((40, 40), 255, np.uint8)
    target[:10], target[30:, :5] = 0, 1
    model = InstantModel.fit([(image, target)], ["a", "b"], params=ForestParams(trees=4), threads=1,
                             prior_power=POWERS[2])
    model.save(tmp_path / "m")
    loaded = InstantModel.load(tmp_path / "m")
    assert loaded.prior_power == POWERS[2]
    assert np.array_equal(loaded.predict_proba(image), model.predict_proba(image))
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    meta["prior_power"] = 7
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="prior_power"):
        InstantModel.load(tmp_path / "m")


def test_every_stroke_pixel_of_the_open_image_reaches_the_forest_when_other_images_are_thinned():
    """A live refresh must learn from the strokes just made, however many reviewed images there are."""
    rng = np.random.default_rng(4)
    tier = InstantTier(["a", "b"], channels=1, max_samples=40_000, params=ForestParams(trees=2))

    def samples(n: int, label_of=lambda i: i % 2) -> ImageSamples:
        labels = np.array([label_of(i) for i in range(n)], np.uint8)
        return ImageSamples((), rng.normal(size=(n, 49)).astype(np.float32), labels, np.bincount(labels, minlength=2))

    for image_id in range(10):
        tier.cache[image_id] = samples(5_000)
    strokes = samples(37, label_of=lambda i: 1)
    model = tier.fit(list(range(10)), [strokes])
    features, labels = tier.training_set(list(range(10)), [strokes])
    assert 39_000 < labels.size <= 40_000  # the budget (above the classifier's own default): images are thinned
    np.testing.assert_array_equal(features[-37:], strokes.features)  # the strokes stay whole
    assert sum(model.sampled) == labels.size  # and nothing is resampled after that
    assert model.labelled == [25_000, 25_037]  # the prior counts whole images and every stroke


def test_calibration_keeps_its_power_until_another_wins_by_the_margin():
    """Powers that trade a small lead image by image must not flip every proposal. Here every
    sample is confidently right except `doubtful` common-class samples that lean rare (0.6):
    powers 0.25 and 0.5 fix them, power 0 does not."""
    def image(doubtful: int) -> tuple:
        labels, counts = _samples({0: 20_000, 1: 500}, [99_000, 1_000])
        rare = np.where(labels == 1, 0.95, 0.05).astype(np.float32)
        rare[:doubtful] = 0.6
        return np.stack([1 - rare, rare], axis=1), [0, 1], [99_000, 1_000], labels, counts

    calibration = PriorCalibration(2)
    calibration.score(0, *image(doubtful=1))  # one sample of ~5 pixels: a gain below the margin
    assert calibration.best_power() == 0.0
    calibration.score(1, *image(doubtful=400))  # ~2,000 pixels wrongly rare: a clear gain
    assert calibration.best_power() == 0.25  # the weaker of the two powers that fix them
