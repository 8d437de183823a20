"""The ladder's third kind: the instant classifier reading a network's class probabilities (hybrid).

Real tiny U-Nets, real forests, real project folders: a hybrid learns in the same round as the
instant tier once a network exists, is saved as its own kind naming the network it reads, reloads
to the same proposals, refuses a model file that names a path, and takes over only on a sure gain.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from segstudio.bench.shapes_dataset import create_shapes_project, make_sample
from segstudio.core import ladder
from segstudio.core.errors import ModelError
from segstudio.core.imageio import read_image
from segstudio.core.instant_tier import InstantTier
from segstudio.core.ladder_round import instant_round
from segstudio.core.live import LiveSession
from segstudio.core.progress import drive
from segstudio.core.project import Project, Source
from segstudio.core.proposers import HYBRID_ARCH, HybridProposer, load_proposer, network_planes
from tests.data_makers.networks import keep_tiny_network


@pytest.fixture
def project(tmp_path):
    project = create_shapes_project(tmp_path / "p", count=5, size=96, labelled=0)
    yield project
    project.close()


def _review_two(project) -> list:
    rng = np.random.default_rng(0)
    records = project.images(order="name")
    for record in records[:2]:
        truth = make_sample(rng, 96)[1]
        project.write_masks(record.id, truth, np.full(truth.shape, Source.HUMAN, np.uint8))
        project.mark_done(record.id)
    return records


def _hybrid_round(project):
    tier, hybrid = InstantTier(project.class_names()), InstantTier(project.class_names())
    instant = drive(instant_round(project, tier, hybrid=hybrid))
    return instant, ladder.latest_of_kind(project, "hybrid"), hybrid


def test_no_hybrid_before_a_network_then_one_that_reads_the_best_network(project):
    records = _review_two(project)
    instant, hybrid, _ = _hybrid_round(project)
    assert instant is not None and hybrid is None and set(ladder.candidates(project)) == {"instant"}

    network = keep_tiny_network(project)
    tier, hybrid_tier = InstantTier(project.class_names()), InstantTier(project.class_names())
    project.write_masks(records[2].id, *_scribble(project, records[2]))
    project.mark_done(records[2].id)
    drive(instant_round(project, tier, hybrid=hybrid_tier))

    hybrid = ladder.latest_of_kind(project, "hybrid")
    assert hybrid.arch == HYBRID_ARCH and hybrid.kind == "hybrid" and hybrid.metrics["network"] == network
    assert sorted(hybrid.metrics["image_ids"]) == [r.id for r in records[:3]]
    assert set(ladder.candidates(project)) == {"instant", "network", "hybrid"}
    # the network was scored with the instant tier on the image reviewed after it came; the window
    # shows the instant tier proposing (one image is no evidence) and the network's score beside it
    assert set(project.get_setting(ladder.HISTORY_SETTING)[-1]["scores"]) == {"instant", "network"}
    now = ladder.standing(project)
    assert now.kind == "instant" and [kind for kind, _ in now.others] == ["network"]
    assert [kind for kind, _ in now.efforts] == ["instant", "network"]


def _scribble(project, record) -> tuple[np.ndarray, np.ndarray]:
    truth = make_sample(np.random.default_rng(record.id), 96)[1]
    return truth, np.full(truth.shape, Source.HUMAN, np.uint8)


def test_a_saved_hybrid_reloads_to_the_same_proposal_tiled_or_whole(project, monkeypatch):
    from segstudio.core.instant import classifier

    records = _review_two(project)
    keep_tiny_network(project)
    _, record, tier = _hybrid_round(project)
    proposer = load_proposer(record.path, record.arch, version=record.version)
    assert isinstance(proposer, HybridProposer) and proposer.model.network_planes == len(project.class_names())

    raw = read_image(records[3].path).raw
    whole = drive(proposer.predict(raw))
    in_memory = tier.fit()  # the same cached samples, seed and forest: the same trees
    features = tier.features(raw)  # filter bank + the network's planes, as the tier trains on them
    assert np.array_equal(in_memory.predict(features)[0], whole.class_map)
    monkeypatch.setattr(classifier, "PREDICT_TILE", 40)  # the raw image goes through in tiles
    assert np.array_equal(drive(proposer.predict(raw)).class_map, whole.class_map)
    assert len(np.unique(whole.class_map)) > 1


def test_a_hybrid_without_its_planes_or_naming_a_path_is_refused(project):
    records = _review_two(project)
    keep_tiny_network(project)
    _, record, _ = _hybrid_round(project)
    model = load_proposer(record.path, record.arch).model
    with pytest.raises(ModelError, match="network"):
        model.predict_proba(read_image(records[3].path).raw)  # the planes are part of its input

    meta_path = record.path / "model.json"
    original = json.loads(meta_path.read_text())
    planes = original["features"]["network"]["planes"]
    for change in ({"version": "../../../elsewhere"}, {"version": "/tmp/v0001"}, {"planes": 99},
                   {"planes": float(planes)}, {"planes": str(planes)}, {"version": 1}):
        meta = json.loads(json.dumps(original))
        meta["features"]["network"].update(change)
        meta_path.write_text(json.dumps(meta))
        with pytest.raises(ModelError):
            load_proposer(record.path, record.arch)
    meta = json.loads(json.dumps(original))
    meta["features"]["network"] = None  # registered as a hybrid, but the file reads no network
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelError):
        load_proposer(record.path, record.arch)


def test_a_hybrid_whose_network_was_removed_is_no_candidate(project):
    _review_two(project)
    network = keep_tiny_network(project)
    _hybrid_round(project)
    assert "hybrid" in ladder.candidates(project)
    project.forget_model(network)
    assert "hybrid" not in ladder.candidates(project) and ladder.latest_of_kind(project, "hybrid") is None


def test_a_new_best_network_drops_the_samples_cached_with_the_old_one(project):
    _review_two(project)
    keep_tiny_network(project)
    _, first, tier = _hybrid_round(project)
    assert tier.cache
    newer = keep_tiny_network(project, seed=1)
    tier.use_network(load_proposer(project.models_dir / newer, "unet", version=newer))
    assert not tier.cache and tier.base_model is None  # every image is featured again with the new planes
    drive(tier.refresh_samples(project, [r.id for r in project.images(order="name")[:2]]))
    model = tier.fit()
    assert model.network_version == newer != first.metrics["network"]


def _observe(project, image: int, shares: dict[str, float]) -> None:
    size = 64
    truth = np.zeros((size, size), np.uint8)
    truth[:, size // 2:] = 1
    predictions = {}
    for offset, (kind, share) in enumerate(shares.items()):
        wrong = np.random.default_rng(image * 10 + offset).random(truth.shape) >= share
        predictions[kind] = (f"v000{offset + 1}", np.where(wrong, 1 - truth, truth).astype(np.uint8))
    ladder.observe(project, image, truth, predictions)


def test_the_ladder_hands_over_to_the_hybrid_only_on_a_sure_gain(tmp_path):
    with Project.create(tmp_path / "q", classes=["background", "thing"]) as project:
        for image in (1, 2):
            _observe(project, image, {"instant": 0.80, "network": 0.85})
        assert ladder.choose_kind(project) == "network"
        _observe(project, 3, {"instant": 0.80, "network": 0.85, "hybrid": 0.97})
        assert ladder.choose_kind(project) == "network"  # one image of the hybrid is not enough
        _observe(project, 4, {"instant": 0.80, "network": 0.85, "hybrid": 0.97})
        assert ladder.choose_kind(project) == "hybrid"  # surely better than the network proposing
        for image in range(5, 9):
            _observe(project, image, {"instant": 0.975, "network": 0.85, "hybrid": 0.97})
        assert ladder.choose_kind(project) == "hybrid"  # a hair better is not surely better


def test_a_live_refresh_on_the_hybrid_tier_reads_the_network_and_keeps_reviewed_pixels(project):
    records = _review_two(project)
    version = keep_tiny_network(project)
    names = project.class_names()
    tier = InstantTier(names)
    tier.use_network(load_proposer(project.models_dir / version, "unet", version=version))
    record = records[3]
    truth = make_sample(np.random.default_rng(7), 96)[1]
    painted = np.zeros(truth.shape, bool)
    painted[::9, ::9] = True
    label = np.where(painted, truth, 255).astype(np.uint8)
    source = np.where(painted, Source.HUMAN, Source.NONE).astype(np.uint8)
    session = LiveSession(tier, record.id, read_image(record.path).raw)

    result = drive(session.refresh(project, label, source))

    assert result.hybrid and not result.network_voted
    assert session.features().values.shape[-1] == len(_filter_bank(tier)) + len(names)
    planes = network_planes(drive(tier.network.predict(read_image(record.path).raw)), len(names))
    assert np.allclose(session.features().values[..., -len(names):], planes)
    from segstudio.core.document import MaskDocument

    document = MaskDocument(record.id, label.copy(), source.copy())
    document.apply_proposal(result.prediction.class_map)
    assert np.array_equal(document.label[painted], truth[painted])


def _filter_bank(tier) -> list[str]:
    from segstudio.core.instant.features import feature_names

    return feature_names(tier.channels)


def test_a_best_network_with_other_classes_gets_no_hybrid_and_asks_for_no_more_rounds(project):
    """A network trained before a class was renamed has no planes for the project's classes."""
    from segstudio.core.ladder_round import needs_round

    _review_two(project)
    keep_tiny_network(project, classes=project.class_names()[:-1] + ["renamed"])
    hybrid = InstantTier(project.class_names())
    assert needs_round(project)

    drive(instant_round(project, InstantTier(project.class_names()), hybrid=hybrid))

    assert ladder.latest_of_kind(project, "hybrid") is None and hybrid.network is None
    assert ladder.latest_instant(project) is not None and not needs_round(project)
