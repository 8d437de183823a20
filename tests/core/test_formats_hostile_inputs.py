"""Hostile dataset files (issue 14): each gives a typed message and changes nothing outside the
test folder; memory stays bounded; interrupted imports and exports are finished or cleaned up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.test_formats_data import CLASSES, make_project, write_images
from segstudio.cli import main
from segstudio.core.errors import FormatError
from segstudio.core.formats import ExportOptions, export_dataset, import_dataset, preview_import
from segstudio.core.formats.labelme import LabelmeReader
from segstudio.core.formats.yolo import YoloReader
from segstudio.core.progress import drive
from segstudio.core.project import Project

SECRET = "TOP-SECRET-LINE"


@pytest.fixture
def project(tmp_path):
    project = Project.create(tmp_path / "project", CLASSES)
    yield project
    project.close()


def coco_dataset(root: Path, polygons: list, shape=(48, 64)) -> Path:
    (root / "images").mkdir(parents=True)
    write_images(root / "images", 1, shape)
    annotations = [{"id": i + 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "segmentation": [p],
                    "area": 1, "bbox": [0, 0, 1, 1]} for i, p in enumerate(polygons)]
    (root / "annotations").mkdir()
    (root / "annotations" / "instances_train.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "img_000.png", "width": shape[1], "height": shape[0]}],
        "annotations": annotations, "categories": [{"id": 1, "name": "cell"}]}))
    return root


def read_in_subprocess(fmt: str, root: Path) -> subprocess.CompletedProcess:
    """Read a dataset in a child process (a crash in a native library must not take pytest with
    it); it prints each problem and its peak resident memory in MiB (VmHWM: ru_maxrss would
    carry the parent's peak across fork and exec)."""
    code = ("import sys; from segstudio.core.formats import get_format; "
            f"r = get_format({fmt!r}).importer(__import__('pathlib').Path(sys.argv[1])); "
            "[print('problem:', i) if hasattr(i, 'reason') else print('labels:', sorted(set(i.label.ravel().tolist()))) for i in r]; "
            "print('peak', next(int(l.split()[1]) // 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')))")
    return subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).parents[2], env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_coco_polygons_with_non_finite_coordinates_are_refused_without_a_crash(value, tmp_path):
    root = coco_dataset(tmp_path / "ds", [[10, 10, value, 10, 30, 30]])
    result = read_in_subprocess("coco", root)
    assert result.returncode == 0, result.stderr  # no SIGSEGV in pycocotools
    assert "instances_train.json" in result.stdout and "not finite" in result.stdout


def test_coco_coordinates_far_outside_the_image_are_clipped_quickly(tmp_path):
    root = coco_dataset(tmp_path / "ds", [[-1e9, -1e9, 1e9, -1e9, 1e9, 1e9, -1e9, 1e9], [5, 5, 20, 5, 20, 20]])
    started = time.monotonic()
    result = read_in_subprocess("coco", root)
    assert result.returncode == 0 and "labels: [0]" in result.stdout, result.stdout + result.stderr
    assert time.monotonic() - started < 120  # generous: minutes before the fix


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from Linux's /proc")
def test_thousands_of_polygons_on_one_image_keep_memory_bounded(tmp_path):
    """Was one full mask per annotation kept until painting: 1,200 x 0.49 Mpx = 590 MB here."""
    full = [0, 0, 700, 0, 700, 700, 0, 700]
    root = coco_dataset(tmp_path / "ds", [full] * 1200, shape=(700, 700))
    result = read_in_subprocess("coco", root)
    assert result.returncode == 0 and "labels: [0]" in result.stdout, result.stderr
    peak = int(result.stdout.split("peak")[1])
    assert peak < 400, f"peak {peak} MiB"  # about 140 MiB now


def test_non_finite_labelme_and_yolo_coordinates_are_refused_naming_the_file(tmp_path):
    write_images(tmp_path / "lm", 1)
    (tmp_path / "lm" / "img_000.json").write_text(json.dumps({"imagePath": "img_000.png", "imageData": None, "shapes": [
        {"label": "cell", "points": [[1, 1], [float("nan"), 5], [9, 9]], "shape_type": "polygon"}]}))
    problems = [item for item in LabelmeReader(tmp_path / "lm") if hasattr(item, "reason")]
    assert len(problems) == 1 and problems[0].path.name == "img_000.json" and "not finite" in problems[0].reason
    write_images(tmp_path / "yolo" / "images" / "train", 1)
    (tmp_path / "yolo" / "labels" / "train").mkdir(parents=True)
    (tmp_path / "yolo" / "labels" / "train" / "img_000.txt").write_text("0 0.1 0.1 nan 0.5 0.9 0.9\n")
    (tmp_path / "yolo" / "data.yaml").write_text("train: images/train\nnames: [cell]\n")
    problems = [item for item in YoloReader(tmp_path / "yolo") if hasattr(item, "reason")]
    assert len(problems) == 1 and problems[0].path.name == "img_000.txt" and "not finite" in problems[0].reason


def test_a_labelme_circle_with_a_huge_radius_is_refused(tmp_path):
    write_images(tmp_path / "lm", 1)
    (tmp_path / "lm" / "img_000.json").write_text(json.dumps({"imagePath": "img_000.png", "imageData": None, "shapes": [
        {"label": "cell", "points": [[10, 10], [1e8, 10]], "shape_type": "circle"}]}))
    problems = [item for item in LabelmeReader(tmp_path / "lm") if hasattr(item, "reason")]
    assert len(problems) == 1 and "outside the 64x48 image" in problems[0].reason


@pytest.mark.parametrize("text, says", [
    ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nnames: [*b, *b, *b]\n", "aliases"),
    ("train: images\nnames:\n  ~: cell\n", "keys of names must be class numbers"),
    ("train: images\nnames: [cell\n", "not valid YAML at line"),
])
def test_hostile_data_yaml_is_refused_with_a_message(text, says, tmp_path):
    (tmp_path / "data.yaml").write_text(text)
    with pytest.raises(FormatError, match=says):
        YoloReader(tmp_path)


def test_links_out_of_the_dataset_are_not_followed_and_their_contents_not_echoed(tmp_path, project):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{SECRET}\n")
    write_images(outside, 1, seed=7)  # an image outside the dataset, with its own bytes
    root = tmp_path / "yolo"
    write_images(root / "images" / "train", 1)
    (root / "images" / "train" / "linked.png").symlink_to(outside / "img_000.png")
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "img_000.txt").symlink_to(outside / "secret.txt")
    (root / "labels" / "train" / "linked.txt").write_text("0 0.1 0.1 0.5 0.1 0.5 0.5\n")
    (root / "data.yaml").write_text("train: images/train\nnames: [cell]\n")
    with pytest.raises(FormatError) as caught:  # neither pair is usable: the linked label, the linked image
        drive(import_dataset(project, "yolo", root, copy_images=True))
    assert SECRET not in str(caught.value)
    assert not (project.root / "images").exists() and project.images() == []


def test_masks_and_voc_do_not_list_files_linked_from_outside(tmp_path):
    from segstudio.core.formats.masks import MasksReader
    from segstudio.core.formats.voc import VocReader

    source = make_project(tmp_path / "src", count=2)
    drive(export_dataset(source, tmp_path / "out", ExportOptions(formats=("masks", "voc"))))
    source.close()
    for fmt, reader, folder in (("masks", MasksReader, "masks"), ("voc", VocReader, "SegmentationClass")):
        victim = sorted((tmp_path / "out" / fmt / folder).glob("*.png"))[0]
        outside = tmp_path / f"elsewhere-{fmt}.png"
        outside.write_bytes(victim.read_bytes())
        victim.unlink()
        victim.symlink_to(outside)
        listed = reader(tmp_path / "out" / fmt).masks
        assert len(listed) == 1 and victim not in listed


def test_a_refused_import_removes_the_image_it_copied_in(tmp_path, project):
    write_images(tmp_path / "lm", 1)
    (tmp_path / "lm" / "img_000.json").write_text(json.dumps({"imagePath": "img_000.png", "imageData": None, "shapes": [
        {"label": "   ", "points": [[1, 1], [20, 5], [9, 19]], "shape_type": "polygon"}]}))
    report = drive(import_dataset(project, "labelme", tmp_path / "lm", copy_images=True))
    assert not report.imported and "a class needs a name" in report.problems[0].reason
    assert project.images() == [] and list((project.root / "images").iterdir()) == []


def test_an_import_killed_after_adding_an_image_is_finished_by_importing_again(tmp_path, project):
    src = make_project(tmp_path / "src", count=2)
    drive(export_dataset(src, tmp_path / "voc", ExportOptions(formats=("masks",))))
    src.close()
    image = sorted((tmp_path / "voc" / "images").iterdir())[0]
    project.add_images([image])  # what a kill between adding the image and writing its masks leaves
    report = drive(import_dataset(project, "masks", tmp_path / "voc"))
    assert len(report.imported) == 2 and not report.problems, report.problems
    assert all(project.has_masks(r.id) for r in project.images()) and len(project.images()) == 2
    report = drive(import_dataset(project, "masks", tmp_path / "voc"))  # now painted: left as it is
    assert not report.imported and all("already in the project" in p.reason for p in report.problems)


KILL_ON_SECOND = """
import os, signal, sys
from pathlib import Path
from segstudio.core.progress import drive
target, attribute = {target}
calls = []
original = getattr(target, attribute)
def kill_on_second(*args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9, half-way
    return original(*args, **kwargs)
setattr(target, attribute, kill_on_second)
{run}
"""


def run_killed(tmp_path: Path, target: str, run: str) -> None:
    script = KILL_ON_SECOND.format(target=target, run=run)
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                            timeout=300, cwd=Path(__file__).parents[2])
    assert result.returncode == -9, result.stderr


def test_an_import_killed_with_sigkill_is_finished_by_running_it_again(tmp_path):
    source = make_project(tmp_path / "src", count=3)
    drive(export_dataset(source, tmp_path / "ds", ExportOptions(formats=("masks",))))
    source.close()
    with Project.create(tmp_path / "project", CLASSES):
        pass
    run_killed(tmp_path, "(__import__('segstudio.core.project', fromlist=['Project']).Project, 'write_masks')",
               "from segstudio.core.formats import import_dataset\n"
               "from segstudio.core.project import Project\n"
               "project = Project.open(Path(sys.argv[1]) / 'project')\n"
               "drive(import_dataset(project, 'masks', Path(sys.argv[1]) / 'ds'))")
    with Project.open(tmp_path / "project") as project:  # the kill left the second image without masks
        assert len(project.images()) == 2 and sum(project.has_masks(r.id) for r in project.images()) == 1
        report = drive(import_dataset(project, "masks", tmp_path / "ds"))
        assert len(report.imported) == 2 and len(report.problems) == 1  # the first one was complete
        assert len(project.images()) == 3 and all(project.has_masks(r.id) for r in project.images())


def test_an_export_killed_with_sigkill_leaves_a_staging_folder_the_next_export_removes(tmp_path):
    source = make_project(tmp_path / "src", count=3)
    source.close()
    run_killed(tmp_path, "(__import__('segstudio.core.formats.masks', fromlist=['MasksWriter']).MasksWriter, 'add')",
               "from segstudio.core.formats import ExportOptions, export_dataset\n"
               "from segstudio.core.project import Project\n"
               "project = Project.open(Path(sys.argv[1]) / 'src' / 'project', readonly=True)\n"
               "drive(export_dataset(project, Path(sys.argv[1]) / 'out', ExportOptions(formats=('masks',))))")
    assert len(list(tmp_path.glob(".out.segstudio-partial-*"))) == 1 and not (tmp_path / "out").exists()
    with Project.open(tmp_path / "src" / "project", readonly=True) as project:
        drive(export_dataset(project, tmp_path / "out", ExportOptions(formats=("masks",))))
    assert not list(tmp_path.glob(".out.segstudio-partial-*")) and (tmp_path / "out" / "classes.json").is_file()


def test_a_killed_exports_staging_folder_is_removed_by_the_next_export(tmp_path):
    source = make_project(tmp_path / "src", count=1)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    abandoned = tmp_path / f".out.segstudio-partial-{dead.pid}-0000abcd"
    (abandoned / "images").mkdir(parents=True)
    running = tmp_path / f".out.segstudio-partial-{os.getpid()}-0000abcd"
    running.mkdir()
    drive(export_dataset(source, tmp_path / "out", ExportOptions(formats=("masks",))))
    source.close()
    assert not abandoned.exists() and running.exists()  # a live exporter's folder is left alone


def test_class_names_that_differ_only_by_case_fold_into_one_class_where_the_mapping_says(tmp_path, project, capsys):
    write_images(tmp_path / "lm", 2)
    for index, name in enumerate(("Tumour", "tumour")):
        (tmp_path / "lm" / f"img_{index:03d}.json").write_text(json.dumps({
            "imagePath": f"img_{index:03d}.png", "imageData": None,
            "shapes": [{"label": name, "points": [[1, 1], [20, 5], [9, 19]], "shape_type": "polygon"}]}))
    rows, _ = preview_import(project, "labelme", tmp_path / "lm")
    assert [(r.target_name, r.action) for r in rows] == [("Tumour", "new class"), ("Tumour", "new class")]
    project.close()
    assert main(["import", str(project.root), str(tmp_path / "lm"), "-f", "labelme"]) == 0
    assert capsys.readouterr().out.count("-> Tumour [new class]") == 2
    with Project.open(project.root, readonly=True) as reopened:
        assert reopened.class_names() == [*CLASSES, "Tumour"]
        for record in reopened.images():
            assert (reopened.read_label(record.id) == len(CLASSES)).sum() > 0  # both in the one class


def test_a_project_class_is_matched_exactly_before_ignoring_case(tmp_path):
    from segstudio.core.formats import mapping_table

    rows = mapping_table(["Cell", "CELL", "nucleus"], ["cell", "Cell", "NUCLEUS"], {"CELL": "cell"})
    assert [(r.source_name, r.target_name) for r in rows] == [("Cell", "Cell"), ("CELL", "cell"), ("nucleus", "NUCLEUS")]
    with pytest.raises(FormatError, match="'cell' and 'Cell', which differ only by case"):
        mapping_table(["CELL"], ["cell", "Cell"])


@pytest.mark.parametrize("fmt, build, says", [
    ("cityscapes", lambda r: (r / "gtFine" / "train" / "aachen").mkdir(parents=True), "_gtFine_labelIds.png"),
    ("yolo", lambda r: (r / "data.yaml").write_text("train: ../train/images\nnames: [a]\n"), "train/images/"),
    ("coco", lambda r: ((r / "annotations").mkdir(), (r / "annotations" / "captions_val2017.json").write_text(
        json.dumps({"images": [], "annotations": [{"caption": "x"}]}))), "captions"),
    ("labelme", lambda r: r.mkdir(exist_ok=True), "<name>.json"),
    ("voc", lambda r: (r / "SegmentationClass").mkdir(parents=True), "SegmentationClass/<name>.png"),
    ("masks", lambda r: ((r / "masks").mkdir(parents=True), (r / "classes.txt").write_text("a\n")), "masks/<name>.png"),
])
def test_an_import_that_finds_nothing_exits_2_naming_the_layout_it_expected(fmt, build, says, tmp_path, capsys):
    with Project.create(tmp_path / "project", CLASSES):
        pass
    root = tmp_path / "ds"
    root.mkdir()
    build(root)
    assert main(["import", str(tmp_path / "project"), str(root), "-f", fmt]) == 2
    err = capsys.readouterr().err
    assert "expected" in err and says in err, err
    with Project.open(tmp_path / "project", readonly=True) as project:
        assert project.images() == []


def test_config_files_linked_from_outside_or_not_utf8_are_refused_without_echo(tmp_path):
    from segstudio.core.formats.masks import MasksReader
    from segstudio.core.formats.voc import VocReader

    (tmp_path / "secret.txt").write_text(f"{SECRET}:1,2,3::\n")
    voc = tmp_path / "voc"
    (voc / "SegmentationClass").mkdir(parents=True)
    (voc / "labelmap.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(FormatError, match="inside the dataset folder") as caught:
        VocReader(voc)
    assert SECRET not in str(caught.value)
    masks = tmp_path / "masks"
    (masks / "masks").mkdir(parents=True)
    (masks / "classes.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(FormatError, match="not UTF-8"):
        MasksReader(masks)


@pytest.mark.parametrize("name, text", [
    ("annotations/instances_train.json", "[" * 100_000 + "]" * 100_000),
    ("data.yaml", "names: " + "[" * 50_000 + "]" * 50_000 + "\n"),
])
def test_files_nested_absurdly_deep_are_refused_with_a_message(name, text, tmp_path):
    from segstudio.core.formats import get_format

    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    with pytest.raises(FormatError, match="too deeply"):
        get_format("coco" if name.endswith("json") else "yolo").importer(tmp_path)
