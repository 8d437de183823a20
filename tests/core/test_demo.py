"""`segstudio demo`: the bundled demo becomes a real project, and headless training on it gives a
model and proposals on the images nobody reviewed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segstudio.cli import main
from segstudio.core.workspace.demo import DEMO_SETTING, load_manifest, prepare_demo
from segstudio.core import ladder
from segstudio.core.errors import ProjectError, ProjectLockedError
from segstudio.core.models import ModelBundle
from segstudio.core.project import Project, Source, Status
from segstudio.resources_path import resource_path


def test_bundled_demo_is_complete_and_small():
    manifest = load_manifest()
    demo = resource_path("demo")
    assert [c["name"] for c in manifest["classes"]] == ["background", "nucleus", "nucleus boundary"]
    reviewed = [image for image in manifest["images"] if "mask" in image]
    assert len(manifest["images"]) == 14 and len(reviewed) == 3
    for image in manifest["images"]:
        with Image.open(demo / image["file"]) as pixels:
            assert pixels.mode == "L" and pixels.size == (image["width"], image["height"])
    for image in reviewed:
        mask = np.array(Image.open(demo / image["mask"]))
        assert set(np.unique(mask)) == {0, 1, 2}  # all three classes are drawn
    assert "BBBC007" in (demo / "NOTICE.md").read_text() and "Ljosa" in manifest["attribution"]
    assert sum(f.stat().st_size for f in demo.rglob("*") if f.is_file()) < 3 * 2**20


def test_prepare_demo_creates_a_project_with_three_reviewed_images(tmp_path):
    root = prepare_demo(tmp_path / "demo")
    manifest = load_manifest()
    with Project.open(root) as project:
        assert project.class_names() == ["background", "nucleus", "nucleus boundary"]
        assert project.classes()[1].color == tuple(manifest["classes"][1]["color"])
        records = project.images()
        assert len(records) == 14
        assert all(r.path.is_relative_to(root) for r in records)  # copied in: the demo is self-contained
        done = project.images(status=Status.DONE)
        assert sorted(r.name for r in done) == sorted(i["file"].split("/")[1] for i in manifest["images"] if "mask" in i)
        for record in done:
            assert (project.read_source(record.id) == Source.HUMAN).all()
            expected = np.array(Image.open(resource_path("demo", "masks", record.name)))
            np.testing.assert_array_equal(project.read_label(record.id), expected)
        assert not any(project.has_masks(r.id) for r in project.images(status=Status.NEW))
        assert project.get_setting(DEMO_SETTING)["title"] == manifest["title"]


def test_running_again_keeps_the_work_and_reset_starts_over(tmp_path):
    root = prepare_demo(tmp_path / "demo")
    with Project.open(root) as project:
        first_new = project.images(status=Status.NEW)[0]
        project.mark_done(first_new.id)
    assert prepare_demo(root) == root
    with Project.open(root) as project:
        assert project.image(first_new.id).status == Status.DONE
    prepare_demo(root, reset=True)
    with Project.open(root) as project:
        assert len(project.images(status=Status.DONE)) == 3


def test_demo_refuses_folders_that_hold_anything_else(tmp_path):
    other = tmp_path / "thesis"
    other.mkdir()
    (other / "chapter1.txt").write_text("precious")
    with pytest.raises(ProjectError, match="not empty"):
        prepare_demo(other, reset=True)
    assert (other / "chapter1.txt").read_text() == "precious"
    with Project.create(tmp_path / "mine", ["background", "cell"]):
        pass
    with pytest.raises(ProjectError, match="not the demo"):
        prepare_demo(tmp_path / "mine", reset=True)
    assert Project.is_project(tmp_path / "mine")


@pytest.mark.slow
def test_headless_demo_trains_a_model_and_proposes_on_unreviewed_images(tmp_path, capsys):
    root = tmp_path / "demo"
    assert main(["demo", "--into", str(root), "--headless", "--minutes", "0.1", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    with Project.open(root) as project:
        best = project.best_model()  # a network kept within 6 s of training: none on a slow, busy machine
        if best is not None:
            assert best.arch == "unet" and best.version in out.split("kept", 1)[1]
            assert ModelBundle.load(best.path).class_names == project.class_names()  # loadable, right classes
        # No image was reviewed after the models were made, so the ladder has no evidence that the
        # network beats the instant classifier: the instant tier proposes (core/ladder.py).
        proposing = ladder.proposing_record(project)
        assert proposing.arch == ladder.INSTANT_ARCH
        assert f"11 of 11 unreviewed images have proposals from {proposing.version} (instant)" in out
        for record in project.images(status=Status.NEW):
            source = project.read_source(record.id)
            label = project.read_label(record.id)
            assert (source == Source.PROPOSAL).all()  # every pixel proposed, none claimed as reviewed
            assert set(np.unique(label)) <= {0, 1, 2}
            assert record.uncertainty is not None  # ranked for "next most uncertain"
        for record in project.images(status=Status.DONE):
            assert (project.read_source(record.id) == Source.HUMAN).all()  # reviewed pixels untouched


def test_reset_refuses_a_demo_that_is_open_elsewhere(tmp_path):
    root = prepare_demo(tmp_path / "demo")
    with Project.open(root):  # e.g. the app has it open
        with pytest.raises(ProjectLockedError):
            prepare_demo(root, reset=True)
    with Project.open(root, readonly=True) as project:
        assert len(project.images()) == 14


def test_bad_minutes_is_a_clear_error(tmp_path, capsys):
    assert main(["demo", "--into", str(tmp_path / "demo"), "--headless", "--minutes", "0"]) == 2
    assert "--minutes must be more than 0" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()
