"""The project store's life: create and open, schema version and migrations, one writer at a
time (same process and other processes), read-only access, and the class list."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from segstudio.core.errors import ProjectError, ProjectLockedError, SaveError
from segstudio.core.project import IGNORE, IGNORE_16, Project, Source, Status
from segstudio.core.project import schema


def _db(project_root) -> sqlite3.Connection:
    return sqlite3.connect(project_root / schema.DB_NAME)


@pytest.fixture()
def root(tmp_path):
    return tmp_path / "proj"


@pytest.fixture()
def project(tmp_path, root):
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(folder / "a.png")
    with Project.create(root, ["background", "cell", "nucleus"]) as project:
        project.add_images([folder])
        yield project


# ------------------------------------------------------------------ create / open


def test_create_makes_the_folder_layout_and_classes(root):
    with Project.create(root, [" background", "cell "], colors=[(1, 2, 3)]) as project:
        assert Project.is_project(root)
        for sub in ("labels", "sources", "models", "journal"):
            assert (root / sub).is_dir()
        assert project.class_names() == ["background", "cell"]
        assert [(c.id, c.order) for c in project.classes()] == [(0, 0), (1, 1)]
        assert project.classes()[0].color == (1, 2, 3)
        assert project.classes()[1].color != (1, 2, 3)
        assert project.history()[0]["kind"] == "project_created"
    with Project.open(root) as again:
        assert again.class_names() == ["background", "cell"]


def test_create_refuses_a_non_empty_folder_and_bad_class_names(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("keep me")
    with pytest.raises(ProjectError, match="not empty"):
        Project.create(tmp_path / "busy")
    assert (tmp_path / "busy" / "file.txt").read_text() == "keep me"
    with pytest.raises(ProjectError, match="already a class"):
        Project.create(tmp_path / "dup", ["a", "a"])
    with pytest.raises(ProjectError, match="needs a name"):
        Project.create(tmp_path / "empty", ["a", " "])


def test_open_refuses_a_folder_that_is_not_a_project(tmp_path):
    with pytest.raises(ProjectError, match="not a SegStudio project"):
        Project.open(tmp_path)
    assert not Project.is_project(tmp_path)


def test_the_database_runs_in_wal_mode_with_the_current_schema_version(project):
    with _db(project.root) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ------------------------------------------------------------------ schema versions


def test_a_hand_written_version_0_database_is_migrated_on_open(root):
    root.mkdir()
    with sqlite3.connect(root / schema.DB_NAME) as conn:  # what an unversioned file looks like
        conn.execute("PRAGMA user_version = 0")
    with Project.open(root) as project:
        assert project.class_names() == []
        project.add_class("background")
    with _db(root) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"images", "classes", "history", "models", "settings"} <= tables


def test_an_older_project_is_migrated_and_keeps_its_data(project, monkeypatch):
    root = project.root
    image_id = project.images()[0].id
    project.set_status(image_id, Status.DONE)
    project.close()
    v2 = "ALTER TABLE images ADD COLUMN note TEXT NOT NULL DEFAULT ''"
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, v2))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))

    with Project.open(root) as migrated:
        assert migrated.image(image_id).status == Status.DONE
        assert migrated.class_names() == ["background", "cell", "nucleus"]
    with _db(root) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
        assert conn.execute("SELECT note FROM images").fetchall() == [("",)]


def test_a_failing_migration_changes_nothing_and_says_so(project, monkeypatch):
    root = project.root
    project.close()
    broken = "ALTER TABLE images ADD COLUMN note TEXT; ALTER TABLE no_such_table ADD COLUMN x"
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, broken))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    try:
        with pytest.raises(ProjectError):
            Project.open(root)
    finally:
        with _db(root) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS) - 1
            columns = [r[1] for r in conn.execute("PRAGMA table_info(images)")]
            assert "note" not in columns  # the half-done step was rolled back


def test_a_project_from_a_newer_segstudio_is_refused_untouched(project):
    root = project.root
    project.close()
    with _db(root) as conn:
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 5}")
    before = (root / schema.DB_NAME).read_bytes()
    for readonly in (False, True):
        with pytest.raises(ProjectError, match="newer SegStudio"):
            Project.open(root, readonly=readonly)
    assert (root / schema.DB_NAME).read_bytes() == before
    with _db(root) as conn:
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")
    Project.open(root).close()  # the refusal released the lock


# ------------------------------------------------------------------ one writer at a time

HOLDER = textwrap.dedent("""
    import sys
    from segstudio.core.project import Project, Status
    project = Project.open(sys.argv[1])
    print("open", flush=True)
    sys.stdin.readline()
    image_id = project.images()[0].id
    project.set_status(image_id, Status.SKIPPED)  # still writing fine after the refused opens
    project.close()
    print("closed", flush=True)
""")


def test_a_second_open_in_this_process_is_refused(project):
    with pytest.raises(ProjectLockedError, match="in this program"):
        Project.open(project.root)
    project.set_status(project.images()[0].id, Status.DONE)  # the first one is unharmed


def test_another_process_holding_the_project_locks_out_writers_but_not_readers(project):
    root = project.root
    image_id = project.images()[0].id
    project.close()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(ProjectLockedError, match=f"process {holder.pid}"):
            Project.open(root)
        with Project.open(root, readonly=True) as reader:
            assert reader.readonly
            assert reader.image(image_id).status == Status.NEW
            with pytest.raises(ProjectError, match="read-only"):
                reader.set_status(image_id, Status.DONE)
            with pytest.raises(SaveError, match="read-only"):
                reader.write_masks(image_id, reader.read_label(image_id), reader.read_source(image_id))
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "closed"
    finally:
        holder.kill()
        holder.wait()
    with Project.open(root) as project:
        assert project.image(image_id).status == Status.SKIPPED
    with _db(root) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_killed_holder_leaves_no_stale_lock(project):
    root = project.root
    project.close()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "open"
    holder.kill()
    holder.wait()
    Project.open(root).close()


# ------------------------------------------------------------------ classes


def test_add_rename_recolour_and_reorder_classes(project):
    added = project.add_class("membrane")
    assert (added.id, added.name) == (3, "membrane")
    assert len({c.color for c in project.classes()}) == 4  # a fresh colour
    with pytest.raises(ProjectError, match="already a class"):
        project.add_class("cell")
    project.rename_class(1, "cytoplasm")
    with pytest.raises(ProjectError, match="already a class"):
        project.rename_class(1, "nucleus")
    with pytest.raises(ProjectError, match="no class with id 9"):
        project.rename_class(9, "x")
    project.recolor_class(2, (10, 20, 30))
    with pytest.raises(ValueError, match="outside 0..255"):
        project.recolor_class(2, (300, 0, 0))
    project.reorder_classes([3, 0, 2, 1])
    assert [c.name for c in project.classes()] == ["membrane", "background", "nucleus", "cytoplasm"]
    assert project.class_names() == ["background", "cytoplasm", "nucleus", "membrane"]  # ids unchanged
    assert project.classes()[2].color == (10, 20, 30)
    with pytest.raises(ProjectError, match="every class id"):
        project.reorder_classes([0, 1])


def test_removing_a_class_renumbers_the_masks(project):
    image_id = project.images()[0].id
    label = np.array([[0, 1, 2, IGNORE]] * 6 + [[2, 2, 1, 0]] * 0, np.uint8).repeat(2, axis=1)
    source = np.full(label.shape, Source.HUMAN, np.uint8)
    source[:, -2:] = Source.NONE
    project.write_masks(image_id, label, source)
    project.remove_class(1)
    assert project.class_names() == ["background", "nucleus"]
    new_label = project.read_label(image_id)
    np.testing.assert_array_equal(new_label[0], [0, 0, IGNORE, IGNORE, 1, 1, IGNORE, IGNORE])
    np.testing.assert_array_equal(project.read_source(image_id)[0], [3, 3, 0, 0, 3, 3, 0, 0])


def test_past_254_classes_the_label_maps_become_16_bit(tmp_path):
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(tmp_path / "a.png")
    with Project.create(tmp_path / "many", [f"class {i}" for i in range(254)]) as project:
        (record,) = project.add_images([tmp_path / "a.png"]).added
        label = np.full((6, 8), IGNORE, np.uint8)
        label[0, 0] = 253
        project.write_masks(record.id, label, np.where(label == IGNORE, 0, 3).astype(np.uint8))
        project.add_class("one more")
        assert project.num_classes == 255 and project.label_dtype == np.uint16
        wide = project.read_label(record.id)
        assert wide.dtype == np.uint16 and wide[0, 0] == 253 and wide[0, 1] == IGNORE_16
        label16 = wide.copy()
        label16[1, 1] = 254
        project.write_masks(record.id, label16, project.read_source(record.id))
        np.testing.assert_array_equal(project.read_label(record.id), label16)


# ------------------------------------------------------------------ damage and moves


@pytest.mark.parametrize("readonly", [False, True], ids=["writable", "readonly"])
def test_a_damaged_database_is_reported_as_a_project_error(project, readonly):
    root = project.root
    project.close()
    (root / schema.DB_NAME).write_bytes(b"this is not SQLite" * 100)
    for _ in range(2):  # a refusal leaves no lock behind to refuse the next try with
        with pytest.raises(ProjectError, match="segstudio.sqlite") as refused:
            Project.open(root, readonly=readonly)
        assert not isinstance(refused.value, ProjectLockedError)


def test_a_project_with_copied_images_can_be_moved(tmp_path):
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(tmp_path / "a.png")
    with Project.create(tmp_path / "here", ["background", "cell"]) as project:
        (record,) = project.add_images([tmp_path / "a.png"], copy=True).added
        project.write_masks(record.id, np.ones((6, 8), np.uint8), np.full((6, 8), 3, np.uint8))
    (tmp_path / "here").rename(tmp_path / "there")
    with Project.open(tmp_path / "there") as moved:
        record = moved.image(record.id)
        assert record.path == tmp_path / "there" / "images" / "a.png" and record.path.is_file()
        assert (moved.read_label(record.id) == 1).all()


def test_the_store_can_be_used_from_several_threads_at_once(project):
    image_id = project.images()[0].id

    def work(i: int) -> None:
        for j in range(10):
            project.set_status(image_id, [Status.NEW, Status.DONE][(i + j) % 2])
            project.log_event("thread", image_id, i=i, j=j)
            project.images(status=Status.DONE)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    assert sum(1 for e in project.history(limit=100) if e["kind"] == "thread") == 40
    with _db(project.root) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_masks_written_from_several_threads_at_once_never_collide(project):
    """The autosave thread folds while a worker refreshes proposals: both write masks."""
    image_id = project.images()[0].id
    written = [np.full((6, 8), i % 3, np.uint8) for i in range(4)]

    def work(i: int) -> None:
        for _ in range(15):
            project.write_masks(image_id, written[i], np.full((6, 8), 3, np.uint8))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    final = project.read_label(image_id)
    assert any(np.array_equal(final, w) for w in written)


def test_history_survives_the_removal_of_its_image(project):
    image_id = project.images()[0].id
    project.log_event("painted", image_id, strokes=3)
    project.remove_image(image_id)
    event = next(e for e in project.history() if e["kind"] == "painted")
    assert event["image_id"] is None and event["strokes"] == 3


def test_temp_files_left_by_a_killed_write_are_removed_on_the_next_open(project):
    root = project.root
    project.close()
    stale = root / "labels" / ".1.png.abc123.segstudio-tmp"
    stale.write_bytes(b"half a png")
    with Project.open(root, readonly=True):
        assert stale.exists()  # a reader never deletes what a writer may be writing
    with Project.open(root):
        assert not stale.exists()


def test_saved_masks_are_readable_by_others_like_any_new_file(project, tmp_path):
    """mkstemp alone makes 0600 files: exported datasets would be private to their owner."""
    import os

    from segstudio.core.atomic import atomic_write_text

    image_id = project.images()[0].id
    label, source = project.read_label(image_id), project.read_source(image_id)
    project.write_masks(image_id, label, source)
    umask = os.umask(0o022)
    os.umask(umask)
    expected = 0o666 & ~umask
    assert (project.labels_dir / f"{image_id}.png").stat().st_mode & 0o777 == expected
    target = tmp_path / "card.md"
    atomic_write_text(target, "x")
    assert target.stat().st_mode & 0o777 == expected
    target.chmod(0o600)
    atomic_write_text(target, "y")  # an existing file keeps its permissions
    assert target.stat().st_mode & 0o777 == 0o600
