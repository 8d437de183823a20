"""The project: a folder with segstudio.sqlite, labels/, sources/, models/ and journal/.

One `Project` object per open project. It is thread-safe (one SQLite connection behind an
RLock) because the GUI thread and the training/prediction workers use it at the same time.
Only one process may hold a project for writing (ProjectLock); others may open it read-only.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from segstudio.core.atomic import atomic_write_png
from segstudio.core.errors import ProjectError
from segstudio.core.labels import MAX_UINT8_CLASSES, convert_labels, unlabelled_value
from segstudio.core.project import class_removal, guard, naming, schema
from segstudio.core.project.catalog import CatalogMixin
from segstudio.core.project.histograms import HistogramsMixin
from segstudio.core.project.images import ImagesMixin
from segstudio.core.project.label_checks import LabelChecksMixin
from segstudio.core.project.listing import ListingMixin
from segstudio.core.project.lock import LOCK_NAME, ProjectLock
from segstudio.core.project.records import (
    RGB, LabelClass, Source, color_to_hex, default_color, hex_to_color, now,
)


class Project(ImagesMixin, ListingMixin, HistogramsMixin, CatalogMixin, LabelChecksMixin):
    def __init__(self, root: Path, conn: sqlite3.Connection, lock: ProjectLock | None, readonly: bool):
        self.root = root
        self.readonly = readonly
        self._conn = conn
        self._lock = lock
        self._mutex = threading.RLock()  # the database connection
        self._masks_mutex = threading.RLock()  # mask files: one writer at a time (autosave vs workers)
        self.resumed = ""  # what opening did about an interrupted operation, for the person

    # ----------------------------------------------------------------- lifecycle
    @classmethod
    def create(cls, root: str | Path, classes: Iterable[str] = ("background", "foreground"), *,
               colors: Iterable[RGB] | None = None) -> Project:
        root = naming.check_new_location(root)
        names = naming.check_class_names(classes)
        try:
            for sub in ("", "labels", "sources", "models", "journal", "uncertainty"):
                (root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"cannot create a project in {root}: {exc.strerror or exc}") from exc
        project = cls.open(root, _creating=True)
        color_list = list(colors) if colors is not None else []
        with project._tx() as conn:
            for i, name in enumerate(names):
                color = color_list[i] if i < len(color_list) else default_color(i)
                conn.execute("INSERT INTO classes (id, name, color, sort_order) VALUES (?, ?, ?, ?)",
                             (i, name, color_to_hex(color), i))
            conn.execute("INSERT INTO meta (key, value) VALUES ('created_at', ?)", (now(),))
        project.log_event("project_created", classes=names)
        return project

    @classmethod
    def open(cls, root: str | Path, *, readonly: bool = False, _creating: bool = False) -> Project:
        """Open a project; refuses (ProjectError) damaged, foreign, newer or linked-out parts
        before writing anything (guard), and finishes or undoes an interrupted class removal."""
        root = Path(root).expanduser().absolute()
        db_path = root / schema.DB_NAME
        if not _creating and not db_path.exists() and not db_path.is_symlink():
            raise ProjectError(f"{root} is not a SegStudio project (no {schema.DB_NAME} in it)")
        guard.check_layout(root, LOCK_NAME)
        if not _creating:
            guard.probe_database(db_path)
        lock = None
        if not readonly:
            if not _creating:
                guard.refuse_unwritable(root)
            lock = ProjectLock(root)
            lock.acquire()
        try:
            if readonly:
                conn = guard.connect_read_only(db_path, immutable=guard.on_read_only_storage(root))
            else:
                conn = schema.connect(db_path, readonly=False)
            try:
                if readonly:
                    schema.check_version(conn, db_path)
                else:
                    schema.migrate(conn, db_path)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        project = cls(root, conn, lock, readonly)
        if not readonly:
            _remove_stale_temp_files(root)
            try:
                project.resumed = class_removal.resume(project)
            except BaseException:
                project.close()
                raise
        return project

    @staticmethod
    def is_project(root: str | Path) -> bool:
        return (Path(root) / schema.DB_NAME).is_file()

    def close(self) -> None:
        with self._mutex:
            if self._conn is None:
                return
            self._conn.close()
            self._conn = None
            if self._lock is not None:
                self._lock.release()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project({str(self.root)!r})"

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE ... COMMIT), serialised across threads."""
        if self.readonly:
            raise ProjectError(f"{self.root} is open read-only")
        with self._mutex:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._mutex:
            return self._connection().execute(sql, params).fetchall()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ProjectError(f"the project {self.root} is closed")
        return self._conn

    # ------------------------------------------------------------------- folders
    @property
    def labels_dir(self) -> Path:
        return self.root / "labels"

    @property
    def sources_dir(self) -> Path:
        return self.root / "sources"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def journal_dir(self) -> Path:
        return self.root / "journal"

    # ------------------------------------------------------------------- classes
    def classes(self) -> list[LabelClass]:
        rows = self._query("SELECT * FROM classes ORDER BY sort_order, id")
        return [LabelClass(r["id"], r["name"], hex_to_color(r["color"]), r["sort_order"]) for r in rows]

    def class_names(self) -> list[str]:
        return [r["name"] for r in self._query("SELECT name FROM classes ORDER BY id")]

    @property
    def num_classes(self) -> int:
        return self._query("SELECT COUNT(*) FROM classes")[0][0]

    @property
    def label_dtype(self) -> np.dtype:
        return np.dtype(np.uint8 if self.num_classes <= MAX_UINT8_CLASSES else np.uint16)

    @property
    def ignore_value(self) -> int:
        return unlabelled_value(self.label_dtype)

    def add_class(self, name: str, color: RGB | None = None) -> LabelClass:
        name = name.strip()
        if not name:
            raise ProjectError("a class needs a name")
        if self.num_classes == MAX_UINT8_CLASSES:
            self._widen_masks()
        with self._tx() as conn:
            self._refuse_taken_name(conn, name)
            new_id = conn.execute("SELECT COALESCE(MAX(id) + 1, 0) FROM classes").fetchone()[0]
            order = conn.execute("SELECT COALESCE(MAX(sort_order) + 1, 0) FROM classes").fetchone()[0]
            used = {r[0] for r in conn.execute("SELECT color FROM classes")}
            color = color or next(c for c in map(default_color, range(new_id, new_id + 1000))
                                  if color_to_hex(c) not in used)
            conn.execute("INSERT INTO classes (id, name, color, sort_order) VALUES (?, ?, ?, ?)",
                         (new_id, name, color_to_hex(color), order))
        self.log_event("class_added", name=name)
        return LabelClass(new_id, name, tuple(color), order)

    def rename_class(self, class_id: int, name: str) -> None:
        name = name.strip()
        if not name:
            raise ProjectError("a class needs a name")
        with self._tx() as conn:
            self._refuse_taken_name(conn, name, but=class_id)
            self._require_class(conn, class_id)
            conn.execute("UPDATE classes SET name = ? WHERE id = ?", (name, class_id))

    def recolor_class(self, class_id: int, color: RGB) -> None:
        with self._tx() as conn:
            self._require_class(conn, class_id)
            conn.execute("UPDATE classes SET color = ? WHERE id = ?", (color_to_hex(color), class_id))

    def reorder_classes(self, ids: list[int]) -> None:
        with self._tx() as conn:
            existing = {r[0] for r in conn.execute("SELECT id FROM classes")}
            if sorted(ids) != sorted(existing):
                raise ProjectError(f"reorder needs every class id exactly once: {sorted(existing)}")
            for order, class_id in enumerate(ids):
                conn.execute("UPDATE classes SET sort_order = ? WHERE id = ?", (order, class_id))

    def remove_class(self, class_id: int) -> None:
        """Remove a class: its pixels become unlabelled and higher ids move down by one, in
        every mask and the class list together, or not at all (class_removal)."""
        if self.readonly:
            raise ProjectError(f"{self.root} is open read-only")
        with self._masks_mutex:
            class_removal.remove_class(self, class_id)

    @staticmethod
    def _refuse_taken_name(conn: sqlite3.Connection, name: str, but: int | None = None) -> None:
        """Class names are unique ignoring case (core/project/naming.py)."""
        others = [r[0] for r in conn.execute("SELECT name FROM classes WHERE id IS NOT ?", (but,))]
        if (existing := naming.taken_class_name(name, others)) is not None:
            raise ProjectError(naming.duplicate_message(name, existing))

    @staticmethod
    def _require_class(conn: sqlite3.Connection, class_id: int) -> None:
        if not conn.execute("SELECT 1 FROM classes WHERE id = ?", (class_id,)).fetchone():
            raise ProjectError(f"there is no class with id {class_id}")

    def _widen_masks(self) -> None:
        """Going past 254 classes: every label map becomes uint16 (255 -> 65535 for unlabelled)."""
        for record in self.images():
            if self.has_masks(record.id):
                label = convert_labels(self.read_label(record.id), np.dtype(np.uint16))
                atomic_write_png(self._label_path(record.id), label, project_file=True)


def _remove_stale_temp_files(root: Path) -> None:
    """Temp files of writes a crash interrupted; safe to drop while we hold the project lock."""
    for folder in ("labels", "sources", "uncertainty"):
        for tmp in (root / folder).glob(".*.segstudio-tmp"):
            tmp.unlink(missing_ok=True)
