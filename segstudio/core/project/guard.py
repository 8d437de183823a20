"""Checks before a project folder is opened: its parts are what they claim to be.

Projects are folders people copy and share, so a folder may arrive with links where the
project keeps its files, an empty or damaged database, or on read-only storage. Each is
refused here with a message that says what is wrong, before anything is written: no empty
project is ever created over existing labels/, no file is written through a link, and a
database from a newer SegStudio is read (read-only) but never touched.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from segstudio.core.atomic import link_kind
from segstudio.core.errors import ProjectError, ProjectReadOnlyError
from segstudio.core.project import schema

FOLDERS = ("labels", "sources", "models", "journal", "uncertainty")  # images/ may be a link: it is
# only written by `add --copy`, whose writes refuse a linked folder one file at a time
SQLITE_MAGIC = b"SQLite format 3\x00"


def check_layout(root: Path, lock_name: str) -> None:
    """ProjectError when a part of the project is a link (or a folder where a file belongs)."""
    parts = [(root / name, "folder") for name in FOLDERS]
    parts += [(root / name, "file") for name in (schema.DB_NAME, f"{schema.DB_NAME}-wal", f"{schema.DB_NAME}-shm",
                                                 lock_name)]
    for path, wanted in parts:
        try:
            kind = link_kind(path)
        except OSError as exc:
            raise ProjectError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if kind not in (None, wanted):
            raise ProjectError(f"{path} is a {kind}, not a {wanted}: a project keeps its own files inside its "
                               f"folder, and SegStudio writes nothing through links. Replace it with a {wanted} "
                               "to open the project.")


def probe_database(db_path: Path) -> int:
    """The schema version of an existing database, read without writing a byte of it.

    Refuses (ProjectError) a damaged or foreign file and one from a newer SegStudio. An
    empty one (0 bytes, or no tables: a creation cut short) is accepted only while the
    project holds no masks or copied images, so an empty project is never created over
    files that belong to another one.
    """
    try:
        size = db_path.stat().st_size
        with open(db_path, "rb") as handle:
            header = handle.read(len(SQLITE_MAGIC))
    except FileNotFoundError as exc:
        raise ProjectError(f"{db_path.parent} is not a SegStudio project (no {schema.DB_NAME} in it)") from exc
    except OSError as exc:
        raise ProjectError(f"cannot read {db_path}: {exc.strerror or exc}") from exc
    if size == 0:
        _refuse_if_files(db_path, "is empty (0 bytes): the project's database was lost or cut short")
        return 0
    if header != SQLITE_MAGIC:
        raise ProjectError(f"{db_path} is damaged or not a SegStudio database (it does not start like an SQLite "
                           f"file). Restore it from a backup; {_kept(db_path.parent)}nothing was changed.")
    try:
        conn = connect_read_only(db_path, immutable=on_read_only_storage(db_path.parent))
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            problems = [r[0] for r in conn.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(problems))
            version = schema.check_version(conn, db_path)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ProjectError(f"{db_path} is damaged: {exc}. Restore it from a backup; "
                           f"{_kept(db_path.parent)}nothing was changed.") from exc
    if version == 0 and not tables:
        _refuse_if_files(db_path, "holds no SegStudio tables (a database whose creation was cut short)")
    elif not {"classes", "images"} <= tables:
        raise ProjectError(f"{db_path} is damaged or not a SegStudio database (its tables are missing). "
                           f"Restore it from a backup; {_kept(db_path.parent)}nothing was changed.")
    return version


def _refuse_if_files(db_path: Path, what: str) -> None:
    kept = _kept(db_path.parent)
    if kept:
        raise ProjectError(f"{db_path} {what}. Restore it from a backup; {kept}nothing was changed "
                           "(a new, empty database would hand those files to other images).")


def _kept(root: Path) -> str:
    """'the N files ... and ' when the project folder holds files a database would own."""
    count = 0
    for name in ("labels", "sources", "images"):
        try:
            count += sum(1 for entry in os.scandir(root / name) if not entry.name.startswith("."))
        except OSError:
            pass
    return f"the {count} files in labels/, sources/ and images/ were left as they are and " if count else ""


def connect_read_only(db_path: Path, *, immutable: bool = False) -> sqlite3.Connection:
    """A connection that cannot write; `immutable` for read-only storage, where SQLite could
    not create the shared-memory file a WAL database needs."""
    query = "mode=ro&immutable=1" if immutable else "mode=ro"
    try:
        conn = sqlite3.connect(f"{db_path.absolute().as_uri()}?{query}", uri=True, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 5000")  # as schema.connect: a writer may be checkpointing
        return conn
    except sqlite3.DatabaseError as exc:
        raise ProjectError(f"{db_path} is not a readable SegStudio database: {exc}") from exc


LOW_SPACE = 64 * 1024  # below this SQLite cannot even make its shared-memory file


def storage_problem(root: Path) -> str:
    """"read-only", "full" or "": why nothing could be written in `root` right now."""
    try:
        stats = os.statvfs(root)
    except (OSError, AttributeError):  # no statvfs (Windows): ask for permission only
        return "" if os.access(root, os.W_OK) else "read-only"
    if stats.f_flag & getattr(os, "ST_RDONLY", 1) or not os.access(root, os.W_OK):
        return "read-only"
    return "full" if stats.f_bavail * stats.f_frsize < LOW_SPACE else ""


def on_read_only_storage(root: Path) -> bool:
    """True when nothing can be written in `root` now: SQLite must then read without its
    shared-memory file (immutable), and changes are refused."""
    return bool(storage_problem(root))


def refuse_unwritable(root: Path) -> None:
    problem = storage_problem(root)
    if problem == "read-only":
        raise ProjectReadOnlyError(f"{root} is on read-only storage (or you may not write there): "
                                   "it can be opened read-only, but not changed")
    if problem == "full":
        raise ProjectReadOnlyError(f"the disk holding {root} is full: free some space to change the project "
                                   "(it can be opened read-only meanwhile). Nothing was changed.")
