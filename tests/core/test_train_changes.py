"""Seconds, not epochs: the project's annotation counter (database triggers) tells training what
changed, a change reaches a step of the same round, patches go where the loss was high, and
the disk cache keeps to its bound."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.bench.shapes_dataset import create_shapes_project
from segstudio.core.progress import StopFlag
from segstudio.core.project import Split, Status
from segstudio.core.training import RoundEvent, StepEvent, TrainConfig, ValidationEvent, train
from segstudio.core.training.augment import AugmentConfig
from segstudio.core.training.cache import TrainingCache
from segstudio.core.training.dataset import PatchDataset
from segstudio.core.training.sampling import PrioritySampler

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def project(reviewed_shapes_project):
    return reviewed_shapes_project


def paint(project, image_id, value=1):
    record = project.image(image_id)
    shape = (record.height, record.width)
    project.write_masks(image_id, np.full(shape, value, np.uint8), np.full(shape, 3, np.uint8))


def test_the_counter_moves_on_label_saves_and_status_changes_only(project):
    counter, _ = project.annotation_changes()
    done, new = project.images(status=Status.DONE)[0].id, project.images(status=Status.NEW)[0].id
    # reads, uncertainty, proposals written on a new image: nothing a trainer learns from
    project.images(), project.read_label(done), project.read_source(done), project.image(done)
    project.set_uncertainty(done, 0.5)
    record = project.image(new)
    project.write_masks(new, np.zeros((record.height, record.width), np.uint8),
                        np.ones((record.height, record.width), np.uint8))  # a proposal: source 1
    project.set_status(done, Status.DONE)  # the same status again
    assert project.annotation_changes(counter) == (counter, [])
    paint(project, done)  # a label save
    after_save, ids = project.annotation_changes(counter)
    assert after_save > counter and ids == [done]
    project.set_status(new, Status.IN_PROGRESS)  # a status change
    project.set_split(done, Split.VAL)
    after_status, ids = project.annotation_changes(after_save)
    assert after_status >= after_save + 2 and sorted(ids) == sorted([done, new])
    project.remove_image(new)
    assert project.annotation_changes(after_status)[1] == [new]


def test_the_counter_survives_a_reopen_and_reads_do_not_move_it(project, tmp_path):
    counter, _ = project.annotation_changes()
    root = project.root
    project.close()
    from segstudio.core.project import Project

    with Project.open(root, readonly=True) as reader:
        assert reader.annotation_changes()[0] == counter
        reader.images()
        assert reader.annotation_changes()[0] == counter


def tiny(**overrides) -> TrainConfig:
    values = dict(arch="unet", model_options={"width": 4, "depth": 1}, batch_size=4, patches_per_image=1,
                  min_steps_per_epoch=200, augment=AugmentConfig(patch=16), threads=1, device="cpu")
    values.update(overrides)
    return TrainConfig(**values)


@pytest.mark.parametrize("kind", ["new image", "changed labels"])
def test_an_annotation_saved_mid_round_is_used_by_a_step_of_the_same_round(project, kind):
    if kind == "new image":
        target = project.images(status=Status.NEW)[0].id
    else:  # a training image's labels change: it becomes fresh again
        target = project.images(status=Status.DONE, order="added")[0].id
    stop = StopFlag()
    rounds, saved_at, seen = [], None, []
    for event in train(project, tiny(), stop=stop):
        assert not isinstance(event, ValidationEvent), "the epoch must not have to end first"
        if isinstance(event, RoundEvent):
            rounds.append(event)
        if not isinstance(event, StepEvent):
            continue
        if event.step == 3:
            if kind == "new image":
                project.set_split(target, Split.TRAIN)
            paint(project, target, value=2)
            project.mark_done(target)
            saved_at = event.step
        elif saved_at is not None:
            seen.append(event.images.count(target))
            if len(seen) == 2:
                stop.set()
    assert len(rounds) == 1  # the same round: no reload, no new warm-up
    # the fresh share (half of a batch of 4) in the first batch planned after the save: the one
    # after next, since the next batch is read while a step computes (trainer._batches)
    assert max(seen) >= 2


def test_high_loss_regions_are_sampled_more_often_than_uniform(tmp_path):
    with create_shapes_project(tmp_path / "p", count=1, size=256) as project:
        cache = TrainingCache(project, 3)
        cache.refresh()
        image = cache.reviewed()[0]
        dataset = PatchDataset(lambda raw: raw.astype(np.float32).transpose(2, 0, 1), AugmentConfig(patch=32))

        def share_in_hot_cell(hard_share: float) -> float:
            sampler = PrioritySampler(8, seed=3, hard_share=hard_share, region=64, rare_class_probability=0.0)
            sampler.start_round([image], steps=40, round_index=0)
            for cy in range(4):  # 16 cells of 64 px: one hot, the rest cool
                for cx in range(4):
                    sampler.observe([image.image_id], [(cy * 64 + 32, cx * 64 + 32)], [5.0 if (cy, cx) == (1, 2) else 0.05])
            centres = [dataset[plan][4].tolist() for batch in sampler for plan in batch]
            return float(np.mean([y // 64 == 1 and x // 64 == 2 for y, x in centres]))

        uniform, prioritised = share_in_hot_cell(0.0), share_in_hot_cell(0.5)
        assert uniform < 0.15  # about 1 / 16 without priority
        assert prioritised > uniform + 0.25  # half of the replay goes to loss-weighted cells, mostly the hot one


def test_a_changed_image_forgets_its_region_losses(project):
    cache = TrainingCache(project, 3)
    cache.refresh()
    images = cache.reviewed()
    sampler = PrioritySampler(4, region=16)
    sampler.start_round(images, steps=2, round_index=0)
    sampler.observe([images[0].image_id], [(5, 5)], [3.0])
    assert sampler.regions.estimate(images[0].image_id, 0) == 3.0
    sampler.add_fresh([images[0]])
    assert sampler.regions.estimate(images[0].image_id, 0) == 0.0


def folder_bytes(cache) -> int:
    return sum(path.stat().st_size for path in cache.folder.glob("*.npy"))


def largest_entry(project) -> int:
    """Bytes of the largest image in an unbounded cache (the cache is deleted again)."""
    import shutil

    for record in project.images():
        project.set_status(record.id, Status.DONE)
    unbounded = TrainingCache(project, 3)
    unbounded.refresh()
    shutil.rmtree(unbounded.folder)
    return max(entry.nbytes for entry in unbounded.reviewed())


def test_the_disk_cache_stays_under_its_bound_and_rebuilds_what_it_evicted(tmp_path):
    with create_shapes_project(tmp_path / "p", count=8, size=64) as project:
        bound = int(largest_entry(project) * 3.5)
        cache = TrainingCache(project, 3, max_bytes=bound, keep_recent=1)
        assert len(cache.refresh()) == 8
        assert folder_bytes(cache) <= bound and cache.resident_bytes <= bound
        evicted = [entry for entry in cache.reviewed() if not entry.resident]
        assert len(evicted) >= 4  # 8 images, room for 3
        dataset = PatchDataset(lambda raw: raw.astype(np.float32).transpose(2, 0, 1), AugmentConfig(patch=16))
        sampler = PrioritySampler(2, ensure=cache.ensure, rare_class_probability=0.0)
        sampler.start_round(cache.reviewed(), steps=20, round_index=0)
        for batch in sampler:  # every planned image is on disk when read, and the folder keeps its bound
            for plan in batch:
                assert dataset[plan][0].shape == (3, 16, 16)
            assert folder_bytes(cache) <= bound
        again = TrainingCache(project, 3, max_bytes=bound)  # a restart keeps the evicted records
        assert sorted(again.entries) == sorted(cache.entries) and again.refresh() == []


def test_training_keeps_the_cache_under_its_bound(tmp_path):
    with create_shapes_project(tmp_path / "p", count=12, size=40) as project:
        largest = largest_entry(project)
        bound = 2 * largest
        config = tiny(max_steps=30, min_steps_per_epoch=10, batch_size=1, cache_gb=bound / 2**30)
        for _ in train(project, config):
            pass
        # the bound, or the 4 batches of one that may be in flight (never evicted)
        assert folder_bytes(TrainingCache(project, 3)) <= max(bound, 4 * largest) < 12 * largest / 2


def _review_new_image(project, split: Split) -> int:
    target = project.images(status=Status.NEW)[0].id
    project.set_split(target, split)
    paint(project, target, value=2)
    project.mark_done(target)
    return target


def test_a_new_training_image_restarts_the_learning_rate_schedule_of_a_continuous_run(project):
    """A round whose cosine reached its floor met new images at 1/20 of the learning rate:
    on real nuclei the network never improved after its first image."""
    config = tiny(continuous=True, patience=1000, min_steps_per_epoch=8, max_steps_per_epoch=8,
                  schedule_epochs=1, lr=1e-3)
    stop = StopFlag()
    before, after, joined_at = [], [], None
    for event in train(project, config, stop=stop):
        if not isinstance(event, StepEvent):
            continue
        if joined_at is None:
            before.append(event.lr)
            if event.step == 20:  # two and a half epochs of an 8-step schedule: at the floor
                _review_new_image(project, Split.TRAIN)
                joined_at = event.step
        else:
            after.append(event.lr)
            if len(after) == 16:
                stop.set()
    assert before[-1] <= 0.06 * config.lr
    assert max(after) >= 0.9 * config.lr  # warmed up again after the epoch that took it in


def test_a_candidate_is_judged_on_the_validation_images_the_best_was_not_chosen_on(project):
    """The best's score where it won its place is lucky: a later validation image is fair to both."""
    first = [event for event in train(project, tiny(max_steps=24, min_steps_per_epoch=8, max_steps_per_epoch=8))
             if isinstance(event, (RoundEvent, ValidationEvent))]
    assert first[0].val_images == 1
    best = project.best_model()
    chosen = best.metrics["chosen_on_image_ids"]
    assert len(chosen) == 1

    added = _review_new_image(project, Split.VAL)
    events = [event for event in train(project, tiny(max_steps=16, min_steps_per_epoch=8, max_steps_per_epoch=8))
              if isinstance(event, (RoundEvent, ValidationEvent))]
    assert events[0].val_images == 2
    verdicts = [event.verdict for event in events if isinstance(event, ValidationEvent)]
    assert verdicts and all("on 1 image(s)" in verdict for verdict in verdicts), verdicts
    kept = project.best_model()
    if kept.version != best.version:  # a model chosen on the new image won its place there
        assert kept.metrics["chosen_on_image_ids"] == [added]
