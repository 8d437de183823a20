"""Images and their masks: adding, listing, status and split, label/source/uncertainty maps.

A mixin of `Project` (segstudio.core.project.store), kept apart so each file has one job.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from segstudio.core.atomic import atomic_write_png, create_new_file, fsync_dir
from segstudio.core.errors import ImageReadError, ProjectError, SaveError
from segstudio.core.journal import ProjectJournal
from segstudio.core.progress import Progress, StopFlag, drive
from segstudio.core.project import masks
from segstudio.core.project.histograms import histogram
from segstudio.core.project.listing import ORDERS, ListFilter
from segstudio.core.project.records import AddReport, ImageRecord, Source, Split, Status, now



class ImagesMixin:
    # -------------------------------------------------------------------- images
    def add_images(self, paths: Iterable[str | Path], *, recursive: bool = True, copy: bool = False) -> AddReport:
        return drive(self.iter_add_images(paths, recursive=recursive, copy=copy))

    ADD_BATCH = 256  # images per transaction when adding
    _EXAMINE_CHUNK = 16  # files per pool task: one task per file cost more than a small file's hash
    _POOL_FROM_BYTES = 1 << 20  # batches of smaller files (on average) are examined on this thread

    def iter_add_images(self, paths: Iterable[str | Path], *, recursive: bool = True, copy: bool = False,
                        stop: StopFlag | None = None) -> Generator[Progress, None, AddReport]:
        """Add image files and folders; duplicates (same bytes) are skipped, failures reported.

        Each file is read once (`_examine`). Batches of big files are read on a thread pool
        (hashlib and file reads let go of the GIL), a few files a task, the next batch while
        this one is inserted; small files are read on this thread, where the pool cost more in
        GIL hand-overs than it overlapped (2,000 PNGs of 9 KB, 2 busy cores: 1.35x the floor
        inline, 2.0-2.5x on the pool; still ahead inline at 790 KB a file). Each batch of
        ADD_BATCH asks the database once about duplicates and is inserted in one transaction,
        after its copied files (copy=True) are on disk. Results are taken in file order, so the
        report reads as before.
        """
        from concurrent.futures import ThreadPoolExecutor

        report = AddReport()
        files, sizes = _collect_files(paths, recursive, report)
        batches = [range(start, min(start + self.ADD_BATCH, len(files))) for start in range(0, len(files), self.ADD_BATCH)]
        seen: set[str] = set()
        pool = ThreadPoolExecutor(max(2, min(8, os.cpu_count() or 2)))
        try:
            ahead = self._examine_later(pool, files, sizes, batches[0]) if batches else None
            for index, span in enumerate(batches):
                if stop is not None and stop.is_set():
                    break
                batch = files[span.start:span.stop]
                examined = _examine_all(batch, sizes[span.start:span.stop]) if ahead is None else [result for task in ahead for result in task.result()]
                ahead = self._examine_later(pool, files, sizes, batches[index + 1]) if index + 1 < len(batches) else None
                known = self._known_checksums([c for c, _w, _h, _e in examined if c is not None])
                rows, origins = [], {}
                for done, (path, (checksum, width, height, error)) in enumerate(zip(batch, examined), span.start):
                    if stop is not None and stop.is_set():
                        break  # the file in hand was finished; no further one is added
                    yield Progress(done, len(files), path.name)
                    if checksum is not None and (checksum in known or checksum in seen):
                        report.duplicates.append(path)  # a duplicate first, as when checked before probing
                    elif error is not None:
                        report.failed.append((path, error))
                    else:
                        seen.add(checksum)
                        try:
                            stored = self._copy_in(path) if copy else path
                            origins[stored] = path
                            rows.append((stored, width, height, checksum))
                        except (SaveError, OSError) as exc:
                            report.failed.append((path, exc.strerror if isinstance(exc, OSError) and exc.strerror
                                                  else str(exc)))
                if copy:
                    rows = self._sync_copies(pool, rows, origins, report)
                report.added.extend(self._insert_images(rows, copied=copy))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # a stop leaves at most one batch of reads running
        yield Progress(len(files), len(files), report.summary())
        if report.added:
            self.log_event("images_added", count=len(report.added))
        return report

    def _examine_later(self, pool, files: list[Path], sizes: list[int], span: range) -> list | None:
        """Futures of `_examine` results for files[span], a few files a task, in order; None for
        small files, which are examined on this thread when their batch comes."""
        if sum(sizes[span.start:span.stop]) < len(span) * self._POOL_FROM_BYTES:
            return None
        step = self._EXAMINE_CHUNK
        return [pool.submit(_examine_all, files[start:min(start + step, span.stop)],
                            sizes[start:min(start + step, span.stop)]) for start in range(span.start, span.stop, step)]

    def _sync_copies(self, pool, rows: list[tuple[Path, int, int, str]], origins: dict[Path, Path],
                     report: AddReport) -> list:
        """fsync a batch's copies together (the disk can merge the writes), then images/ itself,
        before their rows are committed; a copy that cannot be synced is removed and reported."""
        kept = []
        for row, error in zip(rows, pool.map(_fsync_file, [row[0] for row in rows])):
            if error is None:
                kept.append(row)
            else:
                row[0].unlink(missing_ok=True)
                report.failed.append((origins[row[0]], error))
        if kept:
            fsync_dir(self.root / "images")  # their names too
        return kept

    def _known_checksums(self, checksums: list[str]) -> set[str]:
        known: set[str] = set()
        for start in range(0, len(checksums), 500):
            chunk = checksums[start:start + 500]
            rows = self._query(f"SELECT checksum FROM images WHERE checksum IN ({', '.join('?' * len(chunk))})",
                               tuple(chunk))
            known.update(r[0] for r in rows)
        return known

    _ROWS_PER_INSERT = 100  # 7 parameters a row: within the 999 of older SQLite builds

    def _insert_images(self, rows: list[tuple[Path, int, int, str]], *, copied: bool = False) -> list[ImageRecord]:
        """Insert (path, width, height, checksum) rows in one transaction; their records, in order.

        Many rows a statement: SQLite's cost per statement on this table (eight indexes and a
        trigger) was twice its cost per row. OR FAIL, not the default ABORT: ABORT makes SQLite
        keep a statement journal of every page a statement touches, to undo only that statement;
        any failure here rolls the whole transaction back instead (_tx).
        """
        if not rows:
            return []
        stamp = now()
        try:
            with self._tx() as conn:
                before = conn.execute("SELECT ifnull(max(id), 0) FROM images").fetchone()[0]
                for start in range(0, len(rows), self._ROWS_PER_INSERT):
                    chunk = rows[start:start + self._ROWS_PER_INSERT]
                    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, 1)"] * len(chunk))
                    conn.execute(
                        "INSERT OR FAIL INTO images (path, name, width, height, checksum, added_at, updated_at, "
                        f"counted) VALUES {values}",
                        [value for path, width, height, checksum in chunk
                         for value in (self._stored_path(path), path.name, width, height, checksum, stamp, stamp)])
                # New rows take ids above the old maximum (SQLite's rule while ids stay below 2**63),
                # so one range read finds them: a third faster than looking each checksum up.
                inserted = conn.execute("SELECT * FROM images WHERE id > ?", (before,)).fetchall()
        except BaseException:
            if copied:
                for path, *_ in rows:
                    path.unlink(missing_ok=True)
            raise
        paths = {checksum: path.absolute() for path, _w, _h, checksum in rows}  # checksums are unique
        found = {r["checksum"]: self._record(r, paths[r["checksum"]]) for r in inserted if r["checksum"] in paths}
        missing = [c for c in paths if c not in found]  # only if ids wrapped round: look those up
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            for r in self._query(f"SELECT * FROM images WHERE checksum IN ({', '.join('?' * len(chunk))})",
                                 tuple(chunk)):
                found[r["checksum"]] = self._record(r, paths[r["checksum"]])
        return [found[c] for c in paths]

    def _stored_path(self, path: Path) -> str:
        """Relative to the project (POSIX form) when inside it, else absolute."""
        path = path.absolute()
        if os.sep == "/":  # relative_to by text, as pathlib compares POSIX paths (5 times faster at add)
            text, inside = str(path), str(self.root).rstrip("/") + "/"
            return text[len(inside):] if text.startswith(inside) and len(text) > len(inside) else text
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def _copy_in(self, path: Path) -> Path:
        """Copy an image into images/ under a new name; a failed copy (a full disk) leaves nothing.
        Not yet synced: the caller fsyncs it before its row is committed."""
        target_dir = self.root / "images"
        target_dir.mkdir(exist_ok=True)
        target = target_dir / path.name
        counter = 1
        while target.exists() or target.is_symlink():
            target = target_dir / f"{path.stem}_{counter}{path.suffix}"
            counter += 1
        with open(path, "rb") as source, create_new_file(target) as copy:
            try:
                shutil.copyfileobj(source, copy, 1 << 20)  # fsynced with its batch (_sync_copies)
            except BaseException:
                target.unlink()  # ours: created just now, never through a link
                raise
        shutil.copystat(path, target)
        return target

    def images(self, *, status: Status | str | Iterable[Status | str] | None = None,
               split: Split | str | Iterable[Split | str] | None = None, search: str | None = None,
               order: str = "name") -> list[ImageRecord]:
        listing = ListFilter.of(status, split, search, order)
        where, params = listing.where()
        sql = f"SELECT * FROM images{where} ORDER BY {ORDERS[order]}"
        return [self._record(r) for r in self._query(sql, tuple(params))]

    def image(self, image_id: int) -> ImageRecord:
        rows = self._query("SELECT * FROM images WHERE id = ?", (image_id,))
        if not rows:
            raise ProjectError(f"there is no image with id {image_id} in {self.root}")
        return self._record(rows[0])

    def _record(self, row: sqlite3.Row, path: Path | None = None) -> ImageRecord:
        """`path`: the absolute path when the caller knows it already (add: parsing it again
        was a tenth of add's time)."""
        if path is None:
            path = Path(row["path"])
            path = path if path.is_absolute() else self.root / path
        return ImageRecord(
            id=row["id"], path=path, rel_path=row["path"],
            name=row["name"], width=row["width"], height=row["height"], checksum=row["checksum"],
            status=_STATUS.get(row["status"]) or Status(row["status"]),
            split=_SPLIT.get(row["split"]) or Split(row["split"]), uncertainty=row["uncertainty"],
            added_at=row["added_at"], updated_at=row["updated_at"], proposed_by=row["proposed_by"],
            label_flag=row["label_flag"])

    def remove_image(self, image_id: int) -> None:
        """Forget an image and its masks; the image file itself stays where it is."""
        self.image(image_id)
        with self._tx() as conn:
            conn.execute("DELETE FROM images WHERE id = ?", (image_id,))
        for folder in (self.labels_dir, self.sources_dir, self.root / "uncertainty"):
            (folder / f"{image_id}.png").unlink(missing_ok=True)
        ProjectJournal(self).discard(image_id)
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
                                  (value, now(), image_id))
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
        with self._masks_mutex:
            self._write_masks_unchecked(record, label, source)
            if self.image(image_id).status == Status.NEW and (source >= Source.ACCEPTED).any():
                self.set_status(image_id, Status.IN_PROGRESS)

    def _write_masks_unchecked(self, record: ImageRecord, label: np.ndarray, source: np.ndarray) -> None:
        """Write both maps and the class histogram (uncounted while the files change: histograms.py)."""
        counts = histogram(label, self.ignore_value)
        self._mark_uncounted(record.id)
        masks.write_pair(self._label_path(record.id), label, self._source_path(record.id), source)
        with self._tx() as conn:  # masks_written moves the annotation counter (schema._V4_CHANGES)
            self._store_histogram(conn, record.id, counts)
            conn.execute("UPDATE images SET masks_written = masks_written + 1, updated_at = ? WHERE id = ?",
                         (now(), record.id))

    def annotation_changes(self, since: int | None = None) -> tuple[int, list[int]]:
        """(the annotation change counter, ids of images whose annotations changed after `since`).

        The counter moves on mask writes and status, split, label-flag changes and removals of
        images that are not new (triggers, schema._V4_CHANGES); reads never move it. One row
        and an indexed range: cheap enough to ask between two training steps.
        """
        with self._mutex:
            conn = self._connection()
            counter = conn.execute("SELECT value FROM counters WHERE name = 'annotations'").fetchone()[0]
            if since is None or since >= counter:
                return counter, []
            rows = conn.execute("SELECT image_id FROM annotation_changes WHERE change > ? ORDER BY change",
                                (since,)).fetchall()
        return counter, [row[0] for row in rows]

    def mark_done(self, image_id: int) -> None:
        """Headless 'done': accept the remaining proposals (1 -> 2) and set the status."""
        with self._masks_mutex:
            self._accept_stored_proposals(image_id)
        self.set_status(image_id, Status.DONE)

    def _accept_stored_proposals(self, image_id: int) -> None:
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
        atomic_write_png(self.root / "uncertainty" / f"{image_id}.png", array, project_file=True)


# value -> member: a third of the cost of a record was Status(...) and Split(...) (Enum's call
# path); an unknown value still goes through the Enum and is refused there.
_STATUS = {status.value: status for status in Status}
_SPLIT = {split.value: split for split in Split}


def _collect_files(paths: Iterable[str | Path], recursive: bool, report: AddReport) -> tuple[list[Path], list[int]]:
    """The files to add and their sizes: named files as they are, image files in named folders
    by name (one stat each)."""
    from segstudio.core.imageio import IMAGE_EXTENSIONS

    files: list[Path] = []
    sizes: list[int] = []
    for item in paths:
        path = (item if isinstance(item, Path) else Path(item)).expanduser()
        info = _stat(path)
        if info is not None and stat.S_ISDIR(info.st_mode):
            pattern = path.rglob("*") if recursive else path.glob("*")
            entries = []
            for found in pattern:
                if found.suffix.lower() in IMAGE_EXTENSIONS and not found.name.startswith("."):
                    found_info = _stat(found)
                    if found_info is not None and stat.S_ISREG(found_info.st_mode):
                        entries.append((found, found_info.st_size))
            entries.sort()
            files.extend(found for found, _ in entries)
            sizes.extend(size for _, size in entries)
        elif info is not None and stat.S_ISREG(info.st_mode):
            files.append(path)
            sizes.append(info.st_size)
        else:
            report.failed.append((path, "no such file or folder"))
    return files, sizes


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _check_name(path: Path) -> None:
    """A name that is not valid UTF-8 (possible on Linux) cannot be stored or shown reliably."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ImageReadError(path, "its file name is not valid UTF-8; rename the file to add it") from exc


_WHOLE_FILE = 16 << 20
"""Files up to this size are read into memory once when added: hashed, probed and checked from
those bytes (8 pool threads x 16 MiB at most); bigger ones are hashed in blocks and re-read
only where their header and structure are."""


def _examine(path: Path, size: int, probe_image, check_complete) -> tuple[str | None, int, int, str | None]:
    """(checksum, width, height, None), or (checksum or None, 0, 0, why it cannot be added): on a pool thread.

    The file is read once: its bytes are hashed, and the size comes from its header
    (`probe_image`, never a decode) and the structure check from the same bytes. `size` is what
    the listing saw; a file that has grown since is hashed in blocks like a big one.
    """
    checksum = None
    try:
        _check_name(path)
        with open(path, "rb") as handle:
            data = handle.read(size + 1 if size <= _WHOLE_FILE else _BLOCK)
            whole = size <= _WHOLE_FILE and len(data) <= size
            digest = hashlib.sha256(data)
            if not whole:
                while block := handle.read(_BLOCK):
                    digest.update(block)
        checksum = digest.hexdigest()
        info = probe_image(path, head=data)
        check_complete(path, info.width, info.height, data if whole else None)
        return checksum, info.width, info.height, None
    except ImageReadError as exc:
        return checksum, 0, 0, exc.reason
    except SaveError as exc:
        return checksum, 0, 0, str(exc)
    except OSError as exc:
        return checksum, 0, 0, exc.strerror or str(exc)


_BLOCK = 1 << 20


def _examine_all(paths: list[Path], sizes: list[int]) -> list[tuple[str | None, int, int, str | None]]:
    """`_examine` of each path; the readers are imported here, once a batch (an import statement
    run per file was a tenth of add's time on small files)."""
    from segstudio.core.imageio import probe_image
    from segstudio.core.imageio.completeness import check_complete

    return [_examine(path, size, probe_image, check_complete) for path, size in zip(paths, sizes)]


def _fsync_file(path: Path) -> str | None:
    """None once the file's bytes are on disk, else why not."""
    try:
        with open(path, "r+b") as handle:  # writable: Windows syncs only those
            os.fsync(handle.fileno())
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
