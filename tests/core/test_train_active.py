"""Active learning: the most uncertain unreviewed image comes next; refreshed proposals never
touch reviewed pixels."""

from __future__ import annotations

import numpy as np

from segstudio.bench.shapes_dataset import create_shapes_project
from segstudio.core.active import refresh_proposals
from segstudio.core.workspace.review import next_most_uncertain, rank_by_uncertainty
from segstudio.core.progress import drive
from segstudio.core.project import Status
from segstudio.core.training import TrainConfig, train
from segstudio.core.training.augment import AugmentConfig


def test_next_most_uncertain_skips_reviewed_and_current(tmp_path):
    with create_shapes_project(tmp_path / "p", count=5, size=32, labelled=0) as project:
        a, b, c, d, e = (r.id for r in sorted(project.images(), key=lambda r: r.name))
        project.set_uncertainty(a, 0.2)
        project.set_uncertainty(b, 0.9)
        project.set_uncertainty(c, 0.5)
        project.set_status(b, Status.DONE)  # reviewed: never proposed again
        assert [r.id for r in rank_by_uncertainty(project)] == [c, a, d, e]  # unscored last, by name
        assert next_most_uncertain(project) == c
        assert next_most_uncertain(project, current_id=c) == a
        for image_id in (a, c, d, e):
            project.set_status(image_id, Status.SKIPPED)
        assert next_most_uncertain(project) is None


def test_refresh_proposals_only_touches_unreviewed_pixels(tmp_path):
    with create_shapes_project(tmp_path / "p", count=4, size=48, labelled=2) as project:
        drive(train(project, TrainConfig(arch="unet", model_options={"width": 8, "depth": 2}, epochs=1, batch_size=4,
                                         patches_per_image=1, min_steps_per_epoch=2, augment=AugmentConfig(patch=32),
                                         threads=1, device="cpu")))
        new_ids = [r.id for r in project.images(status=Status.NEW)]
        fresh, partly = new_ids
        label = np.full((48, 48), 255, np.uint8)
        source = np.zeros((48, 48), np.uint8)
        label[:8, :8], source[:8, :8] = 3, 3  # a person's pixels on an image still marked new
        project.write_masks(partly, label, source)
        project.set_status(partly, Status.NEW)
        done_id = project.images(status=Status.IN_PROGRESS)[0].id
        before = project.read_label(done_id).copy()
        refreshed = drive(refresh_proposals(project, project.best_model().path, device="cpu"))
        assert refreshed == 2
        assert set(np.unique(project.read_source(fresh))) == {1}
        kept = project.read_label(partly)
        assert (kept[:8, :8] == 3).all() and (project.read_source(partly)[:8, :8] == 3).all()
        assert (project.read_source(partly)[8:, :] == 1).all()
        assert (project.read_label(done_id) == before).all()
        assert project.image(fresh).uncertainty is not None
        # the image with a person's pixels is in progress now; the other one is skipped (open in the editor)
        assert project.image(partly).status == Status.IN_PROGRESS
        assert drive(refresh_proposals(project, project.best_model().path, device="cpu", skip={fresh})) == 0
