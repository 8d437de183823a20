"""Training data from the disk cache: changes are found by stat, new annotations reach the next
steps without waiting for an epoch, rare classes get their share of patches, and the trainer
holds no image in memory."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.bench.shapes_dataset import create_shapes_project
from segstudio.core.progress import StopFlag
from segstudio.core.project import Status
from segstudio.core.training import StepEvent, TrainConfig, ValidationEvent, train
from segstudio.core.training.augment import AugmentConfig
from segstudio.core.training.cache import CORRECTION, TrainingCache
from segstudio.core.training.dataset import PatchDataset
from segstudio.core.training.sampling import PrioritySampler, steps_per_epoch

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def project(reviewed_shapes_project):
    return reviewed_shapes_project


def unlabelled(project):
    return [r for r in project.images(order="added") if not project.has_masks(r.id)]


def test_cache_builds_once_finds_changes_by_stat_and_survives_a_restart(project):
    cache = TrainingCache(project, 3)
    built = cache.refresh()
    assert len(built) == 4 and cache.refresh() == []
    image_id = built[0]
    label = project.read_label(image_id)
    source = np.ones_like(label)  # an applied proposal...
    source[:8, :8] = 3  # ...with a corner a person painted over
    project.write_masks(image_id, label, source)
    assert cache.refresh() == [image_id]
    entry = cache.entries[image_id]
    assert (entry.target[:8, :8] == label[:8, :8]).all() and (entry.target[8:] == 255).all()
    assert (entry.part("weight")[:8, :8] == CORRECTION).all()
    assert entry.part("raw").shape == (40, 40, 3)
    again = TrainingCache(project, 3)  # another run: the index on disk is reused, nothing decoded
    assert again.refresh() == [] and sorted(again.entries) == sorted(cache.entries)
    project.set_status(image_id, Status.SKIPPED)
    assert again.refresh() == [] and image_id not in again.entries
    assert not list(again.folder.glob(f"{image_id}-*.npy"))


def test_a_new_image_takes_up_to_the_fresh_share_of_the_next_batches(project):
    cache = TrainingCache(project, 3)
    cache.refresh()
    sampler = PrioritySampler(8, fresh_share=0.5, fresh_patches=6)
    sampler.start_round(cache.reviewed()[:3], steps=4, round_index=0)
    newest = cache.reviewed()[3]
    sampler.add_fresh([newest])
    batches = [[plan.image.image_id for plan in batch] for batch in sampler]
    assert batches[0].count(newest.image_id) >= 4  # half of the very next batch (replay may add more)
    assert sum(batch.count(newest.image_id) for batch in batches[:2]) >= 6  # its priority draws, then replay


def test_rare_classes_are_found_by_class_balanced_patches(tmp_path):
    with create_shapes_project(tmp_path / "p", count=30, size=48) as project:
        rare_image = project.images(order="added")[0].id
        for record in project.images():
            label = np.zeros((record.height, record.width), np.uint8)
            if record.id == rare_image:
                label[20:24, 20:24] = 3  # 16 pixels of the rare class in one image of 30
            project.write_masks(record.id, label, np.full(label.shape, 3, np.uint8))
            project.set_status(record.id, Status.DONE)
        cache = TrainingCache(project, 3)
        cache.refresh()
        dataset = PatchDataset(lambda raw: raw.astype(np.float32).transpose(2, 0, 1), AugmentConfig(patch=16))
        sampler = PrioritySampler(8, rare_class_probability=0.5)
        sampler.start_round(cache.reviewed(), steps=25, round_index=0)
        patches = [dataset[plan] for batch in sampler for plan in batch]
        share = np.mean([(target == 3).any() for _, target, _, _, _ in patches])
        assert share > 0.15  # a class in 1 of 30 images would get about 1 / 30 of uniform patches


def test_steps_per_epoch_stop_growing_with_the_project():
    assert steps_per_epoch(4, 8, 8, 8, 64) == 8
    assert steps_per_epoch(40, 8, 8, 8, 64) == 40
    assert steps_per_epoch(1000, 8, 8, 8, 64) == steps_per_epoch(100_000, 8, 8, 8, 64) == 64


def test_an_image_marked_done_mid_epoch_is_in_the_next_steps(project):
    config = TrainConfig(arch="unet", model_options={"width": 4, "depth": 1}, batch_size=4, patches_per_image=1,
                         min_steps_per_epoch=200, augment=AugmentConfig(patch=16), threads=1, device="cpu")
    stop = StopFlag()
    newcomer = unlabelled(project)[0]
    marked_at, seen_at = None, None
    for event in train(project, config, stop=stop):
        assert not isinstance(event, ValidationEvent), "the epoch must not have to end first"
        if not isinstance(event, StepEvent):
            continue
        if event.step == 3:
            shape = (newcomer.height, newcomer.width)
            project.write_masks(newcomer.id, np.ones(shape, np.uint8), np.full(shape, 3, np.uint8))
            project.mark_done(newcomer.id)
            marked_at = event.step
        elif marked_at is not None and newcomer.id in event.images:
            seen_at = event.step
            stop.set()
        elif marked_at is not None and event.step > marked_at + 3:
            stop.set()
    assert seen_at is not None and seen_at <= marked_at + 2


def test_the_cache_is_never_written_through_a_link(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project.root / "cache").symlink_to(elsewhere)
    with pytest.raises(Exception, match="link"):
        TrainingCache(project, 3).refresh()
    assert not list(elsewhere.iterdir())
