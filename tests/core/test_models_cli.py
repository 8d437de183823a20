"""The headless model commands: batch predict to PNGs, export, import, info."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from segstudio.cli import main
from segstudio.core.models import ModelBundle
from segstudio.core.project import Project, Source

CLASSES = ["background", "cell"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def bundle_dir(tmp_path):
    torch.manual_seed(0)
    return ModelBundle.create("unet", CLASSES, depth=2, width=8).save(tmp_path / "bundle")


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    cv2.imwrite(str(folder / "a.png"), rng.integers(0, 255, (37, 45, 3), dtype=np.uint8))
    cv2.imwrite(str(folder / "sub" / "b.jpg"), rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_predict_a_folder_writes_class_index_pngs_and_colour_previews(images, bundle_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["predict", str(images), "--model", str(bundle_dir), "--out", str(out), "--color",
                 "--device", "cpu", "--tile", "32", "--overlap", "8"]) == 0
    classes = np.asarray(Image.open(out / "a.png"))
    assert classes.shape == (37, 45) and classes.max() < len(CLASSES)
    assert np.asarray(Image.open(out / "sub" / "b.png")).shape == (20, 30)
    preview = np.asarray(Image.open(out / "a_color.png").convert("RGB"))
    assert np.array_equal(preview, np.array([[0, 0, 0], [128, 0, 0]], np.uint8)[classes])
    assert "2 class maps written" in capsys.readouterr().out


def test_predict_a_project_applies_proposals_only_to_unreviewed_pixels(images, bundle_dir, tmp_path):
    project = Project.create(tmp_path / "project", CLASSES)
    project.add_images([images])
    record = project.images()[0]
    label = np.zeros((record.height, record.width), np.uint8)
    source = np.zeros_like(label)
    label[:5], source[:5] = 1, Source.HUMAN
    project.write_masks(record.id, label, source)
    project.close()
    assert main(["predict", str(tmp_path / "project"), "--model", str(bundle_dir), "--out", str(tmp_path / "o"),
                 "--apply"]) == 0
    with Project.open(tmp_path / "project", readonly=True) as reopened:
        assert (reopened.read_label(record.id)[:5] == 1).all()
        assert (reopened.read_source(record.id)[5:] == Source.PROPOSAL).all()
        assert reopened.image(record.id).uncertainty is not None


def test_predict_refuses_a_model_for_other_classes_unless_mapped(images, bundle_dir, tmp_path, capsys):
    project = Project.create(tmp_path / "project", ["background", "nucleus"])
    project.add_images([images / "a.png"])
    project.close()
    args = ["predict", str(tmp_path / "project"), "--model", str(bundle_dir), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    assert "the model has classes the project lacks: cell" in capsys.readouterr().err
    before = (images / "a.png").read_bytes()
    assert main([*args, "--map-classes"]) == 0
    assert set(np.unique(np.asarray(Image.open(tmp_path / "o" / "a.png")))) <= {0, 255}
    assert (images / "a.png").read_bytes() == before  # images kept outside the project are never written


def test_model_export_import_and_info(bundle_dir, tmp_path, capsys):
    assert main(["model", "export", str(bundle_dir), "--format", "torchscript", "--out", str(tmp_path / "x")]) == 0
    script = tmp_path / "x" / "model.torchscript.pt"
    assert script.is_file() and json.loads((tmp_path / "x" / "model.torchscript.pt.json").read_text())["classes"]
    assert main(["model", "import", str(script), "--classes", "background,cell", "--out", str(tmp_path / "b2")]) == 0
    capsys.readouterr()
    assert main(["model", "info", str(tmp_path / "b2")]) == 0
    assert json.loads(capsys.readouterr().out)["architecture"] == "torchscript"
    assert main(["model", "export", str(bundle_dir), "--format", "tflite", "--out", str(tmp_path / "y")]) == 2


def test_predict_without_a_model_says_what_to_do(images, tmp_path, capsys):
    assert main(["predict", str(images), "--out", str(tmp_path / "o")]) == 2
    assert "give --model BUNDLE" in capsys.readouterr().err
