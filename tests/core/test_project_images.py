"""Images in a project: adding files and folders, duplicates and failures, status, split,
filters, search and sort, label/source maps (and the refusal of bad ones), statistics."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segstudio.core.errors import ProjectError, SaveError
from segstudio.core.project import IGNORE, Project, Source, Split, Status


def _png(path, shape=(12, 16), value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*shape, 3), value, np.uint8)).save(path)
    return path


@pytest.fixture()
def folder(tmp_path):
    """cells/: 3 distinct images (one in a sub-folder), a copy of one, junk and a text file."""
    cells = tmp_path / "cells"
    _png(cells / "alpha.png", value=10)
    _png(cells / "beta_1.png", (20, 30), value=20)
    _png(cells / "deep" / "gamma%.png", value=30)
    (cells / "copy-of-alpha.png").write_bytes((cells / "alpha.png").read_bytes())
    (cells / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (cells / "empty.jpg").write_bytes(b"")
    (cells / "notes.txt").write_text("not an image")
    (cells / ".hidden.png").write_bytes((cells / "alpha.png").read_bytes())
    return cells


@pytest.fixture()
def project(tmp_path):
    with Project.create(tmp_path / "proj", ["background", "cell", "nucleus"]) as project:
        yield project


def test_adding_a_folder_finds_images_recursively_and_reports_the_rest(project, folder, tmp_path):
    report = project.add_images([folder, tmp_path / "missing"])
    assert sorted(r.name for r in report.added) == ["alpha.png", "beta_1.png", "gamma%.png"]
    assert [p.name for p in report.duplicates] == ["copy-of-alpha.png"]
    failed = {p.name: reason for p, reason in report.failed}
    assert set(failed) == {"broken.png", "empty.jpg", "missing"}
    assert all(reason for reason in failed.values())
    assert report.summary(named=0) == "3 added, 1 duplicates skipped, 3 failed"
    assert report.summary(named=2) == ("3 added, 1 duplicates skipped, 3 failed: missing (no such file or folder); "
                                       "broken.png (not an image, or a kind of image SegStudio cannot read); and 1 more")
    beta = next(r for r in report.added if r.name == "beta_1.png")
    assert (beta.width, beta.height, beta.status, beta.split) == (30, 20, Status.NEW, Split.UNASSIGNED)
    assert beta.path == folder / "beta_1.png" and beta.path.is_absolute()

    again = project.add_images([folder])
    assert again.added == [] and len(again.duplicates) == 4


def test_adding_without_recursion_and_single_files(project, folder):
    report = project.add_images([folder], recursive=False)
    assert "gamma%.png" not in {r.name for r in report.added}
    report = project.add_images([folder / "deep" / "gamma%.png"])
    assert [r.name for r in report.added] == ["gamma%.png"]


def test_copying_images_in_keeps_paths_relative_to_the_project(project, folder):
    report = project.add_images([folder / "alpha.png"], copy=True)
    (record,) = report.added
    assert record.rel_path == "images/alpha.png"
    assert record.path == project.root / "images" / "alpha.png" and record.path.is_file()


@pytest.mark.parametrize("pool_from", [0, 1 << 20], ids=["on-the-pool", "on-this-thread"])
def test_adding_can_be_stopped_between_files(project, folder, monkeypatch, pool_from):
    from segstudio.core.progress import Progress, StopFlag, drive

    monkeypatch.setattr(type(project), "_POOL_FROM_BYTES", pool_from)
    stop = StopFlag()
    gen = project.iter_add_images([folder], stop=stop)
    first = next(gen)
    assert isinstance(first, Progress) and (first.done, first.total) == (0, 6)
    stop.set()
    report = drive(gen)
    assert len(report.added) <= 1  # the file in hand is finished, no further one is started
    assert len(project.images()) == len(report.added)


def test_status_split_filters_search_and_sort(project, folder):
    project.add_images([folder])
    ids = {r.name: r.id for r in project.images()}
    assert list(ids) == ["alpha.png", "beta_1.png", "gamma%.png"]  # by name
    project.set_status(ids["beta_1.png"], Status.DONE)
    project.set_status(ids["gamma%.png"], "skipped")
    project.set_split(ids["alpha.png"], Split.VAL)
    project.set_uncertainty(ids["gamma%.png"], 0.9)
    project.set_uncertainty(ids["alpha.png"], 0.2)

    def names(**kwargs):
        return [r.name for r in project.images(**kwargs)]

    assert names(status=Status.DONE) == ["beta_1.png"]
    assert names(status=["new", Status.SKIPPED]) == ["alpha.png", "gamma%.png"]
    assert names(split="val") == ["alpha.png"]
    assert names(split=Split.UNASSIGNED, status="done") == ["beta_1.png"]
    assert names(search="ETA") == ["beta_1.png"]
    assert names(search="%") == ["gamma%.png"]  # wildcards are literal
    assert names(search="_") == ["beta_1.png"]
    assert names(order="uncertainty") == ["gamma%.png", "alpha.png", "beta_1.png"]
    assert names(order="status") == ["alpha.png", "beta_1.png", "gamma%.png"]
    assert names(order="added") == ["alpha.png", "beta_1.png", "gamma%.png"]
    with pytest.raises(ProjectError, match="unknown order"):
        project.images(order="colour")
    with pytest.raises(ValueError):
        project.set_status(ids["alpha.png"], "finished")
    with pytest.raises(ProjectError, match="no image with id 999"):
        project.set_split(999, Split.TRAIN)
    assert project.image(ids["alpha.png"]).uncertainty == pytest.approx(0.2)


def test_masks_round_trip_and_a_first_human_edit_starts_the_image(project, folder):
    (record,) = project.add_images([folder / "beta_1.png"]).added
    assert not project.has_masks(record.id)
    assert (project.read_label(record.id) == IGNORE).all()
    assert project.read_label(record.id).shape == (20, 30)
    assert not project.read_source(record.id).any()

    rng = np.random.default_rng(1)
    label = rng.choice(np.array([0, 1, 2, IGNORE], np.uint8), size=(20, 30))
    source = np.where(label == IGNORE, Source.NONE, Source.PROPOSAL).astype(np.uint8)
    project.write_masks(record.id, label, source)
    np.testing.assert_array_equal(project.read_label(record.id), label)
    np.testing.assert_array_equal(project.read_source(record.id), source)
    assert project.image(record.id).status == Status.NEW  # proposals alone start nothing

    source[0, 0] = Source.HUMAN
    project.write_masks(record.id, label, source)
    assert project.image(record.id).status == Status.IN_PROGRESS


@pytest.mark.parametrize(
    ("label", "source", "message"),
    [
        (np.zeros((20, 29), np.uint8), np.zeros((20, 30), np.uint8), "label map is"),
        (np.zeros((20, 30), np.uint8), np.zeros((30, 20), np.uint8), "source map is"),
        (np.zeros((20, 30), np.int32), np.zeros((20, 30), np.uint8), "dtype int32"),
        (np.zeros((20, 30), np.uint8), np.zeros((20, 30), np.float32), "dtype float32"),
        (np.full((20, 30), 7, np.uint8), np.zeros((20, 30), np.uint8), r"class ids \[7\]"),
        (np.zeros((20, 30), np.uint8), np.full((20, 30), 4, np.uint8), "source map holds values above 3"),
    ],
    ids=["label-size", "source-size", "label-dtype", "source-dtype", "class-id", "source-value"],
)
def test_bad_masks_are_refused_and_the_stored_ones_kept(project, folder, label, source, message):
    (record,) = project.add_images([folder / "beta_1.png"]).added
    good = np.ones((20, 30), np.uint8)
    project.write_masks(record.id, good, good)
    stored = (project.labels_dir / f"{record.id}.png").read_bytes()
    with pytest.raises(SaveError, match=message):
        project.write_masks(record.id, label, source)
    assert (project.labels_dir / f"{record.id}.png").read_bytes() == stored
    np.testing.assert_array_equal(project.read_source(record.id), good)


def test_a_damaged_mask_file_is_reported_not_guessed(project, folder):
    (record,) = project.add_images([folder / "alpha.png"]).added
    (project.labels_dir / f"{record.id}.png").write_bytes(b"half a png")
    with pytest.raises(ProjectError, match="damaged"):
        project.read_label(record.id)


def test_removing_an_image_forgets_it_and_its_masks(project, folder):
    (record,) = project.add_images([folder / "alpha.png"]).added
    project.write_masks(record.id, np.zeros((12, 16), np.uint8), np.zeros((12, 16), np.uint8))
    project.remove_image(record.id)
    assert project.images() == [] and not project.has_masks(record.id)
    assert (folder / "alpha.png").is_file()  # the image file itself stays
    with pytest.raises(ProjectError):
        project.image(record.id)


def test_stats_count_statuses_splits_and_class_pixels(project, folder):
    project.add_images([folder])
    first, second, _ = project.images()
    label = np.full((12, 16), IGNORE, np.uint8)
    label[:3] = 1
    label[3:4] = 2
    project.write_masks(first.id, label, np.where(label == IGNORE, 0, 3).astype(np.uint8))
    project.set_split(second.id, Split.TRAIN)
    project.set_status(second.id, Status.DONE)
    stats = project.stats()
    assert stats["images"] == 3
    assert stats["status_counts"] == {"new": 1, "in_progress": 1, "done": 1, "skipped": 0}
    assert stats["split_counts"] == {"train": 1, "val": 0, "test": 0, "unassigned": 2}
    assert stats["class_pixels"] == {"background": 0, "cell": 48, "nucleus": 16}
    assert stats["unlabelled_pixels"] == 12 * 16 - 64


def test_models_settings_and_history(project):
    version = project.new_model_version()
    assert version == "v0001"
    (project.models_dir / version).mkdir()
    project.register_model(version, "unet", {"miou": 0.5}, best=True)
    assert project.new_model_version() == "v0002"
    project.register_model("v0002", "unet", {"miou": 0.4}, best=False)
    assert project.best_model().version == "v0001"
    assert [m.metrics["miou"] for m in project.models()] == [0.5, 0.4]
    project.set_setting("brush", {"radius": 5})
    assert project.get_setting("brush") == {"radius": 5}
    assert project.get_setting("nothing", 3) == 3
    project.log_event("opened", note="x")
    assert project.history(limit=1)[0] == {**project.history(limit=1)[0], "kind": "opened", "note": "x"}


def test_non_ascii_names_and_paths_work_end_to_end(project, tmp_path):
    path = _png(tmp_path / "données" / "cellule ünï 細胞.png", value=90)
    (record,) = project.add_images([path.parent]).added
    assert record.name == "cellule ünï 細胞.png" and record.path == path
    assert project.images(search="細胞") == [record]
    project.write_masks(record.id, np.ones((12, 16), np.uint8), np.full((12, 16), 3, np.uint8))
    assert (project.read_label(record.id) == 1).all()
