"""The project: a folder with segstudio.sqlite, labels/, sources/, models/ and journal/.

One `Project` object per open project. It is thread-safe (one SQLite connection behind an
RLock) because the GUI thread and the training/prediction workers use it at the same time.
Only one process may hold a project for writing (ProjectLock); others may open it read-only.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import threading
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from segstudio.core.atomic import atomic_write_png
from segstudio.core.errors import ImageReadError, ProjectError, SaveError
from segstudio.core.progress import Progress, StopFlag, drive
from segstudio.core.project import masks, schema
from segstudio.core.project.lock import LOCK_NAME, ProjectLock
from segstudio.core.project.records import (
    IGNORE, IGNORE_16, MAX_UINT8_CLASSES, RGB, AddReport, ImageRecord, LabelClass, ModelRecord,
    Source, Split, Status, color_to_hex, default_color, hex_to_color,
)

ORDERS = {
    "name": "name COLLATE NOCASE, id",
    "status": "CASE status WHEN 'new' THEN 0 WHEN 'in_progress' THEN 1 WHEN 'done' THEN 2 ELSE 3 END, name COLLATE NOCASE",
    "uncertainty": "uncertainty IS NULL, uncertainty DESC, name COLLATE NOCASE",
    "added": "id",
}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Project:
    def __init__(self, root: Path, conn: sqlite3.Connection, lock: ProjectLock | None, readonly: bool):
        self.root = root
        self.readonly = readonly
        self._conn = conn
        self._lock = lock
        self._mutex = threading.RLock()

    # ----------------------------------------------------------------- lifecycle
    @classmethod
    def create(cls, root: str | Path, classes: Iterable[str] = ("background", "foreground"), *,
               colors: Iterable[RGB] | None = None) -> Project:
        root = Path(root).expanduser().absolute()
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise ProjectError(f"cannot create a project in {root}: the folder exists and is not empty")
        names = [name.strip() for name in classes]
        if not names or any(not name for name in names) or len(set(names)) != len(names):
            raise ProjectError(f"class names must be unique and non-empty, got {names}")
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
            conn.execute("INSERT INTO meta (key, value) VALUES ('created_at', ?)", (_now(),))
        project.log_event("project_created", classes=names)
        return project

    @classmethod
    def open(cls, root: str | Path, *, readonly: bool = False, _creating: bool = False) -> Project:
        root = Path(root).expanduser().absolute()
        db_path = root / schema.DB_NAME
        if not _creating and not db_path.is_file():
            raise ProjectError(f"{root} is not a SegStudio project (no {schema.DB_NAME} in it)")
        lock = None
        if not readonly:
            lock = ProjectLock(root)
            lock.acquire()
        try:
            conn = schema.connect(db_path, readonly=readonly)
            if not readonly:
                schema.migrate(conn, db_path)
            elif conn.execute("PRAGMA user_version").fetchone()[0] > schema.SCHEMA_VERSION:
                raise ProjectError(f"{db_path} was written by a newer SegStudio; update to open it")
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return cls(root, conn, lock, readonly)

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
        return IGNORE if self.label_dtype == np.uint8 else IGNORE_16

    def add_class(self, name: str, color: RGB | None = None) -> LabelClass:
        name = name.strip()
        if not name:
            raise ProjectError("a class needs a name")
        if self.num_classes == MAX_UINT8_CLASSES:
            self._widen_masks()
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM classes WHERE name = ?", (name,)).fetchone():
                raise ProjectError(f"there is already a class named {name!r}")
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
            if conn.execute("SELECT 1 FROM classes WHERE name = ? AND id != ?", (name, class_id)).fetchone():
                raise ProjectError(f"there is already a class named {name!r}")
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
        """Remove a class: its pixels become unlabelled and higher ids move down by one."""
        with self._tx() as conn:
            self._require_class(conn, class_id)
        ignore = self.ignore_value
        for record in self.images():
            if not self.has_masks(record.id):
                continue
            label, source = self.read_label(record.id), self.read_source(record.id)
            gone = label == class_id
            shift = (label > class_id) & (label != ignore)
            if gone.any() or shift.any():
                label = label.copy()
                label[shift] -= 1
                label[gone] = ignore
                source = np.where(gone, np.uint8(Source.NONE), source).astype(np.uint8)
                self._write_masks_unchecked(record, label, source)
        with self._tx() as conn:
            conn.execute("DELETE FROM classes WHERE id = ?", (class_id,))
            conn.execute("UPDATE classes SET id = id - 1 WHERE id > ?", (class_id,))
        self.log_event("class_removed", class_id=class_id)

    @staticmethod
    def _require_class(conn: sqlite3.Connection, class_id: int) -> None:
        if not conn.execute("SELECT 1 FROM classes WHERE id = ?", (class_id,)).fetchone():
            raise ProjectError(f"there is no class with id {class_id}")

    def _widen_masks(self) -> None:
        """Going past 254 classes: every label map becomes uint16 (255 -> 65535 for unlabelled)."""
        for record in self.images():
            if self.has_masks(record.id):
                label = self.read_label(record.id).astype(np.uint16)
                label[label == IGNORE] = IGNORE_16
                atomic_write_png(self._label_path(record.id), label)

    # -------------------------------------------------------------------- images
    def add_images(self, paths: Iterable[str | Path], *, recursive: bool = True, copy: bool = False) -> AddReport:
        return drive(self.iter_add_images(paths, recursive=recursive, copy=copy))

    def iter_add_images(self, paths: Iterable[str | Path], *, recursive: bool = True, copy: bool = False,
                        stop: StopFlag | None = None) -> Generator[Progress, None, AddReport]:
        """Add image files and folders; duplicates (same bytes) are skipped, failures reported."""
        from segstudio.core.imageio import probe_image

        report = AddReport()
        files = _collect_files(paths, recursive, report)
        for done, path in enumerate(files):
            if stop is not None and stop.is_set():
                break
            yield Progress(done, len(files), path.name)
            try:
                checksum = _sha256(path)
                if self._query("SELECT 1 FROM images WHERE checksum = ?", (checksum,)):
                    report.duplicates.append(path)
                    continue
                info = probe_image(path)
                stored = self._copy_in(path) if copy else path
                report.added.append(self._insert_image(stored, info.width, info.height, checksum))
            except ImageReadError as exc:
                report.failed.append((path, exc.reason))
            except OSError as exc:
                report.failed.append((path, exc.strerror or str(exc)))
        yield Progress(len(files), len(files), report.summary())
        if report.added:
            self.log_event("images_added", count=len(report.added))
        return report

    def _copy_in(self, path: Path) -> Path:
        target_dir = self.root / "images"
        target_dir.mkdir(exist_ok=True)
        target = target_dir / path.name
        counter = 1
        while target.exists():
            target = target_dir / f"{path.stem}_{counter}{path.suffix}"
            counter += 1
        shutil.copy2(path, target)
        return target

    def _insert_image(self, path: Path, width: int, height: int, checksum: str) -> ImageRecord:
        path = path.absolute()
        try:
            stored = path.relative_to(self.root).as_posix()
        except ValueError:
            stored = str(path)
        now = _now()
        with self._tx() as conn:
            cursor = conn.execute(
                "INSERT INTO images (path, name, width, height, checksum, added_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (stored, path.name, width, height, checksum, now, now))
            image_id = cursor.lastrowid
        return self.image(image_id)

    def images(self, *, status: Status | str | Iterable[Status | str] | None = None,
               split: Split | str | Iterable[Split | str] | None = None, search: str | None = None,
               order: str = "name") -> list[ImageRecord]:
        if order not in ORDERS:
            raise ProjectError(f"unknown order {order!r}; use one of {sorted(ORDERS)}")
        where, params = [], []
        for column, value, kind in (("status", status, Status), ("split", split, Split)):
            if value is None:
                continue
            values = [value] if isinstance(value, str) else list(value)
            values = [kind(v).value for v in values]
            where.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
        if search:
            where.append("name LIKE ? ESCAPE '\\'")
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.append(f"%{escaped}%")
        sql = "SELECT * FROM images" + (" WHERE " + " AND ".join(where) if where else "")
        return [self._record(r) for r in self._query(f"{sql} ORDER BY {ORDERS[order]}", tuple(params))]

    def image(self, image_id: int) -> ImageRecord:
        rows = self._query("SELECT * FROM images WHERE id = ?", (image_id,))
        if not rows:
            raise ProjectError(f"there is no image with id {image_id} in {self.root}")
        return self._record(rows[0])

    def _record(self, row: sqlite3.Row) -> ImageRecord:
        path = Path(row["path"])
        return ImageRecord(
            id=row["id"], path=path if path.is_absolute() else self.root / path, rel_path=row["path"],
            name=row["name"], width=row["width"], height=row["height"], checksum=row["checksum"],
            status=Status(row["status"]), split=Split(row["split"]), uncertainty=row["uncertainty"],
            added_at=row["added_at"], updated_at=row["updated_at"])

    def remove_image(self, image_id: int) -> None:
        """Forget an image and its masks; the image file itself stays where it is."""
        self.image(image_id)
        with self._tx() as conn:
            conn.execute("DELETE FROM images WHERE id = ?", (image_id,))
        for folder, suffix in ((self.labels_dir, ".png"), (self.sources_dir, ".png"),
                               (self.root / "uncertainty", ".png"), (self.journal_dir, ".journal")):
            (folder / f"{image_id}{suffix}").unlink(missing_ok=True)
        self.log_event("image_removed", image_id=None, removed_id=image_id)

    def set_status(self, image_id: int, status: Status | str) -> None:
        self._update_image(image_id, "status", Status(status).value)

    def set_split(self, image_id: int, split: Split | str) -> None:
        self._update_image(image_id, "split", Split(split).value)

    def set_uncertainty(self, image_id: int, value: float | None) -> None:
        self._update_image(image_id, "uncertainty", None if value is None else float(value))

    def _update_image(self, image_id: int, column: str, value: Any) -> None:
        with self._tx() as conn:
            cursor = conn.execute(f"UPDATE images SET {column} = ?, updated_at = ? WHERE id = ?",
                                  (value, _now(), image_id))
            if cursor.rowcount == 0:
                raise ProjectError(f"there is no image with id {image_id} in {self.root}")

    # --------------------------------------------------------------------- masks
    def _label_path(self, image_id: int) -> Path:
        return self.labels_dir / f"{image_id}.png"

    def _source_path(self, image_id: int) -> Path:
        return self.sources_dir / f"{image_id}.png"

    def has_masks(self, image_id: int) -> bool:
        return self._label_path(image_id).is_file()

    def read_label(self, image_id: int) -> np.ndarray:
        """Class index per pixel; unlabelled (ignore_value) everywhere when nothing is stored."""
        record = self.image(image_id)
        shape = (record.height, record.width)
        path = self._label_path(image_id)
        if not path.is_file():
            return np.full(shape, self.ignore_value, dtype=self.label_dtype)
        return masks.read_png(path, shape, self.label_dtype)

    def read_source(self, image_id: int) -> np.ndarray:
        record = self.image(image_id)
        shape = (record.height, record.width)
        path = self._source_path(image_id)
        if not path.is_file():
            return np.zeros(shape, dtype=np.uint8)
        return masks.read_png(path, shape, np.dtype(np.uint8))

    def write_masks(self, image_id: int, label: np.ndarray, source: np.ndarray) -> None:
        """Store both maps atomically; a person's first own pixels move the image to in progress."""
        if self.readonly:
            raise SaveError(f"{self.root} is open read-only")
        record = self.image(image_id)
        masks.check_masks(label, source, (record.height, record.width), self.label_dtype,
                          self.num_classes, self.ignore_value)
        self._write_masks_unchecked(record, label, source)
        if record.status == Status.NEW and (source >= Source.ACCEPTED).any():
            self.set_status(image_id, Status.IN_PROGRESS)

    def _write_masks_unchecked(self, record: ImageRecord, label: np.ndarray, source: np.ndarray) -> None:
        masks.write_pair(self._label_path(record.id), label, self._source_path(record.id), source)
        self._update_image(record.id, "updated_at", _now())

    def mark_done(self, image_id: int) -> None:
        """Headless 'done': accept the remaining proposals (1 -> 2) and set the status."""
        if self.has_masks(image_id):
            source = self.read_source(image_id)
            if (source == Source.PROPOSAL).any():
                source = np.where(source == Source.PROPOSAL, np.uint8(Source.ACCEPTED), source).astype(np.uint8)
                self._write_masks_unchecked(self.image(image_id), self.read_label(image_id), source)
        self.set_status(image_id, Status.DONE)

    def read_uncertainty_map(self, image_id: int) -> np.ndarray | None:
        path = self.root / "uncertainty" / f"{image_id}.png"
        if not path.is_file():
            return None
        record = self.image(image_id)
        return masks.read_png(path, (record.height, record.width), np.dtype(np.uint8))

    def write_uncertainty_map(self, image_id: int, array: np.ndarray) -> None:
        record = self.image(image_id)
        if array.shape != (record.height, record.width) or array.dtype != np.uint8:
            raise SaveError(f"uncertainty map must be uint8 {record.height}x{record.width}, got {array.dtype} {array.shape}")
        atomic_write_png(self.root / "uncertainty" / f"{image_id}.png", array)

    # -------------------------------------------------------------------- models
    def new_model_version(self) -> str:
        taken = {r[0] for r in self._query("SELECT version FROM models")}
        if self.models_dir.is_dir():
            taken |= {p.name for p in self.models_dir.iterdir()}
        number = 1
        while f"v{number:04d}" in taken:
            number += 1
        return f"v{number:04d}"

    def register_model(self, version: str, arch: str, metrics: dict | None = None, *, best: bool = False) -> ModelRecord:
        with self._tx() as conn:
            if best:
                conn.execute("UPDATE models SET is_best = 0")
            conn.execute("INSERT OR REPLACE INTO models (version, arch, created_at, metrics, is_best) VALUES (?, ?, ?, ?, ?)",
                         (version, arch, _now(), json.dumps(metrics or {}), int(best)))
        self.log_event("model_registered", version=version, best=best)
        return next(m for m in self.models() if m.version == version)

    def models(self) -> list[ModelRecord]:
        return [ModelRecord(r["version"], r["arch"], self.models_dir / r["version"], r["created_at"],
                            json.loads(r["metrics"]), bool(r["is_best"]))
                for r in self._query("SELECT * FROM models ORDER BY version")]

    def best_model(self) -> ModelRecord | None:
        best = [m for m in self.models() if m.is_best]
        return best[-1] if best else None

    # ---------------------------------------------------------- history, settings
    def log_event(self, kind: str, image_id: int | None = None, **data: Any) -> None:
        if self.readonly:
            return
        with self._tx() as conn:
            conn.execute("INSERT INTO history (at, kind, image_id, data) VALUES (?, ?, ?, ?)",
                         (_now(), kind, image_id, json.dumps(data, default=str)))

    def history(self, limit: int = 100) -> list[dict]:
        rows = self._query("SELECT * FROM history ORDER BY id DESC LIMIT ?", (limit,))
        return [{"at": r["at"], "kind": r["kind"], "image_id": r["image_id"], **json.loads(r["data"])} for r in rows]

    def get_setting(self, key: str, default: Any = None) -> Any:
        rows = self._query("SELECT value FROM settings WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def set_setting(self, key: str, value: Any) -> None:
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def stats(self) -> dict:
        """Counts per status and split and pixel totals per class (reads every label map)."""
        status_counts = {s.value: 0 for s in Status}
        split_counts = {s.value: 0 for s in Split}
        for row in self._query("SELECT status, split, COUNT(*) AS n FROM images GROUP BY status, split"):
            status_counts[row["status"]] += row["n"]
            split_counts[row["split"]] += row["n"]
        names = self.class_names()
        totals = np.zeros(len(names) + 1, dtype=np.int64)
        for record in self.images():
            if self.has_masks(record.id):
                label = self.read_label(record.id)
                counts = np.bincount(np.minimum(label.ravel(), len(names)), minlength=len(names) + 1)
                totals += counts[: len(names) + 1]
        return {
            "images": sum(status_counts.values()),
            "status_counts": status_counts,
            "split_counts": split_counts,
            "class_pixels": {name: int(totals[i]) for i, name in enumerate(names)},
            "unlabelled_pixels": int(totals[len(names)]),
        }


def _collect_files(paths: Iterable[str | Path], recursive: bool, report: AddReport) -> list[Path]:
    from segstudio.core.imageio import IMAGE_EXTENSIONS

    files: list[Path] = []
    for item in paths:
        path = Path(item).expanduser()
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.glob("*")
            files.extend(sorted(p for p in pattern if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                                and not p.name.startswith(".")))
        elif path.is_file():
            files.append(path)
        else:
            report.failed.append((path, "no such file or folder"))
    return files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["Project", "LOCK_NAME"]
