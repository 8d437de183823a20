"""COCO written by datumaro's exporters and in the official and mmdetection layouts imports to
what pycocotools reads (annToMask per annotation, painted larger first: our documented overlap
rule); our export reads back exactly through pycocotools and datumaro."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.test_formats_data import CLASSES, expected_export, make_project
from data_makers.photos import photo
from segstudio.core.formats import ExportOptions, export_dataset, import_dataset
from segstudio.core.formats.coco import CocoReader
from segstudio.core.progress import drive
from segstudio.core.project import Project

datumaro = pytest.importorskip("datumaro")
NAMES = ["person", "dog", "frisbee"]


def pycocotools_semantic(annotation_file: Path) -> dict[str, np.ndarray]:
    """file name -> label (-1 where nothing): annToMask per annotation, larger areas first."""
    from pycocotools.coco import COCO

    coco = COCO(str(annotation_file))
    names = {c["id"]: NAMES.index(c["name"]) for c in coco.loadCats(coco.getCatIds())}
    result = {}
    for image in coco.loadImgs(coco.getImgIds()):
        label = np.full((image["height"], image["width"]), -1, dtype=np.int32)
        masks = [(coco.annToMask(a), names[a["category_id"]]) for a in coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))]
        for mask, class_id in sorted(masks, key=lambda m: -int(m[0].sum())):
            label[mask.astype(bool)] = class_id
        result[Path(image["file_name"]).name] = label
    return result


def datumaro_dataset(count: int = 3):
    """Real photos with polygons (float vertices), a mask with a hole, and a crowd-free layout."""
    from datumaro.components.annotation import Mask, Polygon
    from datumaro.components.dataset import Dataset
    from datumaro.components.dataset_base import DatasetItem
    from datumaro.components.media import Image

    items = []
    for index in range(count):
        rgb = photo(90, 120, "astronaut", top=index * 50)
        hole = np.zeros((90, 120), dtype=np.uint8)
        hole[40:80, 60:110] = 1
        hole[55:65, 75:95] = 0
        items.append(DatasetItem(
            id=f"frame_{index}", subset=("train", "val")[index % 2], media=Image.from_numpy(rgb[..., ::-1].copy()),
            annotations=[
                Polygon([5.5, 4.2, 50.7, 8.9, 45.1, 60.3, 8.8, 50.5], label=0, id=1, group=1),
                Polygon([20.3, 20.1, 30.9, 21.7, 26.2, 33.4], label=2, id=2, group=2),
                Mask(hole, label=1, id=3, group=3),
            ]))
    return Dataset.from_iterable(items, categories=NAMES)


@pytest.mark.parametrize("exporter", ["coco_instances", "coco"])
def test_datumaro_coco_exports_import_as_pycocotools_reads_them(exporter, tmp_path):
    out = tmp_path / exporter
    datumaro_dataset().export(str(out), exporter, save_media=True)
    reader = CocoReader(out)
    if exporter == "coco":  # every task datumaro has: image_info, panoptic, stuff... beside instances
        skipped = {note.split(":")[0] for note in reader.notes}
        assert {"image_info_train.json", "panoptic_val.json", "stuff_train.json"} <= skipped, reader.notes
    expected = {}
    for path in (out / "annotations").glob("instances_*.json"):
        expected.update(pycocotools_semantic(path))
    samples = list(reader)
    assert len(samples) == 3 and all(not hasattr(s, "reason") for s in samples), samples
    for sample in samples:
        np.testing.assert_array_equal(sample.label, expected[sample.image_path.name])
        assert sample.split in ("train", "val")


def official_layout(root: Path, images_under: str) -> Path:
    """The official download: annotations/instances_val2017.json, captions, image_info and
    person_keypoints files beside it, images in val2017/ or images/val2017/."""
    datumaro_dataset(2).export(str(root / "dm"), "coco_instances", save_media=True)
    document = json.loads((root / "dm" / "annotations" / "instances_train.json").read_text())
    val = json.loads((root / "dm" / "annotations" / "instances_val.json").read_text())
    (root / "annotations").mkdir()
    for image in val["images"]:
        image["id"] += 1000
    for annotation in val["annotations"]:
        annotation["image_id"] += 1000
        annotation["id"] += 1000
    document["images"] += val["images"]
    document["annotations"] += val["annotations"]
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(document))
    (root / "annotations" / "captions_val2017.json").write_text(json.dumps(
        {"images": document["images"], "annotations": [{"id": 1, "image_id": 1, "caption": "a man"}]}))
    (root / "annotations" / "image_info_test2017.json").write_text(json.dumps(
        {"images": document["images"], "categories": document["categories"]}))
    for split in ("train", "val"):
        for path in (root / "dm" / "images" / split).iterdir():
            (root / images_under).mkdir(parents=True, exist_ok=True)
            shutil.move(path, root / images_under / path.name)
    shutil.rmtree(root / "dm")
    return root / "annotations" / "instances_val2017.json"


@pytest.mark.parametrize("images_under", ["val2017", "images/val2017"])
def test_the_official_layout_imports_instances_only(images_under, tmp_path):
    annotation_file = official_layout(tmp_path, images_under)
    expected = pycocotools_semantic(annotation_file)
    project = Project.create(tmp_path / "project", NAMES)
    report = drive(import_dataset(project, "coco", tmp_path))
    assert len(report.imported) == 2 and not report.problems, report.problems
    assert {n.split(":")[0] for n in report.notes} == {"captions_val2017.json", "image_info_test2017.json"}
    for record in project.images():
        want = expected[record.name].copy()
        want[want < 0] = project.ignore_value
        np.testing.assert_array_equal(project.read_label(record.id), want)
        assert record.split.value == "val"
    project.close()


def test_mmdetection_and_roboflow_layouts_are_found_as_datumaro_finds_them(tmp_path):
    from datumaro.components.environment import Environment

    base = tmp_path / "base"
    datumaro_dataset().export(str(base), "coco_instances", save_media=True)
    mmdet, roboflow = tmp_path / "mmdet", tmp_path / "roboflow"
    shutil.copytree(base / "annotations", mmdet / "annotations")
    for split in ("train", "val"):
        shutil.copytree(base / "images" / split, mmdet / split)
        shutil.copytree(base / "images" / split, roboflow / split)
        shutil.copy(base / "annotations" / f"instances_{split}.json", roboflow / split / "_annotations.coco.json")
    for images in (mmdet / "train", mmdet / "val", roboflow / "train", roboflow / "val"):
        for png in images.glob("*.png"):  # both detectors look for .jpg images
            from PIL import Image

            Image.open(png).save(png.with_suffix(".jpg"), quality=95)
    for folder in (mmdet, roboflow):
        for path in folder.rglob("*.json"):
            path.write_text(path.read_text().replace('.png"', '.jpg"'))
    detected = Environment().detect_dataset(str(mmdet)), Environment().detect_dataset(str(roboflow))
    assert "mmdet_coco" in detected[0] and "roboflow_coco" in detected[1], detected
    for folder in (mmdet, roboflow):
        samples = list(CocoReader(folder))
        assert len(samples) == 3 and all(hasattr(s, "label") for s in samples), samples
        assert {s.split for s in samples} == {"train", "val"}


def test_our_coco_export_reads_back_exactly_through_datumaro(tmp_path):
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset

    project = make_project(tmp_path, count=3)
    out = tmp_path / "out"
    drive(export_dataset(project, out, ExportOptions(formats=("coco",))))
    dataset = Dataset.import_from(str(out), "coco_instances")
    labels = [c.name for c in dataset.categories()[AnnotationType.label]]
    records = {Path(r.name).stem: r for r in project.images()}
    for item in dataset:
        want = expected_export(project, records[Path(item.id).name].id)
        got = np.full(want.shape, project.ignore_value, dtype=want.dtype)
        for annotation in (a for a in item.annotations if a.type == AnnotationType.mask):
            got[annotation.image.astype(bool)] = CLASSES.index(labels[annotation.label])
        np.testing.assert_array_equal(got, want)
    project.close()
