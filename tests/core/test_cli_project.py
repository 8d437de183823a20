"""`segstudio new`, `add` and `info`: what they print, what they change, and their exit codes
(0 done, 1 done but some images failed, 2 bad input and nothing changed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.cli import main
from segstudio.core.autosave import Autosaver
from segstudio.core.document import MaskDocument
from segstudio.core.project import Project

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def images(tmp_path):
    folder = tmp_path / "images"
    (folder / "more").mkdir(parents=True)
    for i, name in enumerate(["a.png", "b.jpg", "more/c.png"]):
        Image.fromarray(np.full((10, 14, 3), 50 * i, np.uint8)).save(folder / name)
    return folder


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_new_add_and_info(tmp_path, images, capsys):
    root = tmp_path / "proj"
    code, out, _ = _run(capsys, "new", root, "--images", images / "a.png", "--classes", "background, cell,nucleus")
    assert code == 0
    assert f"Created project {root} with classes background, cell, nucleus" in out
    assert "1 added" in out

    code, out, err = _run(capsys, "add", root, images)
    assert code == 0 and "2 added, 1 duplicates skipped, 0 failed" in out
    assert "Adding images" in err  # the tqdm bar

    with Project.open(root) as project:
        image_id = project.images()[0].id
        label = np.full((10, 14), 255, np.uint8)
        label[:5] = 1
        project.write_masks(image_id, label, np.where(label == 255, 0, 3).astype(np.uint8))
        project.set_split(image_id, "train")
        project.register_model("v0001", "unet", {"miou": 0.5}, best=True)

    code, out, _ = _run(capsys, "info", root)
    assert code == 0
    assert "Images: 3" in out
    assert "status: new 2, in_progress 1, done 0, skipped 0" in out
    assert "split:  train 1, val 0, test 0, unassigned 2" in out
    assert "cell" in out and "70" in out and "50.0%" in out  # 70 of 140 pixels are cell
    assert "Models: v0001 (unet, best)" in out

    code, out, _ = _run(capsys, "info", root, "--json")
    summary = json.loads(out)
    assert summary["class_pixels"] == {"background": 0, "cell": 70, "nucleus": 0}
    assert summary["status"]["in_progress"] == 1 and summary["images"] == 3


def test_new_with_copy_puts_the_images_inside_the_project(tmp_path, images, capsys):
    root = tmp_path / "proj"
    assert _run(capsys, "new", root, "--images", images, "--copy")[0] == 0
    with Project.open(root) as project:
        assert sorted(r.rel_path for r in project.images()) == ["images/a.png", "images/b.jpg", "images/c.png"]
        assert project.class_names() == ["background", "foreground"]


@pytest.mark.parametrize(
    ("classes", "message"),
    [("background,,cell", "a class name is empty"), ("cell,Cell", "more than once"), ("cell", "at least two")],
)
def test_a_bad_class_list_is_refused_before_anything_is_created(tmp_path, images, capsys, classes, message):
    code, _, err = _run(capsys, "new", tmp_path / "proj", "--images", images, "--classes", classes)
    assert code == 2
    assert "bad class list" in err and message in err
    assert not (tmp_path / "proj").exists()


def test_new_refuses_missing_or_imageless_folders_and_busy_targets(tmp_path, images, capsys):
    code, _, err = _run(capsys, "new", tmp_path / "p1", "--images", tmp_path / "nowhere")
    assert code == 2 and "no such file or folder" in err and str(tmp_path / "nowhere") in err
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "readme.txt").write_text("hi")
    code, _, err = _run(capsys, "new", tmp_path / "p2", "--images", tmp_path / "text")
    assert code == 2 and "no images found" in err
    assert not (tmp_path / "p1").exists() and not (tmp_path / "p2").exists()
    code, _, err = _run(capsys, "new", tmp_path / "text")
    assert code == 2 and "not empty" in err
    assert (tmp_path / "text" / "readme.txt").read_text() == "hi"


def test_add_reports_unreadable_files_with_exit_code_1(tmp_path, images, capsys):
    root = tmp_path / "proj"
    _run(capsys, "new", root)
    (images / "broken.png").write_bytes(b"\x89PNG garbage")
    code, out, err = _run(capsys, "add", root, images)
    assert code == 1
    assert "3 added, 0 duplicates skipped, 1 failed" in out
    assert f"could not add {images / 'broken.png'}" in err


def test_add_and_info_refuse_what_is_not_a_project(tmp_path, images, capsys):
    code, _, err = _run(capsys, "add", images, images)
    assert code == 2 and "is not a SegStudio project" in err
    code, _, err = _run(capsys, "info", tmp_path / "nowhere")
    assert code == 2 and "no such folder" in err
    root = tmp_path / "proj"
    _run(capsys, "new", root)
    code, _, err = _run(capsys, "add", root, tmp_path / "nowhere")
    assert code == 2 and "no such file or folder" in err


def test_a_locked_project_refuses_add_but_info_reads_it(tmp_path, images, capsys):
    root = tmp_path / "proj"
    _run(capsys, "new", root, "--images", images)
    with Project.open(root):
        code, _, err = _run(capsys, "add", root, images)
        assert code == 2 and "already open" in err
        code, out, _ = _run(capsys, "info", root)
        assert code == 0 and "open in another window or process" in out and "Images: 3" in out


def test_info_recovers_edits_a_crash_left_in_the_journal(tmp_path, images, capsys):
    root = tmp_path / "proj"
    _run(capsys, "new", root, "--images", images)
    project = Project.open(root)
    record = project.images()[0]
    doc = MaskDocument(record.id, project.read_label(record.id), project.read_source(record.id))
    saver = Autosaver(project, doc)
    doc.paint_segment((2, 2), (10, 2), 2, 1)
    doc.paint_segment((2, 7), (10, 7), 2, 1)
    saver.flush()
    project.close()  # no fold: as after a crash

    code, out, _ = _run(capsys, "info", root)
    assert code == 0
    assert f"Recovered 2 unsaved edits of {record.name} left by a crash" in out
    assert "Crash recoveries so far: 1 images, 2 edits" in out
    with Project.open(root) as project:
        np.testing.assert_array_equal(project.read_label(record.id), doc.label)


def test_the_commands_run_as_python_dash_m_segstudio(tmp_path, images):
    env = dict(os.environ, PYTHONPATH=str(REPO))

    def run(*argv):
        return subprocess.run([sys.executable, "-m", "segstudio", *map(str, argv)], capture_output=True,
                              text=True, env=env, timeout=120)

    root = tmp_path / "proj"
    created = run("new", root, "--images", images, "--classes", "background,cell")
    assert created.returncode == 0, created.stderr
    assert "3 added" in created.stdout
    info = run("info", root)
    assert info.returncode == 0 and "Classes (2): 0 background, 1 cell" in info.stdout
    refused = run("info", images)
    assert refused.returncode == 2
    assert refused.stderr.startswith("segstudio: error: ") and "Traceback" not in refused.stderr
