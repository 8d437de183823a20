"""Scale of the project store (issue 15): class histograms stored with the masks match the
decoded masks after writes, undo, class removal and on old projects; batched `add` imports what
the one-at-a-time add did; export fsyncs its own files and never the whole machine."""

from __future__ import annotations

import os
import shutil
import sqlite3

import numpy as np
import pytest
from PIL import Image

from segstudio.core.project import Project, Source
from segstudio.core.project.histograms import UNLABELLED
from segstudio.core.workspace import Workspace


def decoded_totals(project: Project) -> dict[int, int]:
    totals: dict[int, int] = {}
    for record in project.images():
        if project.has_masks(record.id):
            label = project.read_label(record.id)
            for value, n in enumerate(np.bincount(label.ravel())):
                if n:
                    key = UNLABELLED if value == project.ignore_value else value
                    totals[key] = totals.get(key, 0) + int(n)
    return totals


def _images(folder, count=4):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        pixels = np.full((24, 32, 3), 20 * i, np.uint8)
        Image.fromarray(pixels).save(folder / f"im{i}.png")
    return folder


@pytest.fixture
def workspace(tmp_path):
    ws = Workspace()
    ws.create(tmp_path / "project", ["background", "cell", "other", "debris"], [_images(tmp_path / "pictures")])
    yield ws
    ws.close()


def test_histograms_follow_writes_undo_and_class_removal(workspace):
    project = workspace.project
    rng = np.random.default_rng(0)
    first, second, third, _fourth = [r.id for r in project.images()]
    for image_id in (first, second):
        label = rng.integers(0, 4, (24, 32)).astype(np.uint8)
        label[:3] = project.ignore_value
        project.write_masks(image_id, label, np.full(label.shape, Source.HUMAN, np.uint8))
    assert project.class_pixel_totals()[0] == decoded_totals(project)
    workspace.open_image(third)
    workspace.document.paint_segment((2, 2), (20, 2), 1, 2)
    workspace.save()
    assert project.class_pixel_totals()[0] == decoded_totals(project)
    assert project.image_histogram(third)[2] > 0
    workspace.undo()
    workspace.save()
    assert project.class_pixel_totals()[0] == decoded_totals(project)
    assert project.image_histogram(third).get(2, 0) == 0
    pixels, images = project.class_pixel_totals()
    assert workspace.class_usage(1) == (pixels[1], images[1]) and images[1] == 2
    workspace.remove_class(1)
    assert project.class_pixel_totals()[0] == decoded_totals(project)
    stats = project.stats()
    assert stats["class_pixels"] == {name: decoded_totals(project).get(i, 0)
                                     for i, name in enumerate(project.class_names())}


def test_an_old_project_is_counted_from_its_files_when_first_asked(tmp_path):
    root = tmp_path / "old"
    with Project.create(root, ["background", "cell"]) as project:
        project.add_images([_images(tmp_path / "pictures", 3)])
        ids = [r.id for r in project.images()]
        label = np.zeros((24, 32), np.uint8)
        label[5:9] = 1
        project.write_masks(ids[0], label, np.full(label.shape, Source.HUMAN, np.uint8))
    conn = sqlite3.connect(root / "segstudio.sqlite")  # what a project made before schema 3 looks like
    conn.execute("DELETE FROM class_pixels")
    conn.execute("UPDATE images SET counted = 0")
    conn.commit()
    conn.close()
    with Project.open(root, readonly=True) as readonly:  # info on a locked project: counted, not stored
        assert readonly.class_pixel_totals()[0] == {0: 24 * 32 - 4 * 32, 1: 4 * 32}
    with Project.open(root) as project:
        assert project.stats()["class_pixels"] == {"background": 24 * 32 - 4 * 32, "cell": 4 * 32}
        assert project._query("SELECT COUNT(*) FROM images WHERE counted = 0")[0][0] == 0


def old_add(project: Project, files):
    """The one-image-at-a-time add this replaced (issue 15), as the reference."""
    from segstudio.core.errors import ImageReadError, SaveError
    from segstudio.core.imageio import probe_image
    from segstudio.core.imageio.completeness import check_complete
    from segstudio.core.project.images import _check_name, _sha256

    added, duplicates, failed = [], [], []
    for path in files:
        try:
            _check_name(path)
            checksum = _sha256(path)
            if project._query("SELECT 1 FROM images WHERE checksum = ?", (checksum,)):
                duplicates.append(path)
                continue
            info = probe_image(path)
            check_complete(path, info.width, info.height)
            added.extend(project._insert_images([(path, info.width, info.height, checksum)]))
        except ImageReadError as exc:
            failed.append((path, exc.reason))
        except (SaveError, OSError) as exc:
            failed.append((path, str(exc)))
    return added, duplicates, failed


@pytest.mark.parametrize("pool_from", [0, 1 << 20], ids=["on-the-pool", "on-this-thread"])
def test_batched_add_imports_what_one_at_a_time_did(tmp_path, monkeypatch, pool_from):
    folder = _images(tmp_path / "pictures", 7)
    shutil.copy(folder / "im1.png", folder / "im1_copy.png")  # duplicates in other batches
    shutil.copy(folder / "im5.png", folder / "a_first_copy.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "cut.png").write_bytes((folder / "im2.png").read_bytes()[:60])
    files = sorted(folder.iterdir())
    monkeypatch.setattr(Project, "ADD_BATCH", 3)
    monkeypatch.setattr(Project, "_ROWS_PER_INSERT", 2)  # several statements a batch, one row left over
    monkeypatch.setattr(Project, "_POOL_FROM_BYTES", pool_from)
    monkeypatch.setattr(Project, "_EXAMINE_CHUNK", 2)  # several tasks a batch, one file left over
    with Project.create(tmp_path / "old", ["bg", "fg"]) as before, Project.create(tmp_path / "new", ["bg", "fg"]) as after:
        before.add_images([folder / "im3.png"])
        after.add_images([folder / "im3.png"])  # already in the project: a duplicate in the batch run
        added, duplicates, failed = old_add(before, files)
        report = after.add_images(files)
        assert [(r.name, r.width, r.height, r.checksum) for r in report.added] == \
               [(r.name, r.width, r.height, r.checksum) for r in added]
        assert report.duplicates == duplicates and [p for p, _ in report.failed] == [p for p, _ in failed]
        assert [(r.name, r.checksum) for r in after.images()] == [(r.name, r.checksum) for r in before.images()]
        assert "broken.png" in report.summary() and "cut.png" in report.summary()
        assert after.status_counts()["new"] == len(after.images())


def test_export_fsyncs_its_own_files_and_not_the_machine(workspace, tmp_path, monkeypatch):
    from segstudio.core.formats.export import ExportOptions, export_dataset
    from segstudio.core.progress import drive

    project = workspace.project
    for record in project.images()[:2]:
        project.write_masks(record.id, np.ones((24, 32), np.uint8), np.full((24, 32), Source.HUMAN, np.uint8))
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "sync", lambda: pytest.fail("os.sync() flushes every file of the machine"))
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd)))
    out = tmp_path / "export"
    drive(export_dataset(project, out, ExportOptions(formats=("voc",), done_only=False)))
    files = {str(p) for p in out.rglob("*") if p.is_file() and not p.is_symlink()}
    assert files and all(any(s.endswith(os.path.relpath(f, out)) for s in synced) for f in files)
    assert all("export" in s or s == str(tmp_path) for s in synced)
