"""Hostile project folders and command lines: links, damaged databases, odd names and values.

Each case: the real CLI in a subprocess (exit code, message, no traceback), nothing outside
the test's folder changed, every painted pixel where it was, and the project opens afterwards
(for a damaged database: once the backup is back).
"""

from __future__ import annotations

import os
import shutil
import sqlite3

import numpy as np
import pytest
from PIL import Image

from segstudio.core.atomic import atomic_write_bytes
from segstudio.core.errors import ProjectError, SaveError
from segstudio.core.project import Project
from tests.data_makers.hostile import (
    CLASSES, assert_pixels_kept, assert_refused, cli, make_outside, make_painted_project, snapshot, write_images,
)

DB = "segstudio.sqlite"


@pytest.fixture
def outside(tmp_path):
    folder = make_outside(tmp_path)
    before = snapshot(folder)
    yield folder
    assert snapshot(folder) == before, "something outside the test's folder changed"


@pytest.fixture
def painted(tmp_path, outside):
    """(root, expected labels) of a project with three painted images."""
    root = tmp_path / "proj"
    return root, make_painted_project(root)


# ------------------------------------------------------------------ the database

def _break_db(root, how):
    backup = root.parent / "backup.sqlite"
    shutil.copy2(root / DB, backup)
    if how == "empty":
        (root / DB).write_bytes(b"")
    elif how == "garbage":
        (root / DB).write_bytes(os.urandom(8192))
    elif how == "truncated":
        data = backup.read_bytes()
        (root / DB).write_bytes(data[: len(data) // 3])
    elif how == "foreign":
        (root / DB).unlink()
        with sqlite3.connect(root / DB) as conn:
            conn.execute("CREATE TABLE songs (title TEXT)")
    return backup


@pytest.mark.parametrize(("how", "needle"), [
    ("empty", "is empty (0 bytes)"), ("garbage", "damaged or not a SegStudio database"),
    ("truncated", "damaged"), ("foreign", "not a SegStudio database"),
])
@pytest.mark.parametrize("command", ["info", "add"])
def test_a_lost_or_damaged_database_is_never_recreated_over_the_labels(painted, tmp_path, how, needle, command):
    root, expected = painted
    backup = _break_db(root, how)
    broken = (root / DB).read_bytes()
    extra = [write_images(tmp_path / "more", 1)[0]] if command == "add" else []
    run = cli(command, root, *extra)
    assert_refused(run, needle, "restore it from a backup")
    assert (root / DB).read_bytes() == broken  # nothing rewritten, no empty project made
    assert sorted(p.name for p in (root / "labels").iterdir()) == [f"{i}.png" for i in sorted(expected)]
    shutil.copy2(backup, root / DB)
    assert_pixels_kept(root, expected)


def test_a_database_from_a_newer_segstudio_is_refused_without_a_byte_changed(painted):
    root, expected = painted
    with sqlite3.connect(root / DB) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")  # WAL would be switched on (a header write) by a writer
        conn.execute("PRAGMA user_version = 99")
    before = (root / DB).read_bytes()
    for command in ("info", "add"):
        assert_refused(cli(command, root, *([root] if command == "add" else [])), "newer SegStudio")
    assert (root / DB).read_bytes() == before
    with sqlite3.connect(root / DB) as conn:
        conn.execute("PRAGMA user_version = 1")
    assert_pixels_kept(root, expected)


def test_a_database_that_is_a_link_is_refused(painted, outside):
    root, expected = painted
    os.replace(root / DB, outside / "folder" / "real.sqlite")
    os.symlink(outside / "folder" / "real.sqlite", root / DB)
    assert_refused(cli("info", root), "is a link")
    os.unlink(root / DB)
    os.replace(outside / "folder" / "real.sqlite", root / DB)
    assert_pixels_kept(root, expected)


def test_a_creation_cut_short_in_an_empty_folder_still_opens(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / DB).write_bytes(b"")
    with Project.open(root) as project:  # nothing to lose: the schema is made
        assert project.class_names() == []


# ------------------------------------------------------------------ links and lock

def test_a_lock_that_is_a_link_never_truncates_its_target(painted, outside):
    root, expected = painted
    (root / ".segstudio.lock").unlink(missing_ok=True)
    os.symlink(outside / "secret.txt", root / ".segstudio.lock")
    for command in ("info", "add"):
        assert_refused(cli(command, root, *([root] if command == "add" else [])), ".segstudio.lock", "link")
    os.unlink(root / ".segstudio.lock")
    assert_pixels_kept(root, expected)


def test_a_lock_that_is_a_folder_is_a_message(painted):
    root, expected = painted
    (root / ".segstudio.lock").unlink(missing_ok=True)
    (root / ".segstudio.lock").mkdir()
    assert_refused(cli("info", root), ".segstudio.lock", "folder")
    (root / ".segstudio.lock").rmdir()
    assert_pixels_kept(root, expected)


@pytest.mark.parametrize("folder", ["labels", "sources", "journal", "models", "uncertainty"])
def test_a_project_folder_that_is_a_link_is_refused_before_any_write(painted, outside, folder):
    root, expected = painted
    real = root.parent / f"real-{folder}"
    if (root / folder).exists():
        os.replace(root / folder, real)
    else:
        real.mkdir()
    os.symlink(outside / "folder", root / folder)
    assert_refused(cli("info", root), f"{folder} is a link")
    os.unlink(root / folder)
    os.replace(real, root / folder)
    assert_pixels_kept(root, expected)


def test_add_copy_into_an_images_folder_that_is_a_link_is_listed_not_written(painted, tmp_path, outside):
    root, expected = painted
    os.symlink(outside / "folder", root / "images")
    source = write_images(tmp_path / "new", 1, seed=9)[0]
    run = cli("add", root, source, "--copy")
    assert run.rc == 1 and "is a link" in run.err and "Traceback" not in run.text, run.text
    os.unlink(root / "images")
    assert_pixels_kept(root, expected)


def test_no_project_write_goes_through_a_link(tmp_path, outside):
    os.symlink(outside / "secret.txt", tmp_path / "mask.png")
    with pytest.raises(SaveError, match="is a link"):
        atomic_write_bytes(tmp_path / "mask.png", b"new")
    os.symlink(outside / "folder", tmp_path / "linked")
    with pytest.raises(SaveError, match="is a link"):
        atomic_write_bytes(tmp_path / "linked" / "mask.png", b"new", project_file=True)
    os.symlink(tmp_path / "real", tmp_path / "my-datasets")  # a person's own destination may be a link
    (tmp_path / "real").mkdir()
    atomic_write_bytes(tmp_path / "my-datasets" / "card.md", b"fine")
    assert (tmp_path / "real" / "card.md").read_bytes() == b"fine"


def test_add_copy_never_copies_through_a_dangling_link_in_images(painted, tmp_path, outside):
    root, expected = painted
    (root / "images").mkdir(exist_ok=True)
    source = write_images(tmp_path / "new", 1, seed=9)[0]
    os.symlink(outside / "folder" / source.name, root / "images" / source.name)  # dangling: points outside
    run = cli("add", root, source, "--copy")
    assert run.rc == 0, run.text
    assert not (outside / "folder" / source.name).exists()
    assert (root / "images" / f"{source.stem}_1{source.suffix}").is_file()
    os.unlink(root / "images" / source.name)
    assert_pixels_kept(root, expected)


# ------------------------------------------------------------------ images at add

def _jpeg(size=(40, 30)) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((size[1], size[0], 3)) * 255).astype(np.uint8)).save(
        buffer, "JPEG")
    return buffer.getvalue()


def _bomb_jpeg() -> bytes:
    """A small JPEG whose frame header claims 30000 x 30000 RGB pixels (2.7 GB decoded)."""
    data = bytearray(_jpeg((8, 8)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = (30000).to_bytes(2, "big") + (30000).to_bytes(2, "big")
    return bytes(data)


def _scanless(jpeg: bytes) -> bytes:
    """Everything up to and with the scan header, then the end marker: it probes as a JPEG."""
    sos = jpeg.index(b"\xff\xda")
    return jpeg[: sos + 2 + int.from_bytes(jpeg[sos + 2:sos + 4], "big")] + b"\xff\xd9"


def _hostile_images(folder):
    folder.mkdir()
    png = (write_images(folder / "src", 1)[0]).read_bytes()
    jpeg = _jpeg()
    cases = {
        "cut.png": png[: len(png) // 2], "cut.jpg": jpeg[: len(jpeg) // 2],
        "noscan.jpg": _scanless(jpeg), "bomb.jpg": _bomb_jpeg(),
        "empty.png": b"",
    }
    for name, data in cases.items():
        (folder / name).write_bytes(data)
    shutil.rmtree(folder / "src")
    return cases


def test_add_lists_truncated_scanless_and_lying_images_and_adds_the_rest(painted, tmp_path):
    root, expected = painted
    cases = _hostile_images(tmp_path / "bad")
    good = write_images(tmp_path / "bad", 1, seed=5)[0]
    run = cli("add", root, tmp_path / "bad")
    assert run.rc == 1 and "Traceback" not in run.text, run.text
    assert "1 added" in run.out and f"{len(cases)} failed" in run.out
    for name, reason in [("cut.png", "cut short"), ("cut.jpg", "cut short"), ("noscan.jpg", "no image data"),
                         ("bomb.jpg", "far more than"), ("empty.png", "")]:
        line = next(line for line in run.err.splitlines() if line.startswith("  could not add") and name in line)
        assert reason in line, line
    with Project.open(root, readonly=True) as project:
        assert [r.path for r in project.images() if r.path.parent == good.parent] == [good]
    assert_pixels_kept(root, expected)


def test_a_file_name_that_is_not_utf8_is_listed_not_a_crash(painted, tmp_path):
    root, expected = painted
    folder = tmp_path / "odd"
    write_images(folder, 2, seed=7)
    os.rename(folder / "img0.png", os.path.join(os.fsencode(folder), b"caf\xe9.png"))
    run = cli("add", root, folder)
    assert run.rc == 1 and "Traceback" not in run.text, run.text
    assert "not valid UTF-8" in run.err and "1 added" in run.out
    assert_pixels_kept(root, expected)


# ------------------------------------------------------------------ the command line

@pytest.mark.parametrize("args", [
    ["train", "{root}", "--patch", "0"], ["train", "{root}", "--lr", "nan"], ["train", "{root}", "--lr", "-1"],
    ["train", "{root}", "--epochs", "0"], ["train", "{root}", "--batch-size", "-3"],
    ["predict", "{root}", "--out", "{tmp}/maps", "--tile", "1000000000"],
], ids=["patch-0", "lr-nan", "lr-negative", "epochs-0", "batch-negative", "tile-huge"])
def test_impossible_numbers_are_refused_by_the_parser(painted, tmp_path, args):
    root, expected = painted
    run = cli(*[a.format(root=root, tmp=tmp_path) for a in args])
    assert_refused(run, "must be")
    assert not (tmp_path / "maps").exists()
    assert_pixels_kept(root, expected)


def test_a_mistyped_command_is_a_message_and_never_starts_qt(tmp_path):
    run = cli("inof", tmp_path, env={"DISPLAY": "", "WAYLAND_DISPLAY": "", "QT_QPA_PLATFORM": ""})
    assert_refused(run, "did you mean `segstudio info`")


def test_the_app_without_a_display_is_a_message_not_an_abort(painted):
    root, _ = painted
    run = cli(root, env={"DISPLAY": "", "WAYLAND_DISPLAY": "", "QT_QPA_PLATFORM": ""})
    assert_refused(run, "no display")


def test_a_300_character_project_name_is_a_message(tmp_path):
    assert_refused(cli("new", tmp_path / ("p" * 300)), "cannot create a project", "too long")


def test_any_failure_is_one_line_and_the_traceback_only_under_debug(painted):
    root, expected = painted
    with sqlite3.connect(root / DB) as conn:
        conn.execute("UPDATE classes SET color = 'not a colour' WHERE id = 1")
    run = cli("info", root)
    assert_refused(run, "unexpected ValueError", "--debug")
    assert len(run.err.strip().splitlines()) == 1
    assert "Traceback" in cli("--debug", "info", root).err
    with sqlite3.connect(root / DB) as conn:
        conn.execute("UPDATE classes SET color = '#800000' WHERE id = 1")
    assert_pixels_kept(root, expected)


# ------------------------------------------------------------------ predict --out

@pytest.mark.parametrize("where", ["same", "parent", "project", "inside-project"])
def test_predict_never_writes_over_its_sources(painted, tmp_path, where):
    root, expected = painted
    images = root.parent / "proj-images"
    src, out = {"same": (images, images), "parent": (images, tmp_path), "project": (root, root),
                "inside-project": (root, root / "labels")}[where]
    before = snapshot(tmp_path)
    bundle = _tiny_bundle(tmp_path)
    before = snapshot(tmp_path)
    run = cli("predict", src, "--model", bundle, "--out", out)
    assert_refused(run, "--out")
    assert snapshot(tmp_path) == before
    assert_pixels_kept(root, expected)


def _tiny_bundle(tmp_path):
    from segstudio.core.models import ModelBundle

    return ModelBundle.create("unet", CLASSES, depth=1, width=2).save(tmp_path / "bundle")


def test_a_project_opens_with_a_clear_message_when_asked_for_a_missing_class(painted):
    root, expected = painted
    with Project.open(root) as project, pytest.raises(ProjectError, match="no class with id 7"):
        project.remove_class(7)
    assert_pixels_kept(root, expected)


def test_a_class_list_file_that_is_not_utf8_is_a_message(painted, tmp_path):
    root, expected = painted
    dataset = tmp_path / "dataset"
    write_images(dataset / "images", 1)
    (dataset / "masks").mkdir()
    Image.fromarray(np.zeros((24, 32), np.uint8)).save(dataset / "masks" / "img0.png")
    (dataset / "classes.txt").write_bytes("background\ncaf\xe9\n".encode("latin-1"))
    run = cli("import", root, dataset, "--format", "masks")
    assert run.rc == 2 and "Traceback" not in run.text, run.text
    assert "utf-8" in run.text.lower()
    assert_pixels_kept(root, expected)
