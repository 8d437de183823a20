"""Tiny labelled projects for the format tests (shared by tests/core, tests/contracts, tests/gui).

Each image holds a background, a ring of class 1 with a hole that holds class 2, a separate
class-2 blob, an unlabelled band (ignore) and a patch of unreviewed model proposals (source 1).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from segstudio.core.project import IGNORE, Project, Source, Split, Status

CLASSES = ("background", "cell", "nucleus")
SPLIT_CYCLE = (Split.TRAIN, Split.VAL, Split.TEST, Split.TRAIN)


def scene_label(index: int, shape: tuple[int, int]) -> np.ndarray:
    height, width = shape
    label = np.zeros(shape, np.uint8)
    center = (width // 3 + index % 5, height // 2)
    cv2.circle(label, center, min(height, width) // 3, 1, -1)
    cv2.circle(label, center, min(height, width) // 7, 2, -1)
    cv2.rectangle(label, (width - 14, 4 + index % 4), (width - 5, 13 + index % 4), 2, -1)
    label[height - 5:, :] = IGNORE
    return label


def write_images(folder: Path, count: int, shape: tuple[int, int] = (48, 64), suffix: str = ".png",
                 seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        pixels = rng.integers(0, 255, size=(*shape, 3), dtype=np.uint8)
        path = folder / f"img_{index:03d}{suffix}"
        Image.fromarray(pixels).save(path, quality=95) if suffix == ".jpg" else Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def make_project(root: Path, count: int = 4, *, suffix: str = ".png", shape: tuple[int, int] = (48, 64),
                 proposals: bool = True) -> Project:
    """A project of `count` done images with masks, splits train/val/test/train..."""
    project = Project.create(root / "project", CLASSES)
    report = project.add_images(write_images(root / "source-images", count, shape, suffix), recursive=False)
    assert len(report.added) == count, report.summary()
    for index, record in enumerate(sorted(report.added, key=lambda r: r.name)):
        label = scene_label(index, shape)
        source = np.where(label == IGNORE, Source.NONE, Source.HUMAN).astype(np.uint8)
        if proposals:
            source[2:8, 2:10] = Source.PROPOSAL  # unreviewed: exported as ignore by default
            label[2:8, 2:10] = 1
        project.write_masks(record.id, label, source)
        project.set_split(record.id, SPLIT_CYCLE[index % len(SPLIT_CYCLE)])
        project.set_status(record.id, Status.DONE)
    return project


def expected_export(project: Project, image_id: int) -> np.ndarray:
    """The label an export writes with the default rule: unreviewed proposals -> ignore."""
    label = project.read_label(image_id).copy()
    label[project.read_source(image_id) == Source.PROPOSAL] = project.ignore_value
    return label


def region_ious(expected: np.ndarray, actual: np.ndarray, ignore: int) -> list[float]:
    """IoU of every connected region of `expected` with the best matching region of `actual`."""
    ious = []
    for cls in np.unique(expected):
        if cls == ignore:
            continue
        count, regions = cv2.connectedComponents((expected == cls).astype(np.uint8), connectivity=8)
        _, found = cv2.connectedComponents((actual == cls).astype(np.uint8), connectivity=8)
        for index in range(1, count):
            region = regions == index
            hits = np.bincount(found[region], minlength=1)
            hits[0] = 0
            match = found == int(np.argmax(hits)) if hits.any() else np.zeros_like(region)
            ious.append(float((region & match).sum() / (region | match).sum()))
    return ious
