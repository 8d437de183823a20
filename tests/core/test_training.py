"""The trainer on small generated projects: learning, ignore index, keep-if-better, patience,
stopping, determinism, validation split and rounds. Tiny U-Nets, 32 px patches, one thread.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segstudio.bench.shapes_dataset import create_shapes_project
from segstudio.core.models.bundle import ModelBundle
from segstudio.core.progress import StopFlag, drive
from segstudio.core.project import Split
from segstudio.core.training import (
    CheckpointEvent, RoundEvent, StepEvent, TrainConfig, ValidationEvent, WaitingEvent, train,
)
from segstudio.core.training.augment import AugmentConfig
from segstudio.core.training.dataset import load_reviewed
from segstudio.core.training.losses import SegmentationLoss
from segstudio.core.training.policy import Patience, assign_validation_split


def tiny(**overrides) -> TrainConfig:
    values = dict(arch="unet", model_options={"width": 8, "depth": 2}, batch_size=4, patches_per_image=1,
                  min_steps_per_epoch=4, augment=AugmentConfig(patch=32), threads=1, device="cpu", lr=1e-2)
    values.update(overrides)
    return TrainConfig(**values)


def collect(gen):
    events = []
    result = drive(gen, events.append)
    return events, result


@pytest.fixture
def project(tmp_path):
    with create_shapes_project(tmp_path / "p", count=4, size=48) as opened:
        yield opened


def test_loss_falls_and_a_model_is_kept(project):
    events, result = collect(train(project, tiny(epochs=6)))
    losses = [e.loss for e in events if isinstance(e, StepEvent)]
    assert len(losses) == result.steps == 24
    assert np.mean(losses[-6:]) < 0.8 * np.mean(losses[:6])
    best = project.best_model()
    assert best is not None and best.version == result.best_version
    assert ModelBundle.load(best.path).class_names == project.class_names()


def test_unreviewed_pixels_become_ignore(project):
    image_id = project.images()[0].id
    label = project.read_label(image_id)
    source = np.ones_like(label)  # everything an unreviewed proposal...
    source[:10, :10] = 3  # ...except a corner a person painted
    project.write_masks(image_id, label, source)
    (image,) = load_reviewed(project, [image_id], 3, correction_weight=2.0)
    assert (image.target[:10, :10] == label[:10, :10]).all()
    assert (image.target[10:, :] == 255).all() and (image.target[:, 10:] == 255).all()
    assert image.weight[:10, :10].min() == 2.0  # painted over a proposal: a correction, weighted up


def test_ignored_pixels_get_no_gradient():
    """An image whose only reviewed pixels are one class teaches nothing about the others."""
    logits = torch.randn(1, 3, 8, 8, requires_grad=True)
    target = torch.full((1, 8, 8), 255, dtype=torch.long)
    target[0, 2:4, 2:4] = 1
    for kind in ("ce", "ce+dice", "focal"):
        logits.grad = None
        SegmentationLoss(3, kind, class_weights=torch.tensor([1.0, 2.0, 0.5]))(logits, target).backward()
        ignored = (target[0] == 255)
        assert torch.count_nonzero(logits.grad[0][:, ignored]) == 0, kind
        assert torch.count_nonzero(logits.grad[0][:, ~ignored]) > 0, kind


def test_patience_counts_validations_without_a_kept_model():
    policy = Patience(patience=2)
    policy.observe(True)
    policy.observe(False)
    assert not policy.exhausted
    policy.observe(False)
    assert policy.exhausted
    policy.restart()
    assert not policy.exhausted


def test_no_gain_ends_by_patience_and_keeps_nothing_worse(project):
    # Only background anywhere: once a model predicts it everywhere (mIoU 1.0) nothing can beat it.
    for record in project.images():
        shape = (record.height, record.width)
        project.write_masks(record.id, np.zeros(shape, np.uint8), np.full(shape, 3, np.uint8))
    _, first = collect(train(project, tiny(epochs=30, patience=2)))
    assert first.reason == "patience" and first.best_miou == 1.0
    assert first.kept_versions and project.best_model().version == first.kept_versions[-1]
    events, second = collect(train(project, tiny(epochs=30, patience=2)))
    assert second.reason == "patience" and second.epochs == 2  # the warm start was already the best
    assert second.kept_versions == [] and not any(isinstance(e, CheckpointEvent) for e in events)
    assert project.best_model().version == first.best_version


def test_stop_mid_epoch_leaves_the_last_kept_model_loadable(project):
    stop = StopFlag()
    gen = train(project, tiny(min_steps_per_epoch=6, patience=50), stop=stop)
    kept, steps_after = None, 0
    for event in gen:
        if isinstance(event, CheckpointEvent):
            kept = event.version
        if kept and isinstance(event, StepEvent):
            steps_after += 1
            if steps_after == 3:  # half-way through the next epoch
                stop.set()
    best = project.best_model()
    assert best.version == kept
    bundle = ModelBundle.load(best.path)
    assert bundle.version == kept
    assert not [p for p in project.models_dir.iterdir() if p.name.startswith(".")]


def test_closing_the_generator_mid_epoch_is_safe(project):
    gen = train(project, tiny(patience=50))
    for event in gen:
        if isinstance(event, StepEvent) and event.step == 6:
            break
    gen.close()
    assert torch.get_num_threads() >= 1
    for record in project.models():
        ModelBundle.load(record.path)


def _weights(project):
    bundle = ModelBundle.load(project.best_model().path)
    return {k: v.clone() for k, v in bundle.model.state_dict().items()}


def test_same_seed_same_weights(tmp_path):
    results = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        with create_shapes_project(tmp_path / name, count=3, size=48) as project:
            drive(train(project, tiny(epochs=2, seed=seed)))
            results.append(_weights(project))
    same = all(torch.equal(results[0][k], results[1][k]) for k in results[0])
    different = any(not torch.equal(results[0][k], results[2][k]) for k in results[0])
    assert same and different


def test_validation_split_is_one_in_five_and_stable(tmp_path):
    with create_shapes_project(tmp_path / "p", count=10, size=32) as project:
        ids = [r.id for r in sorted(project.images(), key=lambda r: r.name)]
        assign_validation_split(project, ids[:6])
        val = [r.id for r in project.images(split=Split.VAL)]
        assert val == [ids[1]]
        assign_validation_split(project, ids)
        splits = {r.id: r.split for r in project.images()}
        assert [i for i in ids if splits[i] == Split.VAL] == [ids[1], ids[6]]
        assert assign_validation_split(project, ids) == []  # already assigned: nothing moves


def test_validation_holds_every_class_training_holds_and_a_class_is_taught_before_it_validates(tmp_path):
    with create_shapes_project(tmp_path / "p", count=8, size=32) as project:
        ids = [r.id for r in sorted(project.images(), key=lambda r: r.name)]
        classes = dict(zip(ids, [{0, 1}, {0, 2}, {0, 1}, {0}, {0, 2}, {0}, {0}, {0, 1, 2}]))
        assign_validation_split(project, ids[:5], classes=classes)
        splits = {r.id: r.split for r in project.images()}
        # 2nd: one in five would validate, but nothing taught class 2 yet; 3rd: validation lacked
        # class 1; 5th: validation lacked class 2 once the 2nd had taught it
        assert [splits[i] for i in ids[:5]] == [Split.TRAIN, Split.TRAIN, Split.VAL, Split.TRAIN, Split.VAL]
        assign_validation_split(project, ids, classes=classes)  # later images: one in five again
        splits = {r.id: r.split for r in project.images()}
        assert [splits[i] for i in ids[5:]] == [Split.TRAIN, Split.VAL, Split.TRAIN]
        assert assign_validation_split(project, ids, classes=classes) == []


def test_the_trainer_gives_validation_the_class_its_first_validation_image_lacked(tmp_path):
    with create_shapes_project(tmp_path / "p", count=3, size=48) as project:
        records = sorted(project.images(), key=lambda r: r.name)
        only_background = np.zeros((48, 48), np.uint8)
        project.write_masks(records[1].id, only_background, np.full(only_background.shape, 3, np.uint8))
        drive(train(project, tiny(epochs=1)))
        splits = [project.image(r.id).split for r in records]
        assert splits == [Split.TRAIN, Split.VAL, Split.VAL]


def test_new_annotations_start_a_new_round_in_continuous_mode(tmp_path):
    with create_shapes_project(tmp_path / "p", count=3, size=48, labelled=2) as project:
        stop = StopFlag()
        gen = train(project, tiny(lr=0.0, patience=1, continuous=True, poll_seconds=0.2), stop=stop)
        rounds, annotated = [], False
        for event in gen:
            if isinstance(event, RoundEvent):
                rounds.append(event)
                if len(rounds) == 2:
                    stop.set()
            if isinstance(event, WaitingEvent) and not annotated:
                record = next(r for r in project.images() if not project.has_masks(r.id))
                shape = (record.height, record.width)
                project.write_masks(record.id, np.ones(shape, np.uint8), np.full(shape, 3, np.uint8))
                annotated = True
        assert [r.reason for r in rounds] == ["start", "annotations changed"]
        assert rounds[1].train_images + rounds[1].val_images == 3  # the new image joined


def test_validation_events_carry_per_class_iou(project):
    events, _ = collect(train(project, tiny(epochs=1)))
    (validation,) = [e for e in events if isinstance(e, ValidationEvent)]
    assert set(validation.per_class_iou) == set(project.class_names())
    assert 0.0 <= validation.miou <= 1.0
