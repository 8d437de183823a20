"""The ladder and the live refresh: instant proposals from the first strokes, never touching
reviewed pixels, and the better kind of model proposing (scored test-then-train)."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.bench.annotator import image_iou
from segstudio.bench.shapes_dataset import create_shapes_project, make_sample
from segstudio.core import ladder
from segstudio.core.document import MaskDocument
from segstudio.core.imageio import read_image
from segstudio.core.instant_tier import InstantTier
from segstudio.core.ladder_round import images_to_observe, instant_round, needs_round, refresh_unreviewed
from segstudio.core.live import LiveSession
from segstudio.core.progress import drive
from segstudio.core.project import Source, Status


def _scribbles(truth: np.ndarray, per_class: int = 3, radius: int = 2, seed: int = 0) -> np.ndarray:
    """A few small discs of each class, inside that class: what a person draws to start."""
    rng = np.random.default_rng(seed)
    scribbled = np.full(truth.shape, 255, np.uint8)
    yy, xx = np.ogrid[:truth.shape[0], :truth.shape[1]]
    for class_id in np.unique(truth):
        ys, xs = np.nonzero(truth == class_id)
        for pick in rng.choice(ys.size, min(per_class, ys.size), replace=False):
            disc = (yy - ys[pick]) ** 2 + (xx - xs[pick]) ** 2 <= radius ** 2
            scribbled[disc & (truth == class_id)] = class_id
    return scribbled


@pytest.fixture
def project(tmp_path):
    project = create_shapes_project(tmp_path / "p", count=5, size=96, labelled=0)
    yield project
    project.close()


def _truths(count: int = 5, size: int = 96) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [make_sample(rng, size)[1] for _ in range(count)]


def test_a_few_scribbles_on_one_image_give_a_proposal_that_keeps_reviewed_pixels(project):
    record = project.images(order="name")[0]
    truth = _truths()[0]
    scribbled = _scribbles(truth)
    source = np.where(scribbled != 255, Source.HUMAN, Source.NONE).astype(np.uint8)
    document = MaskDocument(record.id, scribbled.copy(), source.copy())
    live = LiveSession(InstantTier(project.class_names()), record.id, read_image(record.path).raw)

    result = drive(live.refresh(project, document.label.copy(), document.source.copy()))

    assert result is not None and result.train_pixels == int(np.count_nonzero(scribbled != 255))
    proposal = result.prediction.class_map
    assert set(np.unique(proposal)) <= set(np.unique(truth))
    assert image_iou(truth, proposal) > 0.5  # chance on 4 classes with a dominant background is far lower
    document.apply_proposal(proposal)
    reviewed = source == Source.HUMAN
    assert np.array_equal(document.label[reviewed], scribbled[reviewed])  # never changed by a refresh
    assert (document.source[~reviewed] == Source.PROPOSAL).all()


def test_nothing_reviewed_anywhere_gives_no_refresh(project):
    record = project.images(order="name")[0]
    live = LiveSession(InstantTier(project.class_names()), record.id, read_image(record.path).raw)
    empty = np.full((96, 96), 255, np.uint8)
    assert drive(live.refresh(project, empty, np.zeros((96, 96), np.uint8))) is None


def _review(project, record, truth) -> None:
    project.write_masks(record.id, truth, np.full(truth.shape, Source.HUMAN, np.uint8))
    project.mark_done(record.id)


def test_instant_round_learns_every_reviewed_image_and_proposes_on_the_rest(project):
    records, truths = project.images(order="name"), _truths()
    tier = InstantTier(project.class_names())
    assert not needs_round(project)
    for record, truth in zip(records[:2], truths[:2]):
        _review(project, record, truth)
    assert needs_round(project)

    version = drive(instant_round(project, tier))

    assert version.arch == ladder.INSTANT_ARCH and sorted(version.metrics["image_ids"]) == [r.id for r in records[:2]]
    assert not needs_round(project)
    assert ladder.proposing_record(project).version == version.version  # no network: the instant tier proposes
    proposer = ladder.load_proposing(project)
    assert drive(refresh_unreviewed(project, proposer, skip={records[4].id})) == 2
    for record in records[2:4]:
        assert project.image(record.id).status == Status.NEW
        assert (project.read_source(record.id) == Source.PROPOSAL).all()
        expected = drive(proposer.predict(read_image(record.path).raw)).class_map
        assert np.array_equal(project.read_label(record.id), expected)  # the saved version proposed
        assert project.image(record.id).uncertainty is not None  # ranks the image for review
    assert not project.has_masks(records[4].id)  # the image open in the editor is left alone

    _review(project, records[2], truths[2])  # reviewed after the version learnt: scored before learning
    assert images_to_observe(project) == [records[2].id]
    drive(instant_round(project, tier))
    history = project.get_setting(ladder.HISTORY_SETTING)
    assert [entry["image"] for entry in history] == [records[2].id]
    assert set(history[0]["scores"]) == {"instant"}
    miou, images = ladder.pooled_miou(project, "instant")
    assert images == 1 and miou > 0.5


def _entry(image: int, instant: float, network: float) -> dict:
    """A history entry where each kind got `share` of 100 background and 100 foreground pixels right."""
    def matrix(share: float) -> list:
        right = int(100 * share)
        return [[right, 100 - right], [100 - right, right]]
    return {"image": image, "scores": {"instant": {"version": "v0001", "confusion": matrix(instant)},
                                       "network": {"version": "v0002", "confusion": matrix(network)}}}


def test_the_ladder_switches_only_on_a_clear_gain_and_holds_it(tmp_path):
    from segstudio.core.project import Project

    with Project.create(tmp_path / "q", classes=["background", "thing"]) as project:
        assert ladder.choose_kind(project) == "instant"
        project.set_setting(ladder.HISTORY_SETTING, [_entry(1, 0.90, 0.95)])
        assert ladder.choose_kind(project) == "instant"  # one image is not enough evidence
        project.set_setting(ladder.HISTORY_SETTING, [_entry(1, 0.90, 0.905), _entry(2, 0.90, 0.905)])
        assert ladder.choose_kind(project) == "instant"  # within the margin: the incumbent stays
        project.set_setting(ladder.HISTORY_SETTING, [_entry(1, 0.90, 0.95), _entry(2, 0.90, 0.95)])
        assert ladder.choose_kind(project) == "network"
        history = [_entry(i, 0.90, 0.95) for i in (1, 2)] + [_entry(3, 0.905, 0.90)]
        project.set_setting(ladder.HISTORY_SETTING, history)
        assert ladder.choose_kind(project) == "network"  # a slightly better instant image does not flip it back
        project.set_setting(ladder.HISTORY_SETTING, [_entry(i, 0.97, 0.90) for i in range(1, 6)])
        assert ladder.choose_kind(project) == "instant"


def test_instant_versions_are_pruned_but_networks_never(project):
    tier = InstantTier(project.class_names())
    records, truths = project.images(order="name"), _truths()
    _review(project, records[0], truths[0])
    for _ in range(ladder.KEEP_INSTANT_VERSIONS + 2):
        drive(tier.refresh_samples(project, [records[0].id]))
        ladder.save_instant_version(project, tier.fit(), {"image_ids": [records[0].id]})
    project.register_model("v9000", "unet", {}, best=True)
    kinds = [m.arch for m in project.models()]
    assert kinds.count(ladder.INSTANT_ARCH) == ladder.KEEP_INSTANT_VERSIONS and "unet" in kinds
    on_disk = {p.name for p in project.models_dir.iterdir()}
    assert {m.version for m in project.models() if m.arch == ladder.INSTANT_ARCH} == on_disk
