"""The SQLite schema of segstudio.sqlite, its version and its migrations.

`PRAGMA user_version` holds the schema version. Each entry of MIGRATIONS takes a database
from version i to i + 1; a database newer than this code is refused, never written to.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from segstudio.core.errors import ProjectError

DB_NAME = "segstudio.sqlite"

_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE classes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    color TEXT NOT NULL,
    sort_order INTEGER NOT NULL
);
CREATE TABLE images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    width INTEGER NOT NULL CHECK (width > 0),
    height INTEGER NOT NULL CHECK (height > 0),
    checksum TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'in_progress', 'done', 'skipped')),
    split TEXT NOT NULL DEFAULT 'unassigned'
        CHECK (split IN ('train', 'val', 'test', 'unassigned')),
    uncertainty REAL,
    added_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX images_status ON images (status);
CREATE INDEX images_split ON images (split);
CREATE TABLE history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    image_id INTEGER REFERENCES images (id) ON DELETE SET NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE models (
    version TEXT PRIMARY KEY,
    arch TEXT NOT NULL,
    created_at TEXT NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    is_best INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    result TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Versions you can trust (issue 11): every model keeps its kind, whether it is pinned and its
# place in the line of models that each beat the one before (best_rank, NULL: never the best);
# each image records which model made its proposal and what a label check found. Versions the
# old trainer kept were each the best when kept, so they get ranks in version order.
_V2 = """
ALTER TABLE models ADD COLUMN kind TEXT NOT NULL DEFAULT 'network';
ALTER TABLE models ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE models ADD COLUMN best_rank INTEGER;
UPDATE models SET best_rank = (SELECT COUNT(*) FROM models AS earlier
    WHERE earlier.version <= models.version AND earlier.metrics LIKE '%"val_miou"%')
    WHERE metrics LIKE '%"val_miou"%';
ALTER TABLE images ADD COLUMN proposed_by TEXT;
ALTER TABLE images ADD COLUMN label_flag TEXT;
ALTER TABLE images ADD COLUMN label_checked TEXT;
ALTER TABLE images ADD COLUMN label_confirmed TEXT
"""

# Projects of 100,000 images (issue 15). Indexes that answer the image list's orders and the
# review navigation with LIMIT 1 (each ORDER BY in core/project/listing.py matches one index
# exactly), and per-image class histograms written with the masks, so that `info` and the
# remove-class question read the database instead of decoding every label map. class_id -1
# counts unlabelled pixels. images.counted says the histogram is known (1) or still to be
# computed from the files (0: images of an older project, backfilled when first asked).
# status_counts is kept by triggers: the "done / total" counter reads four rows, not 100,000.
_V3 = """
CREATE INDEX images_name ON images (name COLLATE NOCASE, id);
CREATE INDEX images_status_name ON images (status, name COLLATE NOCASE, id);
CREATE INDEX images_status_unsure ON images (status, uncertainty DESC, name, id);
CREATE INDEX images_unsure ON images (uncertainty IS NULL, uncertainty DESC, name COLLATE NOCASE, id);
CREATE INDEX images_by_status ON images (
    (CASE status WHEN 'new' THEN 0 WHEN 'in_progress' THEN 1 WHEN 'done' THEN 2 ELSE 3 END), name COLLATE NOCASE, id);
CREATE TABLE class_pixels (
    image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    class_id INTEGER NOT NULL,
    pixels INTEGER NOT NULL,
    PRIMARY KEY (image_id, class_id)
) WITHOUT ROWID;
CREATE INDEX class_pixels_class ON class_pixels (class_id, image_id);
ALTER TABLE images ADD COLUMN counted INTEGER NOT NULL DEFAULT 0;
CREATE TABLE status_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL);
INSERT INTO status_counts (status, n) SELECT column1, 0 FROM (VALUES ('new'), ('in_progress'), ('done'), ('skipped'));
UPDATE status_counts SET n = (SELECT COUNT(*) FROM images WHERE images.status = status_counts.status);
CREATE TRIGGER images_counted_in AFTER INSERT ON images BEGIN
    UPDATE status_counts SET n = n + 1 WHERE status = NEW.status;
END;
CREATE TRIGGER images_counted_out AFTER DELETE ON images BEGIN
    UPDATE status_counts SET n = n - 1 WHERE status = OLD.status;
END;
CREATE TRIGGER images_counted_moved AFTER UPDATE OF status ON images WHEN OLD.status != NEW.status BEGIN
    UPDATE status_counts SET n = n - 1 WHERE status = OLD.status;
    UPDATE status_counts SET n = n + 1 WHERE status = NEW.status;
END
"""

# Training's change detection (issues 11 and 15): a counter that moves whenever an image's
# annotations change (its masks are written, its status, split or label flag changes, it is
# removed; not while it is still new, when only proposals are written to it), and per image the
# counter value of its last change. The trainer reads one row between two steps and, when it
# moved, the ids changed since (an index): no scan of every image. Class removal rewrites masks
# everywhere, so it marks every image that may hold reviewed pixels. Statements end with ";;"
# in this script (trigger bodies hold ";").
_V4_CHANGES = """
ALTER TABLE images ADD COLUMN masks_written INTEGER NOT NULL DEFAULT 0;;
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);;
INSERT INTO counters (name, value) VALUES ('annotations', 0);;
CREATE TABLE annotation_changes (image_id INTEGER PRIMARY KEY, change INTEGER NOT NULL);;
CREATE INDEX annotation_changes_change ON annotation_changes (change);;
CREATE TRIGGER annotations_changed AFTER UPDATE OF status, split, label_flag, masks_written ON images
    WHEN (OLD.status != 'new' OR NEW.status != 'new')
     AND (OLD.status IS NOT NEW.status OR OLD.split IS NOT NEW.split
          OR OLD.label_flag IS NOT NEW.label_flag OR OLD.masks_written IS NOT NEW.masks_written)
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'annotations';
    INSERT OR REPLACE INTO annotation_changes (image_id, change)
        VALUES (NEW.id, (SELECT value FROM counters WHERE name = 'annotations'));
END;;
CREATE TRIGGER annotations_removed AFTER DELETE ON images WHEN OLD.status != 'new'
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'annotations';
    INSERT OR REPLACE INTO annotation_changes (image_id, change)
        VALUES (OLD.id, (SELECT value FROM counters WHERE name = 'annotations'));
END;;
CREATE TRIGGER annotations_class_removed AFTER DELETE ON classes
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'annotations';
    INSERT OR REPLACE INTO annotation_changes (image_id, change)
        SELECT id, (SELECT value FROM counters WHERE name = 'annotations') FROM images WHERE status != 'new';
END
"""


MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4_CHANGES)
SCHEMA_VERSION = len(MIGRATIONS)


def connect(db_path: Path, *, readonly: bool) -> sqlite3.Connection:
    """Open the database with the settings every connection needs (WAL, foreign keys)."""
    try:
        if readonly:
            conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        else:
            conn = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 5000")
        if not readonly:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise ProjectError(f"{db_path}: the database cannot use WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable across app crashes; fsync at checkpoints
        return conn
    except sqlite3.DatabaseError as exc:
        raise ProjectError(f"{db_path} is not a readable SegStudio database: {exc}") from exc


def check_version(conn: sqlite3.Connection, db_path: Path) -> int:
    """The schema version of a readable database this code understands; ProjectError otherwise."""
    try:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise ProjectError(f"{db_path} is damaged or not a SegStudio database: {exc}") from exc
    if found > SCHEMA_VERSION:
        raise ProjectError(
            f"{db_path} was written by a newer SegStudio (schema {found}, this version reads up to "
            f"{SCHEMA_VERSION}); update SegStudio to open it. Nothing was changed."
        )
    return found


def migrate(conn: sqlite3.Connection, db_path: Path) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version found before."""
    found = check_version(conn, db_path)
    for version in range(found, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            conn.execute("ROLLBACK")
            raise ProjectError(
                f"{db_path}: could not upgrade the project from schema {version} to {version + 1}: "
                f"{exc}. Nothing was changed."
            ) from exc
    return found


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (executescript would commit on its own); a
    trigger's body keeps its semicolons (sqlite3.complete_statement says where one ends)."""
    statements, pending = [], ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip().removesuffix(";"))
            pending = ""
    if pending.strip(" \n;"):
        statements.append(pending.strip().removesuffix(";"))
    return statements
