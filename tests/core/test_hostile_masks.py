"""Damaged masks and journals, class removal under kill -9 and a full disk, faulty storage.

The promise checked everywhere: no painted pixel is lost or ends in another class, and the
project opens afterwards (with what could not be used set aside, and said so).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

from segstudio.core.errors import ProjectError
from segstudio.core.geometry import BBox
from segstudio.core.journal import JournalWriter, ProjectJournal, encode_record
from segstudio.core.project import Project, Source
from segstudio.core.project.class_removal import INTENT_NAME
from tests.data_makers.hostile import (
    CLASSES, ROOT, SHAPE, assert_pixels_kept, assert_refused, can_use_mount_namespace, cli, in_mount_namespace,
    make_outside, make_painted_project, snapshot,
)


@pytest.fixture
def outside(tmp_path):
    folder = make_outside(tmp_path)
    before = snapshot(folder)
    yield folder
    assert snapshot(folder) == before, "something outside the test's folder changed"


@pytest.fixture
def painted(tmp_path, outside):
    root = tmp_path / "proj"
    return root, make_painted_project(root)


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))


def _removed(label: np.ndarray, class_id: int) -> np.ndarray:
    """What removing `class_id` must make of a label map."""
    out = label.copy()
    out[(label > class_id) & (label != 255)] -= 1
    out[label == class_id] = 255
    return out


# ------------------------------------------------------------------ damaged masks

@pytest.mark.parametrize(("data", "needle"), [
    (_png_header_only(100_000, 100_000), "100000x100000 but its image is 32x24"),
    (b"GIF89a not a mask at all", "not a PNG file"),
    (b"", "not a PNG file"),
], ids=["huge-header", "not-png", "empty"])
def test_a_damaged_or_huge_mask_is_refused_before_decoding(painted, data, needle):
    root, expected = painted
    first = min(expected)
    (root / "labels" / f"{first}.png").write_bytes(data)
    with Project.open(root) as project, pytest.raises(ProjectError, match=needle):
        project.read_label(first)
    del expected[first]
    assert_pixels_kept(root, expected)


def _pending_edit(project, image_id, value=1, box=BBox(0, 0, 4, 4), generation=1) -> None:
    writer = JournalWriter(ProjectJournal(project).path(image_id, generation))
    patch = np.full((box.height, box.width), value, np.uint8)
    writer.write([encode_record(box, SHAPE, patch, np.full(patch.shape, Source.HUMAN, np.uint8))])
    writer.close()


def test_a_damaged_mask_with_pending_edits_is_set_aside_and_the_rest_opens(painted):
    root, expected = painted
    first, second = sorted(expected)[:2]
    with Project.open(root) as project:
        _pending_edit(project, first)
        _pending_edit(project, second, value=2)
    (root / "labels" / f"{first}.png").write_bytes(b"\x89PNG\r\n\x1a\n damaged")
    run = cli("info", root)
    assert run.rc == 0 and "Traceback" not in run.text, run.text
    assert "moved to quarantine" in run.out and "Recovered 1 unsaved edit" in run.out
    (folder,) = (root / "quarantine").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == [
        "WHY.txt", f"journal-{first}.000001.journal", f"label-{first}.png", f"source-{first}.png"]
    expected[second][0:4, 0:4] = 2  # the healthy image's pending edit went in
    del expected[first]
    assert_pixels_kept(root, expected)
    assert cli("info", root).rc == 0


def test_one_flipped_byte_in_the_first_journal_record_loses_only_that_record(painted):
    root, expected = painted
    image_id = min(expected)
    with Project.open(root) as project:
        journal = ProjectJournal(project)
        writer = JournalWriter(journal.path(image_id, 1))
        boxes = [BBox(0, 0, 3, 3), BBox(5, 5, 9, 9), BBox(10, 0, 12, 30)]
        records = [encode_record(b, SHAPE, np.full((b.height, b.width), 2, np.uint8),
                                 np.full((b.height, b.width), Source.HUMAN, np.uint8)) for b in boxes]
        damaged = bytearray(records[0])
        damaged[20] ^= 0x40
        writer.write([bytes(damaged), *records[1:]])
        writer.close()
    run = cli("info", root)
    assert run.rc == 0, run.text
    assert "Recovered 2 unsaved edits" in run.out and "1 damaged journal record was skipped" in run.out
    for box in boxes[1:]:
        expected[image_id][box.slices] = 2
    assert_pixels_kept(root, expected)


# ------------------------------------------------------------------ class removal

def test_a_damaged_mask_stops_class_removal_before_anything_changes(painted):
    root, expected = painted
    last = max(expected)
    (root / "labels" / f"{last}.png").write_bytes(b"\x89PNG\r\n\x1a\n damaged")
    with Project.open(root) as project, pytest.raises(ProjectError, match="Nothing was changed"):
        project.remove_class(1)
    assert not (root / INTENT_NAME).exists()
    assert not [p for d in ("labels", "sources") for p in (root / d).iterdir() if p.name.startswith(".")]
    del expected[last]
    assert_pixels_kept(root, expected)


def _stage_by_hand(root, expected, phase):
    """The files a removal of class 1 leaves when killed after staging: staged maps and intent."""
    from segstudio.core.atomic import encode_png

    for image_id, label in expected.items():
        new = _removed(label, 1)
        (root / "labels" / f".{image_id}.class-removal.png").write_bytes(encode_png(new))
        (root / "sources" / f".{image_id}.class-removal.png").write_bytes(
            encode_png(np.where(new == 255, 0, 3).astype(np.uint8)))
    (root / INTENT_NAME).write_text(json.dumps({
        "operation": "remove_class", "class_id": 1, "names_before": CLASSES,
        "names_after": [CLASSES[0], CLASSES[2]], "phase": phase, "images": sorted(expected)}))


def test_an_interrupted_prepared_removal_is_undone_on_open(painted):
    root, expected = painted
    _stage_by_hand(root, expected, "prepare")
    run = cli("info", root)
    assert run.rc == 0 and "Undid the interrupted removal of class 'cell'" in run.out, run.text
    assert not (root / INTENT_NAME).exists()
    assert_pixels_kept(root, expected)


def test_an_interrupted_committed_removal_is_finished_on_open(painted):
    root, expected = painted
    _stage_by_hand(root, expected, "commit")
    run = cli("info", root)
    assert run.rc == 0 and "Finished removing class 'cell'" in run.out, run.text
    assert_pixels_kept(root, {i: _removed(label, 1) for i, label in expected.items()}, [CLASSES[0], CLASSES[2]])


_CHILD = """
import sys, time
from segstudio.core.project import Project
project = Project.open(sys.argv[1])
print("go", flush=True)
start = time.perf_counter()
project.remove_class(1)
print("done", time.perf_counter() - start, flush=True)
"""


def _removal_child(root):
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(root)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_kill_9_at_random_points_of_a_class_removal_leaves_every_image_before_or_after(tmp_path, outside):
    template = tmp_path / "template"
    from tests.data_makers.hostile import painted_labels, write_images

    paths = write_images(tmp_path / "images", 10)
    with Project.create(template, CLASSES) as project:
        for record, label in zip(project.add_images(paths).added, painted_labels(10)):
            project.write_masks(record.id, label, np.where(label == 255, 0, 3).astype(np.uint8))
    with Project.open(template, readonly=True) as project:
        before = {r.id: project.read_label(r.id) for r in project.images()}
    after = {i: _removed(label, 1) for i, label in before.items()}

    measure = tmp_path / "measure"
    shutil.copytree(template, measure)
    child = _removal_child(measure)
    assert child.stdout.readline().strip() == "go"
    duration = float(child.stdout.readline().split()[1])
    assert child.wait() == 0

    rng = random.Random(0)
    interrupted = 0
    for trial in range(8):
        root = tmp_path / f"trial{trial}"
        shutil.copytree(template, root)
        child = _removal_child(root)
        assert child.stdout.readline().strip() == "go"
        if trial % 2:  # every other kill waits until the removal is under way: some must land inside
            deadline = time.monotonic() + 5 * duration + 1
            while not (root / INTENT_NAME).exists() and time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.0005)
        time.sleep(duration * rng.uniform(0, 1.0))
        child.kill()
        child.wait()
        child.stdout.close()
        interrupted += (root / INTENT_NAME).exists()
        with Project.open(root) as project:  # resumes: finishes or undoes
            names = project.class_names()
            assert names in (CLASSES, [CLASSES[0], CLASSES[2]]), names
            wanted = before if names == CLASSES else after
            for image_id, label in wanted.items():
                np.testing.assert_array_equal(project.read_label(image_id), label, err_msg=f"trial {trial}")
            assert not (root / INTENT_NAME).exists()
        assert not [p for d in ("labels", "sources") for p in (root / d).iterdir() if p.name.startswith(".")]
    assert interrupted >= 1, "no kill landed inside the removal; the test proved nothing"


# ------------------------------------------------------------------ faulty storage

needs_namespace = pytest.mark.skipif(not can_use_mount_namespace(), reason="needs `unshare -rm` (mount namespaces)")


def _scenario(name: str, setup: str, folder) -> dict:
    run = in_mount_namespace(f'{setup} && "$PY" -m tests.data_makers.storage_faults {name} "{folder}"')
    assert run.rc == 0, run.text
    return json.loads(run.out.strip().splitlines()[-1])


@needs_namespace
def test_a_full_disk_during_add_copy_leaves_no_cut_short_copy(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    result = _scenario("full_disk_add_copy", f'mount -t tmpfs -o size=3m tmpfs "{disk}"', disk)
    run = result["run"]
    assert run["rc"] == 1 and "Traceback" not in run["out"] + run["err"], run
    assert "No space left on device" in run["err"] and "1 failed" in run["out"]
    assert result["images"] == [] and result["kept"] and result["info"] == 0


@needs_namespace
def test_a_full_disk_during_class_removal_changes_nothing(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    result = _scenario("full_disk_class_removal", f'mount -t tmpfs -o size=3m tmpfs "{disk}"', disk)
    assert result["error"].startswith("SaveError") and "Nothing was changed" in result["error"], result
    assert "class-removal.png failed (No space left on device)" in result["error"]  # mid-staging, not before
    assert result["kept"] and result["names"] == CLASSES and result["leftovers"] == [] and not result["intent"]


@needs_namespace
def test_a_full_disk_at_open_shows_the_project_and_refuses_changes_with_the_reason(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    result = _scenario("full_disk_at_open", f'mount -t tmpfs -o size=3m tmpfs "{disk}"', disk)
    info, add = result["info"], result["add"]
    assert info["rc"] == 0 and "its disk is full" in info["out"] and "Pixels per class" in info["out"], info
    assert add["rc"] == 2 and "is full: free some space" in add["err"] and "Traceback" not in add["err"], add
    assert result["kept"]


@needs_namespace
def test_a_project_on_read_only_storage_is_shown_read_only_and_refuses_changes(painted, tmp_path):
    root, expected = painted
    result = _scenario("read_only", f'mount --bind "{root}" "{root}" && mount -o remount,bind,ro "{root}"', root)
    info, add, export = result["info"], result["add"], result["export"]
    assert info["rc"] == 0 and "on read-only storage" in info["out"], info
    assert add["rc"] == 2 and "read-only storage" in add["err"] and "Traceback" not in add["err"], add
    assert export["rc"] == 0 and result["exported"], export
    assert_pixels_kept(root, expected)


def test_the_cli_refuses_a_read_only_change_with_a_message_not_a_traceback(painted):
    root, expected = painted
    run = cli("new", root)
    assert_refused(run, "not empty")
    assert_pixels_kept(root, expected)


@pytest.mark.parametrize("intent", [
    '{"operation": "remove_class", "class_id": 1, "names_before": ["a", "b"], "names_after": ["a"], '
    '"phase": "commit", "images": ["../../outside/secret"]}',
    "{not json", "[" * 50_000,
], ids=["path-in-ids", "not-json", "nested"])
def test_a_hostile_or_damaged_intent_file_is_refused_and_touches_nothing(painted, outside, intent):
    root, expected = painted
    (root / INTENT_NAME).write_text(intent)
    assert_refused(cli("info", root), "interrupted class removal", "cannot be read")
    (root / INTENT_NAME).unlink()
    assert_pixels_kept(root, expected)


def test_a_journal_record_is_inflated_only_as_far_as_its_box_needs(painted):
    root, expected = painted
    image_id = min(expected)
    from segstudio.core.journal import HEADER, MAGIC, META

    raw = META.pack(*SHAPE, 0, 0, 2, 2, 1) + b"\x01" * 8 + b"\x00" * (64 << 20)  # 64 MB behind a 2 x 2 box
    payload = zlib.compress(raw, 9)
    length = struct.pack("<I", len(payload))
    bomb = HEADER.pack(MAGIC, len(payload), zlib.crc32(payload, zlib.crc32(length))) + payload
    with Project.open(root) as project:
        writer = JournalWriter(ProjectJournal(project).path(image_id, 1))
        writer.write([bomb])
        writer.close()
    run = cli("info", root)
    assert run.rc == 0 and "Recovered 1 unsaved edit" in run.out, run.text
    expected[image_id][0:2, 0:2] = 1
    assert_pixels_kept(root, expected)
