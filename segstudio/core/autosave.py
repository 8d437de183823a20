"""Autosave: every finished edit reaches the journal within about two seconds, and is folded
into labels/ and sources/ once its image is left, after a quiet spell, and on close.

The document's commit listener only copies the edited patch into memory (no I/O on the
painting thread). `tick()` (driven by a GUI QTimer, or by `start()`'s own thread, which keeps
the PNG writing of big images off the GUI thread) writes the buffered edits to the journal and
fsyncs them at most `flush_delay` seconds after the first unwritten one, and folds. A failed
write keeps the edits in memory, keeps the files on disk as they were, reports a FAILED
`SaveStatus` with the reason and is retried `retry_after` seconds later.

After a crash, `recover(project)` folds the journals left behind and says what it restored.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from segstudio.core.errors import ProjectError, SaveError, SegStudioError
from segstudio.core.geometry import BBox
from segstudio.core.journal import JournalError, JournalWriter, ProjectJournal, encode_record
from segstudio.core.project.quarantine import set_aside

if TYPE_CHECKING:
    from segstudio.core.project import Project


class SaveState(enum.Enum):
    SAVED = "saved"  # every finished edit is on disk (journal or labels/)
    PENDING = "pending"  # some edits are only in memory, a write is due soon
    SAVING = "saving"  # writing the journal or folding it into labels/
    FAILED = "failed"  # the last write failed; the edits are kept in memory and retried


@dataclass(frozen=True)
class SaveStatus:
    state: SaveState
    reason: str = ""  # why the last write failed (FAILED only)

    @property
    def failed(self) -> bool:
        return self.state is SaveState.FAILED

    def __str__(self) -> str:
        return f"failed: {self.reason}" if self.failed else self.state.value


SAVED, PENDING, SAVING = (SaveStatus(state) for state in (SaveState.SAVED, SaveState.PENDING, SaveState.SAVING))


def _failed(reason: str) -> SaveStatus:
    return SaveStatus(SaveState.FAILED, reason)


@dataclass
class _Edit:
    bbox: BBox
    shape: tuple[int, int]
    label: np.ndarray
    source: np.ndarray


class Autosaver:
    """Keeps a project's masks saved while one document at a time is edited.

    Listeners get each new `SaveStatus` from whichever thread runs `tick()`; a GUI re-posts
    it to its own thread.
    """

    def __init__(self, project: Project, document=None, *, flush_delay: float = 0.5, idle_fold_after: float = 10.0,
                 retry_after: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self.project = project
        self.journal = ProjectJournal(project)
        self.flush_delay = flush_delay
        self.idle_fold_after = idle_fold_after
        self.retry_after = retry_after
        self._clock = clock
        self._retry_at = float("-inf")  # after a failed write, tick() waits until then
        self._lock = threading.Lock()  # buffers and timestamps; held only briefly
        self._io_lock = threading.RLock()  # one journal writer at a time
        self._fold_locks: dict[int, threading.Lock] = {}  # one fold (or read_masks) per image at a time
        self._buffer: dict[int, list[_Edit]] = {}
        self._first_unwritten_at: float | None = None
        self._last_change_at: float | None = None
        self._writers: dict[int, JournalWriter] = {}
        self._unfolded: set[int] = set(self.journal.image_ids())
        self._state = SAVED
        self._listeners: list[Callable[[SaveStatus], None]] = []
        self._document = None
        self._listener = None  # our commit listener on the current document
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        if document is not None:
            self.set_document(document)

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> SaveStatus:
        return self._state

    def add_state_listener(self, fn: Callable[[SaveStatus], None]) -> None:
        self._listeners.append(fn)

    def _set_state(self, state: SaveStatus) -> None:
        if state == self._state:
            return
        self._state = state
        for fn in list(self._listeners):
            fn(state)

    def _settled_state(self) -> SaveStatus:
        with self._lock:
            return PENDING if self._buffer else SAVED

    @property
    def has_unfolded_edits(self) -> bool:
        """True while some edits live only in memory or in the journal, not yet in labels/."""
        with self._lock:
            return bool(self._buffer or self._unfolded)

    # -- documents -----------------------------------------------------------------------

    @property
    def document(self):
        return self._document

    def set_document(self, document, *, fold_previous: bool = True) -> None:
        """Follow a new document (or None); the previous image's edits are flushed first.

        With `fold_previous` they are also folded into labels/ before this returns, so the
        project's own read_label/read_source are up to date. Without it the fold is left to
        the next tick (off the GUI thread with `start()`: a 16k mask takes seconds to write),
        and documents must then be opened with `read_masks`, which sees unfolded journals.
        Raises SaveError if that fails: the autosaver then stays on the previous document,
        whose edits are kept (in the journal or in memory) and retried by later ticks.
        """
        previous = self._document
        if document is previous:
            return
        if previous is not None and fold_previous:
            self.fold(previous.image_id)
        else:
            self.flush()
        if previous is not None:
            previous.remove_commit_listener(self._listener)
        self._document = document
        if document is not None:
            self._listener = lambda bbox, label, source, doc=document: self._on_commit(doc, bbox, label, source)
            document.add_commit_listener(self._listener)

    def read_masks(self, image_id: int) -> tuple[np.ndarray, np.ndarray]:
        """An image's label and source maps as they stand, journal included: open documents
        with this, since a fold of that image may still be pending."""
        self.flush()
        with self._fold_lock(image_id), self._io_lock:
            label, source, _ = self.journal.replay(image_id)
        return label, source

    def _on_commit(self, document, bbox: BBox, label_patch: np.ndarray, source_patch: np.ndarray) -> None:
        """Runs on the editing thread after every finished step: copy the patch, nothing else."""
        if bbox is None or bbox.is_empty:
            return
        edit = _Edit(bbox, tuple(document.shape[:2]), _owned(label_patch, document.label), _owned(source_patch, document.source))
        now = self._clock()
        with self._lock:
            self._buffer.setdefault(document.image_id, []).append(edit)
            if self._first_unwritten_at is None:
                self._first_unwritten_at = now
            self._last_change_at = now
        if self._state != SAVING and not self._state.failed:
            self._set_state(PENDING)

    # -- writing -------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> None:
        """Do whatever is due: flush the journal; fold images no longer edited, and the current
        one after a quiet spell. Never raises: a failure shows as a FAILED state and
        is retried `retry_after` seconds later."""
        now = self._clock() if now is None else now
        with self._lock:
            if now < self._retry_at:
                return
            flush_due = self._first_unwritten_at is not None and now - self._first_unwritten_at >= self.flush_delay
            idle = self._last_change_at is None or now - self._last_change_at >= self.idle_fold_after
            current = None if self._document is None else self._document.image_id
            fold_due = [i for i in sorted(self._unfolded) if i != current or (idle and not self._buffer)]
        try:
            if flush_due:
                self.flush()
            for image_id in fold_due:
                self.fold(image_id)
        except SegStudioError:  # the state already says what went wrong
            with self._lock:
                self._retry_at = now + self.retry_after

    def flush(self) -> None:
        """Write every buffered edit to the journal and fsync it. SaveError keeps them buffered."""
        with self._io_lock:
            with self._lock:
                taken, self._buffer = self._buffer, {}
                self._first_unwritten_at = None
            if not taken:
                return
            self._set_state(SAVING)
            for image_id, edits in taken.items():
                try:
                    self._write(image_id, edits)
                except SaveError as exc:
                    self._keep_unwritten(taken, from_image=image_id)
                    self._set_state(_failed(str(exc)))
                    raise
            with self._lock:
                self._retry_at = float("-inf")
            self._set_state(self._settled_state())

    def _write(self, image_id: int, edits: list[_Edit]) -> None:
        writer = self._writers.get(image_id)
        try:
            if writer is None:
                path = self.journal.path(image_id, self.journal.next_generation(image_id))
                writer = self._writers[image_id] = JournalWriter(path)
                with self._lock:
                    self._unfolded.add(image_id)
            writer.write([encode_record(e.bbox, e.shape, e.label, e.source) for e in edits])
        except SaveError:
            # The file may now end in a torn record: later edits go to a fresh generation.
            if writer is not None:
                writer.close()
            self._writers.pop(image_id, None)
            raise

    def _keep_unwritten(self, taken: dict[int, list[_Edit]], from_image: int) -> None:
        """Put the edits of the failed image and of every image after it back, before newer ones.

        Some of the failed batch may have reached the disk already; writing them again is
        harmless because a replay applies absolute values in order.
        """
        ids = list(taken)
        with self._lock:
            for image_id in ids[ids.index(from_image):]:
                self._buffer[image_id] = taken[image_id] + self._buffer.get(image_id, [])
            if self._first_unwritten_at is None:
                self._first_unwritten_at = self._clock()

    def fold(self, image_id: int | None = None) -> None:
        """Flush, then fold the journal of one image (or of every image) into labels/ and sources/.

        New edits keep flowing into a fresh journal generation while the fold writes the masks.
        """
        self.flush()
        with self._lock:
            targets = sorted(self._unfolded) if image_id is None else [i for i in self._unfolded if i == image_id]
        for target in targets:
            with self._fold_lock(target):
                self._fold_one(target)
        self._set_state(self._settled_state())

    def _fold_lock(self, image_id: int) -> threading.Lock:
        with self._lock:
            return self._fold_locks.setdefault(image_id, threading.Lock())

    def _fold_one(self, image_id: int) -> None:
        with self._io_lock:
            writer = self._writers.pop(image_id, None)
            if writer is not None:
                writer.close()
            files = self.journal.files(image_id)
        if files:
            self._set_state(SAVING)
            try:
                self.journal.fold(image_id, up_to=files[-1][0])
            except JournalError as exc:  # it will never fit: keep it for a person, unblock saving
                kept = self.journal.set_aside(image_id)
                self._set_state(_failed(f"{exc}; kept as {', '.join(p.name for p in kept)}"))
                raise
            except SegStudioError as exc:
                self._set_state(_failed(str(exc)))
                raise
        with self._io_lock, self._lock:
            if image_id not in self._writers:
                self._unfolded.discard(image_id)

    # -- lifetime ------------------------------------------------------------------------

    def start(self, interval: float = 0.2) -> None:
        """Tick from a daemon thread of our own instead of calling tick() from outside; folds of
        big masks then never block the caller's (GUI) thread."""
        if self._thread is not None:
            return
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(interval):
                try:
                    self.tick()
                except Exception as exc:  # noqa: BLE001 - a dead saver thread would lose work silently
                    self._set_state(_failed(str(exc)))

        self._thread = threading.Thread(target=run, name="segstudio-autosave", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        """Stop ticking, fold everything and let go of the document. SaveError leaves the
        journal (and memory) intact and the document followed, so closing can be retried."""
        self.stop()
        try:
            self.fold()
            self.set_document(None)
        finally:
            with self._io_lock:
                for writer in self._writers.values():
                    writer.close()
                self._writers.clear()

    def __enter__(self) -> Autosaver:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _owned(patch: np.ndarray, live: np.ndarray) -> np.ndarray:
    """The patch itself, or a copy when it is a view into the live array that painting changes."""
    patch = np.asarray(patch)
    if np.may_share_memory(patch, live):
        return patch.copy()
    return patch


@dataclass(frozen=True)
class RecoveredImage:
    image_id: int
    name: str
    edits: int
    dropped_bytes: int = 0
    skipped_records: int = 0


@dataclass(frozen=True)
class RecoveryReport:
    """What `recover` found after a crash: restored images, and journals it could not apply."""

    images: list[RecoveredImage] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)

    @property
    def edits(self) -> int:
        return sum(image.edits for image in self.images)

    def __bool__(self) -> bool:
        return bool(self.images or self.failed)

    def summary(self) -> str:
        """One or two sentences for the person, or "" when nothing was left over."""
        parts = []
        if self.images:
            names = ", ".join(image.name for image in self.images[:5])
            more = f" and {len(self.images) - 5} more" if len(self.images) > 5 else ""
            parts.append(
                f"Recovered {self.edits} unsaved edit{'s' if self.edits != 1 else ''} on "
                f"{len(self.images)} image{'s' if len(self.images) != 1 else ''} ({names}{more})."
            )
            skipped = sum(image.skipped_records for image in self.images)
            if skipped:
                parts.append(f"{skipped} damaged journal record{'s were' if skipped != 1 else ' was'} skipped.")
        for image_id, reason in self.failed:
            parts.append(f"Could not recover the edits of image {image_id}: {reason}")
        return " ".join(parts)


def recover(project: Project) -> RecoveryReport:
    """Fold journals left by a crash into labels/ and sources/; call right after opening.

    A readonly project is left alone. A journal for an image that no longer exists is
    deleted; one that does not fit its image is renamed to *.unusable and reported.
    """
    if getattr(project, "readonly", False):
        return RecoveryReport()
    journal = ProjectJournal(project)
    ids = journal.image_ids()
    if not ids:
        return RecoveryReport()
    records = {record.id: record for record in project.images()}
    recovered: list[RecoveredImage] = []
    failed: list[tuple[int, str]] = []
    for image_id in ids:
        if image_id not in records:
            journal.discard(image_id)
            continue
        try:
            read = journal.fold(image_id)
        except JournalError as exc:
            kept = journal.set_aside(image_id)
            failed.append((image_id, f"{exc} (kept as {', '.join(p.name for p in kept)})"))
            continue
        except SaveError as exc:
            failed.append((image_id, str(exc)))
            continue
        except ProjectError as exc:  # its stored mask is damaged: set both aside, open the rest
            folder = set_aside(project, image_id, str(exc), [p for _, p in journal.files(image_id)])
            failed.append((image_id, f"{exc}; the mask and its unsaved edits were moved to "
                                     f"{folder.relative_to(project.root)}"))
            continue
        recovered.append(RecoveredImage(image_id, records[image_id].name, len(read.records), read.dropped_bytes,
                                        read.skipped_records))
        project.log_event("journal_recovered", image_id, edits=len(read.records), dropped_bytes=read.dropped_bytes,
                          skipped_records=read.skipped_records)
    return RecoveryReport(recovered, failed)
