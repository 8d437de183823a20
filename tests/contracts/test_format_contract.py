"""Every registered format passes the same suite: round trip, card, cancel, per-file problems."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.test_formats_data import CLASSES, expected_export, make_project
from segstudio.core.errors import FormatError
from segstudio.core.formats import FORMATS, ExportOptions, export_dataset, import_dataset
from segstudio.core.progress import Progress, StopFlag, drive
from segstudio.core.project import Project, Source, Status

FORMAT_NAMES = list(FORMATS)

# A per-image annotation file of each format, to damage: (glob, how).
DAMAGE = {
    "voc": ("SegmentationClass/*.png", "garbage"),
    "cityscapes": ("gtFine/*/*/*_labelIds.png", "garbage"),
    "masks": ("masks/*.png", "garbage"),
    "yolo": ("labels/*/*.txt", "bad line"),
    "labelme": ("*/*.json", "truncate"),
    "coco": ("annotations/instances_train.json", "unknown category"),
}


@pytest.fixture(scope="module")
def source_project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("source"), count=4)
    yield project
    project.close()


@pytest.fixture(scope="module")
def exports(source_project, tmp_path_factory):
    """All six formats, exported once in one call (several formats at once)."""
    out = tmp_path_factory.mktemp("exports") / "all"
    report = drive(export_dataset(source_project, out, ExportOptions(formats=tuple(FORMAT_NAMES))))
    assert report.images == 4 and not report.cancelled
    return report.folders


def _stem(path: Path) -> str:
    return path.stem.replace("_leftImg8bit", "")


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_round_trip_gives_the_same_labels_splits_and_human_provenance(name, source_project, exports, tmp_path):
    target = Project.create(tmp_path / "target", CLASSES)
    report = drive(import_dataset(target, name, exports[name]))
    assert not report.problems, report.problems
    assert len(report.imported) == 4 and not report.new_classes
    originals = {Path(r.name).stem: r for r in source_project.images()}
    for record in target.images():
        original = originals[_stem(record.path)]
        expected = expected_export(source_project, original.id)
        actual = target.read_label(record.id)
        np.testing.assert_array_equal(actual, expected)  # polygon formats too: pixel-centre rings, one rule
        source = target.read_source(record.id)
        assert ((source == Source.HUMAN) == (actual != target.ignore_value)).all()
        assert record.split == original.split and record.status == Status.DONE
    target.close()


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_every_export_has_a_dataset_card(name, exports, source_project):
    card = (exports[name] / "README.md").read_text(encoding="utf-8")
    for text in ("## Classes", "nucleus", "## Provenance", "unreviewed", "written as ignore", "Model that proposed"):
        assert text in card, text
    human = int(sum((source_project.read_source(r.id) == Source.HUMAN).sum() for r in source_project.images()))
    assert f"| painted by a person (human) | {human} |" in card


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_a_cancelled_export_leaves_nothing_behind(name, source_project, tmp_path):
    stop = StopFlag()
    gen = export_dataset(source_project, tmp_path / "out", ExportOptions(formats=(name,)), stop=stop)
    for event in gen:
        if isinstance(event, Progress) and event.done == 2:
            stop.set()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_a_closed_export_generator_leaves_nothing_behind(name, source_project, tmp_path):
    gen = export_dataset(source_project, tmp_path / "out", ExportOptions(formats=(name,)))
    next(gen), next(gen)
    gen.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_a_damaged_file_is_reported_and_the_rest_imports(name, source_project, tmp_path):
    out = tmp_path / "export"
    drive(export_dataset(source_project, out, ExportOptions(formats=(name,))))
    pattern, how = DAMAGE[name]
    victim = sorted(out.glob(pattern))[0]
    if how == "garbage":
        victim.write_bytes(b"\x89PNG not really")
    elif how == "bad line":
        victim.write_text("0 0.5 nonsense\n")
    elif how == "truncate":
        victim.write_bytes(victim.read_bytes()[:50])
    else:
        document = json.loads(victim.read_text())
        document["annotations"][0]["category_id"] = 999
        victim.write_text(json.dumps(document))
    target = Project.create(tmp_path / "target", CLASSES)
    problems = []
    report = drive(import_dataset(target, name, out), on_event=lambda e: problems.append(e) if not isinstance(e, Progress) else None)
    assert len(report.problems) == 1 and problems == report.problems
    assert len(report.imported) == 3 and len(target.images()) == 3
    target.close()


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_a_folder_that_is_not_the_format_gives_a_clear_error(name, tmp_path):
    (tmp_path / "notes.txt").write_text("not a dataset")
    with pytest.raises(FormatError, match=str(tmp_path.name)):
        FORMATS[name].importer(tmp_path)
