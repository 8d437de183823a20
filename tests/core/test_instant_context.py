"""Auto-context: the second forest reads the first one's smoothed probabilities, tile by tile the
same as whole, learns from every reviewed image of a project, and saves and loads safely."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from segstudio.bench.instant import scribble_target
from segstudio.bench.shapes_dataset import create_shapes_project, make_sample
from segstudio.core.document import MaskDocument
from segstudio.core.errors import ModelError
from segstudio.core.imageio import read_image
from segstudio.core.instant import classifier
from segstudio.core.instant.classifier import InstantModel
from segstudio.core.instant.context import CONTEXT_SIGMAS, MAX_CONTEXT_CLASSES, context_at, context_box
from segstudio.core.instant.features import image_features
from segstudio.core.instant.forest import ForestParams
from segstudio.core.instant_tier import InstantTier
from segstudio.core.live import LiveSession
from segstudio.core.progress import drive
from segstudio.core.project import Source

CLASSES = ["background", "nucleus", "nucleus boundary"]


@pytest.fixture(scope="module")
def two_stage(nuclei):
    image, _, scribbles = nuclei
    return InstantModel.fit([(image, scribbles)], CLASSES, params=ForestParams(trees=4), threads=1,
                            context_sigmas=CONTEXT_SIGMAS)


def test_a_box_gets_the_context_the_whole_image_gives_it():
    probabilities = np.random.default_rng(0).random((3, 90, 70)).astype(np.float32)
    whole = context_box(probabilities, (0, 90, 0, 70), CONTEXT_SIGMAS)
    assert whole.shape == (90, 70, 9)
    for box in [(0, 30, 0, 35), (30, 90, 35, 70), (41, 60, 10, 69)]:
        y0, y1, x0, x1 = box
        np.testing.assert_allclose(context_box(probabilities, box, CONTEXT_SIGMAS), whole[y0:y1, x0:x1], atol=1e-6)
    ys, xs = np.array([0, 45, 89]), np.array([69, 3, 30])
    np.testing.assert_allclose(context_at(probabilities, ys, xs, CONTEXT_SIGMAS), whole[ys, xs], atol=1e-6)
    # the order is sigma by sigma, class by class, each a Gaussian blur of one class plane
    np.testing.assert_allclose(whole[:, :, 4], cv2.GaussianBlur(probabilities[1], (25, 25), 3.0,
                                                               borderType=cv2.BORDER_REFLECT_101), atol=1e-6)


def test_the_second_forest_reads_the_context_and_tiles_predict_like_the_whole_image(nuclei, two_stage, monkeypatch):
    image = nuclei[0]
    assert two_stage.context_trees is not None and two_stage.num_context_features == 9
    splits = np.concatenate([tree.feature[tree.feature >= 0] for tree in two_stage.context_trees])
    assert (splits >= two_stage.num_features).any()  # some split asks where the classes are nearby
    whole = two_stage.predict_proba(image)
    features = image_features(image)
    np.testing.assert_array_equal(two_stage.predict_proba(features), whole)
    # the live refresh hands over the first stage it took the open image's context from
    np.testing.assert_array_equal(two_stage.predict_proba(features, first_stage=two_stage.first_stage_proba(features)),
                                  whole)
    monkeypatch.setattr(classifier, "CONTEXT_BAND_BYTES", 200 * 58 * 4 * 7)  # bands of 7 rows
    np.testing.assert_allclose(two_stage.predict_proba(features), whole, atol=1e-6)
    monkeypatch.setattr(classifier, "PREDICT_TILE", 64)  # 4 x 4 tiles, each filtered twice
    np.testing.assert_allclose(two_stage.predict_proba(image), whole, atol=1e-6)


def test_a_tier_of_many_classes_keeps_one_forest():
    assert InstantTier([f"c{i}" for i in range(MAX_CONTEXT_CLASSES)]).context_sigmas == CONTEXT_SIGMAS
    assert InstantTier([f"c{i}" for i in range(MAX_CONTEXT_CLASSES + 1)]).context_sigmas == ()


def test_a_two_stage_model_reloads_to_identical_proposals_and_refuses_tampering(nuclei, two_stage, tmp_path):
    image = nuclei[0]
    two_stage.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["context"] == {"sigmas": list(CONTEXT_SIGMAS)}
    loaded = InstantModel.load(tmp_path / "m")
    assert loaded.context_sigmas == CONTEXT_SIGMAS
    np.testing.assert_array_equal(loaded.predict_proba(image), two_stage.predict_proba(image))

    for tampered, message in [({"sigmas": [1.0, 3.0, 500.0]}, "sigma"), ({"sigmas": []}, "auto-context"),
                              ({"sigmas": "1"}, "auto-context"), (None, "does not describe")]:
        meta["context"] = tampered
        (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
        with pytest.raises(ModelError, match=message):
            InstantModel.load(tmp_path / "m")


def test_a_one_stage_model_saved_before_auto_context_loads_as_it_was(nuclei, tmp_path):
    image, truth, _ = nuclei
    scribbles = scribble_target(truth, np.random.default_rng(1), dabs=10, radius=2)
    one = InstantModel.fit([(image, scribbles)], CLASSES, params=ForestParams(trees=3), threads=1)
    one.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    del meta["context"]  # what a model of stop 22 wrote
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    loaded = InstantModel.load(tmp_path / "m")
    assert loaded.context_trees is None
    np.testing.assert_array_equal(loaded.predict_proba(image), one.predict_proba(image))


@pytest.fixture
def project(tmp_path):
    project = create_shapes_project(tmp_path / "p", count=4, size=80, labelled=0)
    yield project
    project.close()


def review_first(project, count: int, rng) -> list:
    """Paint the whole truth on the first `count` images and mark them done; all records back."""
    records = project.images(order="name")
    for record in records[:count]:
        truth = make_sample(rng, 80)[1]
        project.write_masks(record.id, truth, np.full(truth.shape, Source.HUMAN, np.uint8))
        project.mark_done(record.id)
    return records


def test_the_tier_keeps_each_reviewed_images_context_and_the_live_refresh_learns_two_stages(project):
    rng = np.random.default_rng(0)
    records = review_first(project, 2, rng)
    tier = InstantTier(project.class_names())
    drive(tier.refresh_samples(project, [r.id for r in records[:2]]))
    for record in records[:2]:
        cached = tier.cache[record.id]
        assert cached.context.shape == (cached.labels.size, 3 * len(project.class_names()))
        assert cached.image is None  # the feature stack is let go once the context is taken
    assert tier.fit().context_trees is not None

    truth = make_sample(rng, 80)[1]
    strokes = np.full(truth.shape, 255, np.uint8)
    strokes[30:50, 30:50] = truth[30:50, 30:50]
    source = np.where(strokes != 255, Source.HUMAN, Source.NONE).astype(np.uint8)
    document = MaskDocument(records[2].id, strokes.copy(), source.copy())
    live = LiveSession(tier, records[2].id, read_image(records[2].path).raw)
    result = drive(live.refresh(project, document.label.copy(), document.source.copy()))
    assert result is not None and result.train_pixels == 400
    document.apply_proposal(result.prediction.class_map)
    assert np.array_equal(document.label[30:50, 30:50], truth[30:50, 30:50])  # reviewed pixels stay


def test_fit_reuses_the_first_forest_that_settling_grew_and_predicts_as_a_fresh_fit(project):
    records = review_first(project, 3, np.random.default_rng(3))
    tier = InstantTier(project.class_names())
    ids = [r.id for r in records[:3]]
    drive(tier.refresh_samples(project, ids))
    settled = tier.settled[1]
    reused = tier.fit(ids)
    assert reused is settled  # one forest fewer per done image
    fresh = tier.fit(ids)  # nothing settled now: grown again from the same samples
    assert fresh is not reused
    raw = read_image(records[3].path).raw
    np.testing.assert_array_equal(reused.predict(raw)[0], fresh.predict(raw)[0])

    other = InstantTier(project.class_names())
    drive(other.refresh_samples(project, ids))
    settled = other.settled[1]
    del other.cache[ids[0]]  # the samples changed after settling: that forest is not theirs
    assert other.fit(ids) is not settled
