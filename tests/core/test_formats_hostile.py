"""Importers on hostile and broken input: refused with a clear reason, nothing partial left behind."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.test_formats_data import CLASSES, write_images
from segstudio.core.errors import FormatError
from segstudio.core.formats import import_dataset, preview_import
from segstudio.core.formats.safety import safe_join
from segstudio.core.progress import drive
from segstudio.core.project import Project


@pytest.fixture
def project(tmp_path):
    project = Project.create(tmp_path / "project", CLASSES)
    yield project
    project.close()


def _coco(root: Path, file_names: list[str]) -> Path:
    (root / "annotations").mkdir(parents=True)
    images = [{"id": i + 1, "file_name": name, "width": 64, "height": 48} for i, name in enumerate(file_names)]
    annotations = [{"id": i + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0, "area": 100,
                    "segmentation": [[10, 10, 30, 10, 30, 30, 10, 30]], "bbox": [10, 10, 20, 20]}
                   for i in range(len(file_names))]
    path = root / "annotations" / "instances_train.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "cell"}]}))
    return path


def _labelme(path: Path, image_path: str | None, image_data: str | None = None, size=(48, 64)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "version": "5.5.0", "flags": {}, "imagePath": image_path, "imageData": image_data,
        "imageHeight": size[0], "imageWidth": size[1],
        "shapes": [{"label": "cell", "points": [[5, 5], [30, 5], [30, 30]], "shape_type": "polygon"}]}))


@pytest.mark.parametrize("bad", ["../../outside.png", "/etc/passwd", "C:\\Windows\\x.png", "images/../../../x.png"])
def test_coco_image_paths_that_escape_the_dataset_are_refused(bad, tmp_path, project):
    outside = write_images(tmp_path / "outside", 1)[0]
    dataset = tmp_path / "a" / "b" / "dataset"
    write_images(dataset / "images" / "train", 1)
    _coco(dataset, ["img_000.png", bad])
    report = drive(import_dataset(project, "coco", dataset))
    assert len(report.imported) == 1 and len(report.problems) == 1
    assert any(word in report.problems[0].reason for word in ("leaves the dataset", "absolute"))
    assert [r.name for r in project.images()] == ["img_000.png"]
    assert outside.exists()


def test_labelme_image_path_escaping_through_a_symbolic_link_is_refused(tmp_path, project):
    outside = write_images(tmp_path / "outside", 1)[0]
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "link").symlink_to(outside.parent, target_is_directory=True)
    _labelme(dataset / "sneaky.json", "link/img_000.png")
    _labelme(dataset / "up.json", "../outside/img_000.png")
    report = drive(import_dataset(project, "labelme", dataset))
    reasons = {p.path.name: p.reason for p in report.problems}
    assert "through a link" in reasons["sneaky.json"] and "leaves the dataset" in reasons["up.json"]
    assert project.images() == []


def _png_header_only(width: int, height: int) -> bytes:
    """A small PNG whose header claims width x height (the shape of a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side, says", [(12_000, "12000x12000"), (60_000, "exceeds limit")])
def test_an_oversized_embedded_image_is_refused_from_its_header_before_decoding(side, says, tmp_path, project):
    """12000^2 is over our 64 Mpx limit; 60000^2 is over Pillow's own bomb limit. The PNG is 4 kB."""
    dataset = tmp_path / "dataset"
    bomb = base64.b64encode(_png_header_only(side, side)).decode()
    _labelme(dataset / "bomb.json", "missing.png", bomb, size=(side, side))
    report = drive(import_dataset(project, "labelme", dataset))
    (problem,) = report.problems
    assert says in problem.reason and "refused before decoding" in problem.reason
    assert project.images() == [] and project.class_names() == list(CLASSES)


def test_a_small_embedded_image_is_imported_into_the_project(tmp_path, project):
    dataset = tmp_path / "dataset"
    source = write_images(tmp_path / "pixels", 1)[0]
    _labelme(dataset / "embedded.json", "gone.png", base64.b64encode(source.read_bytes()).decode())
    report = drive(import_dataset(project, "labelme", dataset))
    assert not report.problems and len(report.imported) == 1
    (record,) = project.images()
    assert record.path.is_file() and record.path.is_relative_to(project.root)
    assert (project.read_label(record.id) == 1).sum() > 100


def test_a_truncated_coco_json_gives_a_clear_error_and_writes_nothing(tmp_path, project):
    dataset = tmp_path / "dataset"
    write_images(dataset / "images" / "train", 1)
    path = _coco(dataset, ["img_000.png"])
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(FormatError, match="not valid JSON .the file looks truncated."):
        drive(import_dataset(project, "coco", dataset))
    assert project.images() == []


def test_a_json_that_is_not_coco_is_named_as_such(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "x.json").write_text('{"hello": 1}')
    with pytest.raises(FormatError, match="not a COCO annotation file"):
        preview_import(None, "coco", tmp_path)


def test_masks_of_the_wrong_size_and_unknown_ids_are_reported_per_file(tmp_path, project):
    dataset = tmp_path / "dataset"
    write_images(dataset / "images", 3)
    (dataset / "masks").mkdir()
    good = np.zeros((48, 64), np.uint8)
    good[10:20, 10:20] = 2
    Image.fromarray(good).save(dataset / "masks" / "img_000.png")
    Image.fromarray(np.zeros((40, 64), np.uint8)).save(dataset / "masks" / "img_001.png")
    unknown = good.copy()
    unknown[0, 0] = 7
    Image.fromarray(unknown).save(dataset / "masks" / "img_002.png")
    (dataset / "classes.txt").write_text("background\ncell\nnucleus\n")
    report = drive(import_dataset(project, "masks", dataset))
    assert len(report.imported) == 1
    reasons = {p.path.name: p.reason for p in report.problems}
    assert "64x40" in reasons["img_001.png"] and "64x48" in reasons["img_001.png"]
    assert "[7]" in reasons["img_002.png"]
    assert [r.name for r in project.images()] == ["img_000.png"]


def test_safe_join_keeps_paths_inside_and_allows_harmless_dots(tmp_path):
    assert safe_join(tmp_path, "a/./b/../c.png") == tmp_path / "a" / "c.png"
    assert safe_join(tmp_path, "../x/y.png", base=tmp_path / "x") == tmp_path / "x" / "y.png"
    for bad in ("", "a\x00b", "//server/share/x.png"):
        with pytest.raises(FormatError):
            safe_join(tmp_path, bad)
