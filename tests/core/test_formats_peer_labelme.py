"""labelme's own code writes and reads: our import equals its shapes_to_label, our export reads back
through it exactly. labelme runs in a subprocess (it imports PyQt5; this process has PySide6)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.test_formats_data import CLASSES, expected_export, make_project
from data_makers.photos import save_photo
from segstudio.core.formats import ExportOptions, export_dataset, import_dataset
from segstudio.core.formats.labelme import LabelmeReader
from segstudio.core.progress import drive
from segstudio.core.project import Project

pytestmark = pytest.mark.skipif(importlib.util.find_spec("labelme") is None, reason="labelme is in the test extra")
PEER = Path(__file__).parents[1] / "data_makers" / "labelme_peer.py"


def labelme(*args) -> None:
    subprocess.run([sys.executable, str(PEER), *map(str, args)], check=True, timeout=120,
                   env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})


def labelme_reads(folder: Path, names: dict[str, int], tmp_path: Path) -> dict[str, np.ndarray]:
    (tmp_path / "names.json").write_text(json.dumps(names))
    labelme("read", folder, tmp_path / "names.json", tmp_path / "labels.npz")
    with np.load(tmp_path / "labels.npz") as data:
        return {key: data[key] for key in data.files}


def test_every_shape_labelme_writes_imports_as_its_shapes_to_label_paints_it(tmp_path):
    folder = tmp_path / "dataset"
    folder.mkdir()
    labelme("write", folder, save_photo(tmp_path / "photo.png", 120, 160))
    reader = LabelmeReader(folder)
    assert "__ignore__" not in reader.class_names()
    names = {name: index + 1 for index, name in enumerate(reader.class_names())} | {"__ignore__": 0}
    expected = labelme_reads(folder, names, tmp_path)
    samples = list(reader)
    assert [s.annotation.stem for s in samples] == ["embedded", "photo"]
    for sample in samples:
        np.testing.assert_array_equal(sample.label + 1, expected[sample.annotation.stem])
    embedded = samples[0]
    assert embedded.embedded_image is not None  # imagePath is a text file: imageData is used, as labelme does
    for name in ("tiny", "blob", "wire", "seed", "rotated"):  # small and non-polygon shapes all arrive
        assert (samples[1].label == reader.class_names().index(name)).any(), name


def test_our_labelme_export_reads_back_exactly_through_labelme(tmp_path):
    project = make_project(tmp_path, count=3)
    out = tmp_path / "out"
    drive(export_dataset(project, out, ExportOptions(formats=("labelme",))))
    read = labelme_reads(out, {name: index + 1 for index, name in enumerate(CLASSES)}, tmp_path)
    assert len(read) == 3
    for record in project.images():
        want = expected_export(project, record.id).astype(np.int32) + 1
        want[want == project.ignore_value + 1] = 0
        np.testing.assert_array_equal(read[Path(record.name).stem], want)
    project.close()


def test_a_labelme_dataset_imports_into_a_project_with_ignore_left_unlabelled(tmp_path):
    folder = tmp_path / "dataset"
    folder.mkdir()
    labelme("write", folder, save_photo(tmp_path / "photo.png", 120, 160))
    project = Project.create(tmp_path / "project", ["background"])
    report = drive(import_dataset(project, "labelme", folder))
    # both files show the same photo: the second (embedded) one is the same bytes, so it is refused
    assert len(report.imported) == 1 and "already in the project" in report.problems[0].reason
    assert "__ignore__" not in project.class_names()
    label = project.read_label(report.imported[0])
    assert (label[72:84, 27:39] == project.ignore_value).all()  # inside the __ignore__ square
    project.close()
