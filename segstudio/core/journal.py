"""Write-ahead log of mask edits that are not yet folded into labels/ and sources/.

Saving a whole 16k x 16k mask after every brush stroke would take seconds, so each finished
edit is appended to a small per-image journal instead: the box it touched plus the new label
and source values inside it. The journal is cheap to append and fsync, so a crash loses at
most what was not flushed yet. "Folding" replays the journal onto the stored masks, writes
them atomically and only then deletes the journal.

On disk, `journal/<image_id>.<generation>.journal` holds records:

    b"SSJ1" | u32 payload length | u32 CRC32 (of the length bytes and the payload) | payload

where the payload is zlib-compressed `META` followed by the label and source bytes of the box.
A crash can tear the last record; the reader detects it (short read or CRC mismatch) and drops
it. A damaged record in the middle (a flipped bit) costs only itself: the reader looks for the
next record's magic and goes on, counting what it skipped. A record holds absolute values, so replaying a journal onto masks
it was already folded into changes nothing: a crash between "masks written" and "journal
deleted" is harmless. Generations let a fold run while new edits go to a fresh file.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from segstudio.core.atomic import create_new_file, fsync_dir
from segstudio.core.errors import ProjectError, SaveError, SegStudioError
from segstudio.core.geometry import BBox
from segstudio.core.labels import convert_labels

if TYPE_CHECKING:
    from segstudio.core.project import Project

MAGIC = b"SSJ1"
HEADER = struct.Struct("<4sII")  # magic, payload length, crc32
META = struct.Struct("<IIIIIIB")  # image height, width, box y0, x0, y1, x1, label bytes per pixel
_FILE_NAME = re.compile(r"^(\d+)\.(\d+)\.journal$")
_LABEL_DTYPES = {1: np.dtype(np.uint8), 2: np.dtype("<u2")}
MAX_RECORD_PIXELS = 2**30  # the largest image SegStudio reads (imageio.MAX_PIXELS)


class JournalError(SegStudioError):
    """A journal cannot be applied to its image (wrong size, damaged beyond its tail)."""


@dataclass(frozen=True)
class JournalRecord:
    """One finished edit: the new label and source values inside `bbox` of an image of `shape`."""

    bbox: BBox
    shape: tuple[int, int]
    label: np.ndarray
    source: np.ndarray


@dataclass(frozen=True)
class JournalRead:
    """What a journal holds: its intact records, how many damaged records were skipped, and how
    many torn bytes at the end were dropped."""

    records: list[JournalRecord]
    dropped_bytes: int = 0
    skipped_records: int = 0


def encode_record(bbox: BBox, shape: tuple[int, int], label_patch: np.ndarray, source_patch: np.ndarray) -> bytes:
    """The bytes of one journal record (header + compressed payload)."""
    label_patch = np.asarray(label_patch)
    source_patch = np.asarray(source_patch)
    box_shape = (bbox.height, bbox.width)
    if label_patch.shape != box_shape or source_patch.shape != box_shape:
        raise ValueError(f"patches {label_patch.shape}/{source_patch.shape} do not match box {box_shape}")
    if label_patch.dtype.itemsize not in _LABEL_DTYPES or label_patch.dtype.kind != "u":
        raise ValueError(f"label patch must be uint8 or uint16, not {label_patch.dtype}")
    label_dtype = _LABEL_DTYPES[label_patch.dtype.itemsize]
    meta = META.pack(int(shape[0]), int(shape[1]), bbox.y0, bbox.x0, bbox.y1, bbox.x1, label_dtype.itemsize)
    compressor = zlib.compressobj(1)  # streamed: a whole 16k x 16k patch is never copied whole
    parts = [compressor.compress(meta)]
    for array, dtype in ((label_patch, label_dtype), (source_patch, np.dtype(np.uint8))):
        parts.append(compressor.compress(memoryview(np.ascontiguousarray(array, dtype=dtype)).cast("B")))
    parts.append(compressor.flush())
    payload = b"".join(parts)
    length = struct.pack("<I", len(payload))
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload, zlib.crc32(length))) + payload


def decode_records(data: bytes) -> JournalRead:
    """Every intact record of a journal's bytes; damaged records are skipped (each CRC is its
    own), a torn tail is dropped."""
    records: list[JournalRecord] = []
    offset = skipped = 0
    end = 0  # where the last intact record ended
    while offset < len(data):
        record, size = _decode_one(data, offset)
        if record is not None:
            records.append(record)
            offset = end = offset + size
            continue
        following = data.find(MAGIC, offset + 1)
        while following != -1 and _decode_one(data, following)[0] is None:
            following = data.find(MAGIC, following + 1)
        if following == -1:
            break
        skipped += 1
        offset = following
    return JournalRead(records, dropped_bytes=len(data) - end, skipped_records=skipped)


def _decode_one(data: bytes, offset: int) -> tuple[JournalRecord | None, int]:
    if len(data) - offset < HEADER.size:
        return None, 0
    magic, length, crc = HEADER.unpack_from(data, offset)
    start = offset + HEADER.size
    payload = data[start : start + length]
    if magic != MAGIC or len(payload) != length:
        return None, 0
    if zlib.crc32(payload, zlib.crc32(struct.pack("<I", length))) != crc:
        return None, 0
    try:
        inflate = zlib.decompressobj()
        meta = inflate.decompress(payload, META.size)
        height, width, y0, x0, y1, x1, itemsize = META.unpack_from(meta, 0)
        box = BBox(y0, x0, y1, x1)
        label_dtype = _LABEL_DTYPES[itemsize]
        count = box.height * box.width
        if not (0 <= y0 <= y1 <= height and 0 <= x0 <= x1 <= width) or count > MAX_RECORD_PIXELS:
            return None, 0
        # inflate no more than the box needs: a small damaged or hostile record cannot ask for gigabytes
        raw = meta + inflate.decompress(inflate.unconsumed_tail, count * (itemsize + 1))
        label_end = META.size + count * itemsize
        label = np.frombuffer(raw, dtype=label_dtype, count=count, offset=META.size).reshape(box.height, box.width)
        source = np.frombuffer(raw, dtype=np.uint8, count=count, offset=label_end).reshape(box.height, box.width)
    except (zlib.error, struct.error, KeyError, ValueError):
        return None, 0
    return JournalRecord(box, (height, width), label, source), HEADER.size + length


def read_journal_file(path: str | os.PathLike) -> JournalRead:
    return decode_records(Path(path).read_bytes())


def apply_records(records: list[JournalRecord], label: np.ndarray, source: np.ndarray) -> None:
    """Replay records in order onto the arrays (in place). Raises JournalError on a size mismatch."""
    for record in records:
        if tuple(record.shape) != label.shape[:2] or label.shape != source.shape:
            raise JournalError(
                f"journal edits are for a {record.shape[1]}x{record.shape[0]} mask, "
                f"but the stored mask is {label.shape[1]}x{label.shape[0]}"
            )
        if record.bbox.clip(label.shape) != record.bbox:
            raise JournalError(f"journal edit box {record.bbox} lies outside the mask")
        label[record.bbox.slices] = convert_labels(record.label, label.dtype)
        source[record.bbox.slices] = record.source


def _check_class_ids(records: list[JournalRecord], num_classes: int) -> None:
    """Refuse edits with class ids the project no longer has (a class removed while they
    were unsaved): written as they are, they would turn into another class."""
    for record in records:
        unlabelled = np.iinfo(record.label.dtype).max
        bad = record.label[(record.label >= num_classes) & (record.label != unlabelled)]
        if bad.size:
            raise JournalError(
                f"journal edits use class ids {np.unique(bad)[:5].tolist()} but the project has "
                f"{num_classes} classes now (a class was removed while they were unsaved)"
            )


class JournalWriter:
    """Append-only writer of a new journal file; `write()` returns once the records are durable.

    The file must not exist yet: appending behind a torn tail left by a crash would hide every
    new record from readers, so each writer starts a fresh generation instead.
    """

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = create_new_file(path)  # unbuffered, never through a link: a failure stays a failure
            fsync_dir(path.parent)
        except OSError as exc:
            raise SaveError(f"could not open the edit journal {path}: {exc.strerror or exc}") from exc

    def write(self, records: list[bytes]) -> None:
        """Append the records and fsync them. On failure the caller must use a fresh file:
        this one may end in a torn record, which readers drop."""
        try:
            for data in records:
                view = memoryview(data)
                while view:
                    view = view[self._file.write(view):]
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise SaveError(f"could not write the edit journal {self.path}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        try:
            self._file.close()
        except OSError:
            pass  # every byte that mattered was fsynced by write(); a torn tail is dropped on read


class ProjectJournal:
    """The journal folder of a project: which images have edits waiting, and folding them."""

    def __init__(self, project: Project):
        self.project = project
        self.directory = Path(project.journal_dir)

    def files(self, image_id: int) -> list[tuple[int, Path]]:
        """(generation, path) of this image's journal files, oldest first."""
        found = []
        if self.directory.is_dir():
            for path in self.directory.iterdir():
                match = _FILE_NAME.match(path.name)
                if match and int(match.group(1)) == image_id:
                    found.append((int(match.group(2)), path))
        return sorted(found)

    def image_ids(self) -> list[int]:
        """Images with at least one journal file (edits not yet folded into labels/)."""
        if not self.directory.is_dir():
            return []
        ids = {int(m.group(1)) for m in map(_FILE_NAME.match, os.listdir(self.directory)) if m}
        return sorted(ids)

    def path(self, image_id: int, generation: int) -> Path:
        return self.directory / f"{image_id}.{generation:06d}.journal"

    def next_generation(self, image_id: int) -> int:
        files = self.files(image_id)
        return files[-1][0] + 1 if files else 1

    def read(self, image_id: int, up_to: int | None = None) -> JournalRead:
        """Records of every generation <= `up_to` (all when None), oldest first."""
        records: list[JournalRecord] = []
        dropped = skipped = 0
        for generation, path in self.files(image_id):
            if up_to is not None and generation > up_to:
                continue
            part = read_journal_file(path)
            records.extend(part.records)
            dropped += part.dropped_bytes
            skipped += part.skipped_records
        return JournalRead(records, dropped, skipped)

    def replay(self, image_id: int, up_to: int | None = None) -> tuple[np.ndarray, np.ndarray, JournalRead]:
        """The stored masks of an image with its journal applied (nothing is written)."""
        label = self.project.read_label(image_id)  # fresh arrays: the records go straight in
        source = self.project.read_source(image_id)
        read = self.read(image_id, up_to)
        _check_class_ids(read.records, self.project.num_classes)
        apply_records(read.records, label, source)
        return label, source, read

    def fold(self, image_id: int, up_to: int | None = None) -> JournalRead:
        """Replay, write the masks atomically, then delete the folded journal files.

        The files go only after the masks are durable; if writing fails (SaveError), the
        journal stays and nothing stored changes. The journal of an image removed from the
        project is deleted unapplied.
        """
        files = [(g, p) for g, p in self.files(image_id) if up_to is None or g <= up_to]
        if not files:
            return JournalRead([], 0)
        up_to = files[-1][0]
        try:
            label, source, read = self.replay(image_id, up_to)
        except ProjectError:
            if any(record.id == image_id for record in self.project.images()):
                raise
            self.discard(image_id)
            return JournalRead([], 0)
        if read.records:
            self.project.write_masks(image_id, label, source)
        for _, path in files:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise SaveError(f"could not remove the folded journal {path}: {exc.strerror or exc}") from exc
        fsync_dir(self.directory)
        return read

    def discard(self, image_id: int) -> None:
        """Delete an image's journal without applying it (the image was removed)."""
        for _, path in self.files(image_id):
            path.unlink(missing_ok=True)

    def set_aside(self, image_id: int) -> list[Path]:
        """Rename a journal that cannot be applied so it stops blocking, but is kept for a person."""
        kept = []
        for _, path in self.files(image_id):
            target = path.with_name(path.name + ".unusable")
            os.replace(path, target)
            kept.append(target)
        return kept

