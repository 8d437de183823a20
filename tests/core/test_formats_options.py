"""Export options (images, unreviewed pixels, splits, links, lossless) and import class mapping."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.test_formats_data import make_project
from segstudio.core.errors import FormatError
from segstudio.core.formats import ExportOptions, export_dataset, import_dataset, mapping_table, parse_mapping, preview_import
from segstudio.core.progress import drive
from segstudio.core.project import Project, Source, Status


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("options"), count=6)
    first = project.images()[0]
    project.set_status(first.id, Status.IN_PROGRESS)
    yield project
    project.close()


def _masks(folder: Path) -> dict[str, np.ndarray]:
    return {p.stem: np.array(Image.open(p)) for p in sorted((folder / "masks").glob("*.png"))}


def test_done_only_leaves_out_unfinished_images_and_all_takes_them(project, tmp_path):
    done = drive(export_dataset(project, tmp_path / "done", ExportOptions(formats=("masks",))))
    everything = drive(export_dataset(project, tmp_path / "all", ExportOptions(formats=("masks",), done_only=False)))
    assert (done.images, everything.images) == (5, 6)


def test_unreviewed_pixels_are_ignore_or_labels_as_chosen(project, tmp_path):
    drive(export_dataset(project, tmp_path / "ignore", ExportOptions(formats=("masks",))))
    drive(export_dataset(project, tmp_path / "label", ExportOptions(formats=("masks",), unreviewed="label")))
    record = project.images(status=Status.DONE)[0]
    proposals = project.read_source(record.id) == Source.PROPOSAL
    stem = Path(record.name).stem
    assert (_masks(tmp_path / "ignore")[stem][proposals] == 255).all()
    assert (_masks(tmp_path / "label")[stem][proposals] == 1).all()
    assert "written as labels" in (tmp_path / "label" / "README.md").read_text()


def test_new_splits_follow_ratios_and_seed(project, tmp_path):
    options = ExportOptions(formats=("voc",), done_only=False, split_mode="new", ratios=(0.5, 0.25, 0.25), seed=5)
    drive(export_dataset(project, tmp_path / "a", options))
    drive(export_dataset(project, tmp_path / "b", options))
    sets = tmp_path / "a" / "ImageSets" / "Segmentation"
    sizes = [len((sets / f"{name}.txt").read_text().split()) for name in ("train", "val", "test")]
    assert sizes == [3, 2, 1] or sizes == [3, 1, 2]
    assert (sets / "train.txt").read_text() == (tmp_path / "b" / "ImageSets/Segmentation/train.txt").read_text()
    assert "seed 5" in (tmp_path / "a" / "README.md").read_text()


def test_linked_images_share_the_original_bytes(project, tmp_path):
    drive(export_dataset(project, tmp_path / "out", ExportOptions(formats=("masks",), link_images=True)))
    exported = sorted((tmp_path / "out" / "images").iterdir())[0]
    original = next(r.path for r in project.images() if Path(r.name).stem == exported.stem)
    assert exported.is_symlink() or os.stat(exported).st_ino == os.stat(original).st_ino


def test_voc_keeps_lossless_originals_when_asked(project, tmp_path):
    drive(export_dataset(project, tmp_path / "out", ExportOptions(formats=("voc",), lossless_images=True)))
    assert {p.suffix for p in (tmp_path / "out" / "JPEGImages").iterdir()} == {".png"}
    assert "lossless originals kept" in (tmp_path / "out" / "README.md").read_text()


def test_an_export_never_writes_into_a_folder_that_holds_something(project, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(FormatError, match="not empty"):
        drive(export_dataset(project, tmp_path / "busy", ExportOptions()))
    assert os.listdir(tmp_path / "busy") == ["keep.txt"]
    with Project.create(tmp_path / "empty", ("background", "cell")) as empty:
        with pytest.raises(FormatError, match="nothing to export: no done image"):
            drive(export_dataset(empty, tmp_path / "nothing", ExportOptions()))
    assert sorted(os.listdir(tmp_path)) == ["busy", "empty"]
    with pytest.raises(FormatError, match="unknown format"):
        drive(export_dataset(project, tmp_path / "x", ExportOptions(formats=("tiff-stack",))))


def test_mapping_table_says_what_goes_where():
    rows = mapping_table(["Background", "cat", "dog", "tree"], ["background", "animal"], {"cat": "animal", "tree": ""})
    assert [(r.source_name, r.target_name, r.action) for r in rows] == [
        ("Background", "background", "same name"), ("cat", "animal", "mapped"),
        ("dog", "dog", "new class"), ("tree", None, "dropped")]
    assert parse_mapping("cat=animal, tree=") == {"cat": "animal", "tree": ""}
    with pytest.raises(FormatError, match="does not have: horse"):
        mapping_table(["cat"], ["background"], {"horse": "x"})
    with pytest.raises(FormatError, match="old=new"):
        parse_mapping("cat")


def test_preview_writes_nothing_and_import_follows_the_mapping(project, tmp_path):
    drive(export_dataset(project, tmp_path / "out", ExportOptions(formats=("masks",))))
    target = Project.create(tmp_path / "target", ("background", "blob"))
    rows, count = preview_import(target, "masks", tmp_path / "out", {"cell": "blob", "background": ""})
    assert count == 5 and [r.action for r in rows] == ["dropped", "mapped", "new class"]
    assert target.images() == [] and target.class_names() == ["background", "blob"]
    report = drive(import_dataset(target, "masks", tmp_path / "out", overrides={"cell": "blob", "background": ""}))
    assert len(report.imported) == 5 and report.new_classes == ["nucleus"]
    record = target.images()[0]
    label = target.read_label(record.id)
    exported = np.array(Image.open(tmp_path / "out" / "masks" / f"{Path(record.name).stem}.png"))
    assert (label[exported == 0] == 255).all()  # background dropped -> unlabelled
    assert (label[exported == 1] == 1).all() and (label[exported == 2] == 2).all()
    assert (target.read_source(record.id)[label != 255] == Source.HUMAN).all()
    target.close()


def test_projects_with_more_than_254_classes_export_16_bit_masks(tmp_path):
    from core.test_formats_data import write_images

    names = [f"class{i}" for i in range(300)]
    source = Project.create(tmp_path / "big", names)
    (record,) = source.add_images(write_images(tmp_path / "pictures", 1)).added
    label = np.full((48, 64), source.ignore_value, np.uint16)
    label[:20] = 299
    label[20:30] = 7
    source.write_masks(record.id, label, np.where(label == source.ignore_value, 0, 3).astype(np.uint8))
    source.set_status(record.id, Status.DONE)
    drive(export_dataset(source, tmp_path / "out", ExportOptions(formats=("masks", "cityscapes"))))
    with pytest.raises(FormatError, match="at most 254 classes"):
        drive(export_dataset(source, tmp_path / "voc", ExportOptions(formats=("voc",))))
    assert not (tmp_path / "voc").exists()
    for name in ("masks", "cityscapes"):
        target = Project.create(tmp_path / f"target-{name}", names)
        report = drive(import_dataset(target, name, tmp_path / "out" / name))
        assert not report.problems
        np.testing.assert_array_equal(target.read_label(target.images()[0].id), label)
        target.close()
    source.close()
