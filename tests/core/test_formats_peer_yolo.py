"""YOLO segmentation against Ultralytics' own rule, on Roboflow's and Ultralytics' layouts.

Ultralytics itself is not installed: it requires opencv-python, which replaces the
opencv-python-headless SegStudio uses (pip resolves `ultralytics` to opencv-python 5.x beside our
4.x headless wheel: two packages writing the same cv2 module). `ultralytics_label` below is its
documented conversion, line for line: `verify_image_label` reads each line as float32,
`Instances.denormalize` multiplies by the image size, `polygon2mask` casts to int32 (truncation)
and fills with cv2.fillPoly, `polygons2masks_overlap` paints larger masks first so smaller ones
stay on top. Training-time resampling of segments to 1000 points is augmentation and not modelled.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from core.test_formats_data import CLASSES, expected_export, make_project
from data_makers.photos import photo, save_photo
from segstudio.core.errors import FormatError
from segstudio.core.formats import ExportOptions, export_dataset, import_dataset
from segstudio.core.formats.yolo import YoloReader
from segstudio.core.progress import drive
from segstudio.core.project import Project


def ultralytics_label(label_file: Path, height: int, width: int) -> np.ndarray:
    """Ultralytics' semantic reading of a YOLO-seg label file: class id, -1 where nothing."""
    lines = [line.split() for line in label_file.read_text().splitlines() if line.split()]
    classes = [int(float(line[0])) for line in lines]
    segments = [np.array(line[1:], dtype=np.float32).reshape(-1, 2) * np.float32((width, height)) for line in lines]
    masks, areas = [], []
    for segment in segments:
        mask = np.zeros((height, width), dtype=np.uint8)
        cv2.fillPoly(mask, np.asarray([segment], dtype=np.int32), color=1)
        masks.append(mask)
        areas.append(mask.sum())
    order = np.argsort(-np.asarray(areas), kind="stable")
    overlap = np.zeros((height, width), dtype=np.int32)
    for rank, index in enumerate(order):
        overlap = np.clip(overlap + masks[index] * (rank + 1), 0, rank + 1)
    lut = np.array([-1] + [classes[i] for i in order], dtype=np.int32)
    return lut[overlap]


def random_polygons(rng, count: int, classes: int) -> list[str]:
    lines = []
    for _ in range(count):
        center = rng.uniform(0.15, 0.85, size=2)
        radius = rng.uniform(0.01, 0.3)  # thin and tiny shapes included
        angles = np.sort(rng.uniform(0, 2 * np.pi, size=rng.integers(3, 12)))
        points = center + radius * np.stack([np.cos(angles), np.sin(angles) * rng.uniform(0.1, 1)], axis=1)
        lines.append(f"{rng.integers(classes)} " + " ".join(f"{v:.6f}" for v in np.clip(points, 0, 1).ravel()))
    return lines


def roboflow_dataset(root: Path, names: list[str], seed: int = 0) -> dict[str, Path]:
    """Roboflow's YOLOv8 export: <split>/images, <split>/labels, data.yaml with ../<split>/images."""
    rng = np.random.default_rng(seed)
    labels = {}
    for index, split in enumerate(("train", "valid", "test")):
        save_photo(root / split / "images" / f"frame{index}_jpg.rf.abc{index}.jpg", 96, 128, top=index * 40)
        label = root / split / "labels" / f"frame{index}_jpg.rf.abc{index}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("\n".join(random_polygons(rng, 12, len(names))) + "\n")
        labels[split] = label
    config = {"train": "../train/images", "val": "../valid/images", "test": "../test/images",
              "nc": len(names), "names": names,
              "roboflow": {"workspace": "w", "project": "p", "version": 1, "license": "CC BY 4.0"}}
    (root / "data.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return labels


def test_roboflow_layout_imports_exactly_what_ultralytics_reads(tmp_path):
    names = ["car", "person", "thin wire"]
    labels = roboflow_dataset(tmp_path / "ds", names)
    reader = YoloReader(tmp_path / "ds")
    samples = {s.annotation: s for s in reader}
    assert len(samples) == 3 and reader.class_names() == names
    for split, label_file in labels.items():
        sample = samples[label_file]
        assert sample.split == {"valid": "val"}.get(split, split)
        np.testing.assert_array_equal(sample.label, ultralytics_label(label_file, 96, 128))


def test_ultralytics_layout_with_a_path_key_and_names_mapping(tmp_path):
    root = tmp_path / "coco8-seg"
    rng = np.random.default_rng(1)
    for split in ("train", "val"):
        save_photo(root / "images" / split / f"{split}.png", 80, 100, which="coffee")
        (root / "labels" / split).mkdir(parents=True)
        (root / "labels" / split / f"{split}.txt").write_text("\n".join(random_polygons(rng, 8, 2)))
    (root / "data.yaml").write_text("path: ../datasets/coco8-seg\ntrain: images/train\nval: images/val\n"
                                    "names:\n  0: person\n  1: bicycle\n")
    for sample in YoloReader(root):
        np.testing.assert_array_equal(sample.label, ultralytics_label(sample.annotation, 80, 100))


def test_our_export_lands_on_the_same_pixels_under_ultralytics_truncation(tmp_path):
    """The issue's failure: 6-decimal vertices put some vertices one pixel off under truncation."""
    project = make_project(tmp_path, count=4, shape=(61, 97))
    out = tmp_path / "out"
    drive(export_dataset(project, out, ExportOptions(formats=("yolo",))))
    for record in project.images():
        stem = Path(record.name).stem
        label_file = next(out.glob(f"labels/*/{stem}.txt"))
        want = expected_export(project, record.id).astype(np.int32)
        want[want == project.ignore_value] = -1
        np.testing.assert_array_equal(ultralytics_label(label_file, 61, 97), want)
    target = Project.create(tmp_path / "target", CLASSES)
    report = drive(import_dataset(target, "yolo", out))
    for record in target.images():  # and our own import gives the project's labels back exactly
        original = next(r for r in project.images() if r.name == record.name)
        np.testing.assert_array_equal(target.read_label(record.id), expected_export(project, original.id))
    assert len(report.imported) == 4
    project.close()
    target.close()


def test_a_data_yaml_whose_folders_hold_no_labels_names_the_layout_it_expected(tmp_path):
    save_photo(tmp_path / "train" / "images" / "a.jpg")
    (tmp_path / "data.yaml").write_text("train: ../train/images\nval: ../valid/images\nnames: [a]\n")
    with pytest.raises(FormatError, match=r"train/images/.*labels/ folder"):
        YoloReader(tmp_path)


def test_datumaros_yolo_ultralytics_export_imports_its_boxes_as_filled_rectangles(tmp_path):
    """datumaro writes detection boxes and `train: train.txt` image lists (`./images/train/...`)."""
    from datumaro.components.annotation import Bbox
    from datumaro.components.dataset import Dataset
    from datumaro.components.dataset_base import DatasetItem
    from datumaro.components.media import Image

    items = [DatasetItem(id=f"{split}_0", subset=split, media=Image.from_numpy(photo(40, 50)[..., ::-1].copy()),
                         annotations=[Bbox(5, 5, 10, 12, label=0), Bbox(30, 20, 8, 8, label=1)])
             for split in ("train", "val")]
    Dataset.from_iterable(items, categories=["car", "person"]).export(str(tmp_path / "y"), "yolo_ultralytics",
                                                                       save_media=True)
    want = np.full((40, 50), -1, dtype=np.int32)
    want[5:18, 5:16], want[20:29, 30:39] = 0, 1  # the truncation rule fills both edges of a box
    save_photo(tmp_path / "y" / "images" / "train" / "stray.jpg", 40, 50)  # not in train.txt: not read
    (tmp_path / "y" / "labels" / "train" / "stray.txt").write_text("0 0.1 0.1 0.5 0.1 0.5 0.5\n")
    samples = list(YoloReader(tmp_path / "y"))
    assert sorted(s.split for s in samples) == ["train", "val"]
    for sample in samples:
        np.testing.assert_array_equal(sample.label, want)
