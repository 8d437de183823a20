"""`segstudio export` and `segstudio import` end to end, in process (the argparse front door included)."""

from __future__ import annotations

import json

from core.test_formats_data import CLASSES, make_project
from segstudio.cli import main
from segstudio.core.project import Project


def test_export_then_import_through_the_command_line(tmp_path, capsys):
    project = make_project(tmp_path, count=4)
    project.close()
    out = tmp_path / "out"
    code = main(["export", str(project.root), "--format", "coco,masks", "--out", str(out), "--all",
                 "--split", "new", "--ratios", "0.5,0.25,0.25", "--seed", "3", "--unreviewed", "label"])
    assert code == 0
    assert "exported 4 images" in capsys.readouterr().out
    assert (out / "coco" / "README.md").is_file() and (out / "masks" / "classes.json").is_file()

    (out / "masks" / "masks" / "img_003.png").write_bytes(b"broken")
    with Project.create(tmp_path / "target", CLASSES[:2]):
        pass
    code = main(["import", str(tmp_path / "target"), str(out / "masks"), "--format", "masks", "--map", "nucleus=cell"])
    captured = capsys.readouterr()
    assert code == 1  # one file could not be imported; the rest did
    assert "nucleus -> cell [mapped]" in captured.out and "imported 3 images" in captured.out
    assert "img_003.png" in captured.err
    with Project.open(tmp_path / "target", readonly=True) as target:
        assert len(target.images()) == 3 and target.class_names() == list(CLASSES[:2])


def test_bad_input_exits_2_with_a_message_and_writes_nothing(tmp_path, capsys):
    project = make_project(tmp_path, count=1)
    project.close()
    assert main(["export", str(project.root), "--format", "pascal", "--out", str(tmp_path / "out")]) == 2
    assert "unknown format 'pascal'" in capsys.readouterr().err
    assert main(["export", str(project.root), "-f", "voc", "-o", str(tmp_path / "o"), "--ratios", "a,b"]) == 2
    assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()
    (tmp_path / "ds" / "annotations").mkdir(parents=True)
    (tmp_path / "ds" / "annotations" / "instances_train.json").write_text(json.dumps({"images": []})[:-3])
    assert main(["import", str(project.root), str(tmp_path / "ds"), "-f", "coco", "--dry-run"]) == 2
    assert "truncated" in capsys.readouterr().err
