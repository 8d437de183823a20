"""Readers we did not write accept our exports: torchvision, pycocotools, datumaro (labelme: test_formats_peer_labelme)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.test_formats_data import expected_export, make_project
from segstudio.core.formats import ExportOptions, export_dataset
from segstudio.core.progress import drive


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("readers")
    project = make_project(root, count=4, suffix=".jpg")
    report = drive(export_dataset(project, root / "out", ExportOptions(
        formats=("voc", "cityscapes", "coco", "yolo", "labelme"))))
    expected = {Path(r.name).stem: expected_export(project, r.id) for r in project.images()}
    splits = {Path(r.name).stem: r.split.value for r in project.images()}
    project.close()
    return report.folders, expected, splits


@pytest.mark.slow  # importing torchvision takes seconds on a busy machine
def test_torchvision_voc_segmentation_loads_our_masks(exported, tmp_path):
    from torchvision.datasets import VOCSegmentation

    folders, expected, splits = exported
    (tmp_path / "VOCdevkit").mkdir()
    (tmp_path / "VOCdevkit" / "VOC2012").symlink_to(folders["voc"], target_is_directory=True)
    for image_set in ("train", "val", "trainval"):
        dataset = VOCSegmentation(str(tmp_path), year="2012", image_set=image_set, download=False)
        wanted = [k for k, s in splits.items() if s == image_set or (image_set == "trainval" and s != "test")]
        assert len(dataset) == len(wanted)
        for index in range(len(dataset)):
            image, target = dataset[index]
            stem = Path(dataset.masks[index]).stem
            assert image.size == target.size
            np.testing.assert_array_equal(np.array(target), expected[stem])


def test_torchvision_cityscapes_loads_our_label_ids(exported):
    from torchvision.datasets import Cityscapes

    folders, expected, splits = exported
    for split in ("train", "val", "test"):
        dataset = Cityscapes(str(folders["cityscapes"]), split=split, mode="fine", target_type="semantic")
        assert len(dataset) == sum(s == split for s in splits.values())
        for index in range(len(dataset)):
            _, target = dataset[index]
            stem = Path(dataset.images[index]).name.replace("_leftImg8bit.jpg", "")
            np.testing.assert_array_equal(np.array(target), expected[stem])


def test_pycocotools_ann_to_mask_unioned_per_class_is_exactly_our_mask(exported):
    from pycocotools.coco import COCO

    folders, expected, _ = exported
    checked = 0
    for path in sorted((folders["coco"] / "annotations").glob("instances_*.json")):
        coco = COCO(str(path))
        for image in coco.loadImgs(coco.getImgIds()):
            want = expected[Path(image["file_name"]).stem]
            for category in coco.loadCats(coco.getCatIds()):
                union = np.zeros_like(want, dtype=bool)
                for annotation in coco.loadAnns(coco.getAnnIds(imgIds=image["id"], catIds=category["id"])):
                    union |= coco.annToMask(annotation).astype(bool)
                np.testing.assert_array_equal(union, want == category["id"] - 1)
                checked += 1
    assert checked == 4 * 3


datumaro = pytest.importorskip("datumaro", reason="datumaro is in the test extra; install it to run these")


@pytest.mark.slow
@pytest.mark.parametrize("name, expected_format", [
    ("voc", "voc_segmentation"), ("coco", "coco_instances"), ("cityscapes", "cityscapes")])
def test_datumaro_detects_and_imports_our_export(exported, name, expected_format):
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset
    from datumaro.components.environment import Environment

    folders, _, _ = exported
    assert expected_format in Environment().detect_dataset(str(folders[name]))
    dataset = Dataset.import_from(str(folders[name]), expected_format)
    items = list(dataset)
    assert len({item.id for item in items}) == 4  # VOC also lists trainval as a subset
    labels = [label.name for label in dataset.categories()[AnnotationType.label]]
    assert {"cell", "nucleus"} <= set(labels)
    masks = [a for item in items for a in item.annotations if a.type in (AnnotationType.mask,)]
    assert {labels[m.label] for m in masks} >= {"cell", "nucleus"}
    for item in items:
        assert item.media.data is not None


@pytest.mark.parametrize("name, datumaro_format, reason", [
    ("yolo", "yolo", "datumaro 1.13 reads YOLO detection only: its detector requires exactly 5 fields a line "
                     "(class xc yc w h) and rejects segmentation polygons"),
    ("labelme", "label_me", "datumaro's label_me format is MIT LabelMe XML (Annotations/*.xml), not labelme JSON; "
                            "no datumaro plugin reads labelme JSON"),
])
def test_datumaro_cannot_read_yolo_segmentation_or_labelme_json(exported, name, datumaro_format, reason):
    """Kept as a strict expectation: if datumaro learns these formats, this fails and the checks above grow."""
    from datumaro.components.dataset import Dataset
    from datumaro.components.errors import DatasetNotFoundError

    folders, _, _ = exported
    with pytest.raises(DatasetNotFoundError):
        Dataset.import_from(str(folders[name]), datumaro_format)
