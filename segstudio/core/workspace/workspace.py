"""The application model: the open project, the current image's document, and what happens to them.

One `Workspace` per window (or per CLI run) owns the typed `Project`, the `MaskDocument` being
edited and the `Autosaver` that keeps it safe, and does every operation in an order that never
drops an edit: a new project is opened before the old one is closed (a failed open changes
nothing), the next image is read before anything changes, the previous image's edits are in the
journal before a switch, and a failed journal write keeps the person on the image whose edits
are still only in memory. Listeners (`subscribe`) get typed events (events.py); nothing here
knows about Qt. Long work (reading a 16k image, folding every edit) is offered as work
generators (segstudio.core.progress) that the caller runs on a thread of its choice.

Review changes (done, back to new or in progress, skipped with a reason) are undoable steps:
`undo` takes back the last one, and, when the image has nothing left to undo, goes back to the
previous image (kept in memory with its history) and takes back the last step there. The
design is written down in docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segstudio.core.errors import ProjectError
from segstudio.core.progress import Progress, StopFlag, drive
from segstudio.core.project import AddReport, Project, Status
from segstudio.core.workspace import events as ev
from segstudio.core.workspace import review

if TYPE_CHECKING:
    from segstudio.core.autosave import Autosaver
    from segstudio.core.document import MaskDocument
    from segstudio.core.imageio import LoadedImage
    from segstudio.core.project.opening import OpenedImage

KEEP_PREVIOUS_PIXELS = 64 * 2**20  # the previous image stays in memory for undo up to this size
MARK_DONE_STEP = "accept"  # the document step that marking done makes (the accepted proposals)


@dataclass
class _StatusStep:
    """A status change tied to a place in one document's undo history."""

    image_id: int
    document: MaskDocument
    depth: int  # undoable document steps right after the change
    old: Status
    new: Status
    reason: str
    with_step: bool  # the change came with a document step (marking done accepts the proposals)


@dataclass
class _Kept:
    image: LoadedImage
    document: MaskDocument


class Workspace:
    def __init__(self) -> None:
        self.project: Project | None = None
        self.autosaver: Autosaver | None = None
        self.document: MaskDocument | None = None
        self.image: LoadedImage | None = None
        self._listeners: list[ev.Listener] = []
        self._undoable = 0
        self._trimmed = False
        self._replaying = False
        self._kept: _Kept | None = None
        self._status_undo: list[_StatusStep] = []
        self._status_redo: list[_StatusStep] = []

    # ----- listeners -------------------------------------------------------------------------
    def subscribe(self, listener: ev.Listener) -> Callable[[], None]:
        """Call `listener(event)` for every change; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: ev.WorkspaceEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    @property
    def image_id(self) -> int | None:
        return self.document.image_id if self.document is not None else None

    def require_project(self) -> Project:
        if self.project is None:
            raise ProjectError("no project is open")
        return self.project

    # ----- project ---------------------------------------------------------------------------
    def create(self, root: Path, classes: list[str] | None = None, images: list[Path] = ()) -> AddReport:
        """Create a project in `root` with `classes` and `images`, then open it.

        The open project is closed only once the new one exists: a failure changes nothing.
        """
        with (Project.create(root, classes) if classes else Project.create(root)) as project:
            report = project.add_images(images) if images else AddReport()
        self.open(root)
        return report

    def open(self, root: Path) -> str:
        """Open a project (the open one is closed after the new one opened); returns what crash
        recovery restored ("" when nothing)."""
        from segstudio.core.autosave import Autosaver, recover

        root = Path(root).expanduser().absolute()
        if self.project is not None and self.project.root == root:
            self.close()
        project = Project.open(root)
        try:
            report = recover(project)
            self.close()
        except BaseException:
            project.close()
            raise
        self.project = project
        self.autosaver = Autosaver(project)
        self.autosaver.add_state_listener(lambda status: self._emit(ev.SaveStatusChanged(status)))
        self.autosaver.start()
        self._emit(ev.ProjectOpened(project, report.summary()))
        return report.summary()

    def close(self) -> None:
        """Fold every edit into the project and close it. SaveError leaves it open."""
        if self.project is None:
            return
        self._finish_open_step()
        try:
            self.autosaver.close()  # stops its thread, then folds every image here
        except Exception:
            self.autosaver.start()  # still open: keep saving in the background
            raise
        project, self.project, self.autosaver = self.project, None, None
        self._forget_image()
        self._emit(ev.ProjectClosed(project.root))  # listeners stop their work while it is still open
        project.close()

    def add_images(self, paths: list[Path]) -> AddReport:
        report = self.require_project().add_images(paths)
        self._emit(ev.ImagesChanged())
        return report

    # ----- images ----------------------------------------------------------------------------
    def read_job(self, image_id: int) -> Callable[[StopFlag], Generator[Progress, None, OpenedImage]]:
        """A work generator that reads an image and its masks (journal edits included) side by side."""
        project, autosaver = self.require_project(), self.autosaver

        def read(stop: StopFlag):
            from segstudio.core.project.opening import open_for_editing

            yield Progress(0, 1, f"Opening {project.image(image_id).name}...")
            return open_for_editing(project, image_id, autosaver.read_masks)

        return read

    def open_image(self, image_id: int) -> None:
        """Read an image here and show it (ImageReadError or SaveError: nothing changes)."""
        self.show(drive(self.read_job(image_id)(StopFlag())))

    def show(self, opened: OpenedImage) -> None:
        """Make a read image the current one (the result of `read_job`)."""
        from segstudio.core.document import MaskDocument

        self._switch(opened.image, MaskDocument(opened.image_id, opened.label, opened.source))

    def _switch(self, image: LoadedImage, document: MaskDocument) -> None:
        self._finish_open_step()
        # The previous image's edits reach the journal first (SaveError stops here); the
        # autosaver's thread folds them into labels/ later.
        self.autosaver.set_document(document, fold_previous=False)
        previous = self._kept_candidate()
        if self.document is not None:
            self.document.remove_commit_listener(self._on_commit)
        document.add_commit_listener(self._on_commit)
        self.image, self.document = image, document
        self._kept = previous if previous is not None and previous.document is not document else None
        kept_docs = {id(document), id(self._kept.document) if self._kept else None}
        self._status_undo = [s for s in self._status_undo if id(s.document) in kept_docs]
        self._status_redo = [s for s in self._status_redo if id(s.document) in kept_docs]
        self._trimmed = False
        self._emit(ev.DocumentReplaced(document.image_id, document))
        self._publish_history()

    def _kept_candidate(self) -> _Kept | None:
        """The image being left, kept for undo when it has history and nothing else may rewrite it
        (background proposals only touch new images)."""
        document = self.document
        if document is None:
            return None
        has_steps = any(s.document is document for s in self._status_undo + self._status_redo)
        if not (document.can_undo or document.can_redo or has_steps):
            return None
        if document.label.size > KEEP_PREVIOUS_PIXELS or self.project.image(document.image_id).status == Status.NEW:
            return None
        return _Kept(self.image, document)

    def _forget_image(self) -> None:
        if self.document is not None:
            self.document.remove_commit_listener(self._on_commit)
        self.image = self.document = self._kept = None
        self._status_undo, self._status_redo = [], []
        self._trimmed = False
        self._emit(ev.DocumentReplaced(None, None))
        self._publish_history()

    def reload(self) -> None:
        """Read the open image's masks again (after the project rewrote them); its history goes."""
        if self.document is not None:
            label, source = self.autosaver.read_masks(self.document.image_id)
            from segstudio.core.document import MaskDocument

            self._kept = None
            self._switch(self.image, MaskDocument(self.document.image_id, label, source))

    def save(self) -> None:
        """Write every edit into labels/ now, before returning (export, class removal); raises SaveError."""
        if self.autosaver is not None:
            self._finish_open_step()
            self.autosaver.fold()

    def save_job(self) -> Callable[[StopFlag], Generator[Progress, None, None]]:
        """`save` as a work generator, for a thread: folding a 16k mask takes seconds."""
        self._finish_open_step()
        autosaver = self.autosaver

        def fold_everything(stop: StopFlag):
            yield Progress(0, 1, "Saving every edit into the project...")
            if autosaver is not None:
                autosaver.fold()

        return fold_everything

    def _finish_open_step(self) -> None:
        """A stroke still held down (a key switched image mid-drag) becomes a step of its own,
        so the journal gets it before the fold."""
        if self.document is not None and self.document.in_step:
            self.document.end_step()

    # ----- review ----------------------------------------------------------------------------
    def next_unreviewed(self) -> int | None:
        return review.next_unreviewed(self.require_project(), self.image_id)

    def most_uncertain(self) -> int | None:
        return review.next_most_uncertain(self.require_project(), self.image_id)

    def review_counts(self) -> tuple[int, int]:
        return review.review_counts(self.require_project())

    def mark_done(self) -> None:
        """Accept the remaining proposals and mark the image done: one undoable step."""
        if self.document is None:
            return
        self._finish_open_step()
        old = self.project.image(self.document.image_id).status
        before = self._undoable
        self.document.accept_proposals()
        self._change_status(Status.DONE, old=old, with_step=self._undoable > before)

    def set_status(self, status: Status, reason: str = "") -> None:
        """Set the open image back to new or in progress, or skip it (with a reason): undoable."""
        if self.document is not None:
            self._finish_open_step()
            self._change_status(Status(status), old=self.project.image(self.document.image_id).status, reason=reason)

    def skip(self, reason: str) -> None:
        self.set_status(Status.SKIPPED, reason)

    def skip_reason(self, image_id: int) -> str:
        return review.skip_reason(self.require_project(), image_id)

    def _change_status(self, new: Status, *, old: Status, reason: str = "", with_step: bool = False) -> None:
        image_id = self.document.image_id
        self._status_undo.append(_StatusStep(image_id, self.document, self._undoable, old, new, reason, with_step))
        self._status_redo.clear()
        self._write_status(image_id, old, new, reason)

    def _write_status(self, image_id: int, old: Status, new: Status, reason: str = "") -> None:
        self.project.set_status(image_id, new)
        self.project.log_event(review.STATUS_EVENT, image_id, status=new.value, reason=reason)
        self._emit(ev.StatusChanged(image_id, old, new, reason))

    # ----- undo ------------------------------------------------------------------------------
    # The history view follows the document's own undo history, never a copy kept beside it:
    # the memory cap drops the oldest steps, and a step too big to keep clears them all.
    @property
    def can_undo(self) -> bool:
        """Something to undo here, or a step of the previous image to go back to."""
        if self.document is None:
            return False
        kept = self._kept.document if self._kept is not None else None
        return self.document.can_undo or any(s.document in (self.document, kept) for s in self._status_undo)

    @property
    def can_redo(self) -> bool:
        return self.document is not None and (self.document.can_redo or bool(self._status_redo))

    def undo(self) -> None:
        if self.document is None:
            return
        step = self._status_undo[-1] if self._status_undo else None
        if step is not None and step.document is self.document and step.depth == self._undoable:
            self._status_undo.pop()
            self._status_redo.append(step)
            if step.with_step:
                self._replay(self.document.undo)
            self._write_status(step.image_id, step.new, step.old)
        elif self.document.can_undo:
            self._replay(self.document.undo)
        elif step is not None and self._kept is not None and step.document is self._kept.document:
            kept = self._kept
            self._switch(kept.image, kept.document)  # back to the previous image, its history intact
            self.undo()

    def redo(self) -> None:
        if self.document is None:
            return
        step = self._status_redo[-1] if self._status_redo else None
        if step is not None and step.document is self.document and step.depth == self._undoable + step.with_step:
            self._status_redo.pop()
            self._status_undo.append(step)
            if step.with_step:
                self._replay(self.document.redo)
            self._write_status(step.image_id, step.old, step.new, step.reason)
        elif self.document.can_redo:
            self._replay(self.document.redo)

    def go_to_step(self, done: int) -> None:
        """Undo or redo until `done` of the kept steps are applied."""
        document = self.document
        while self.document is document and document is not None and self._undoable > done and document.can_undo:
            self.undo()
        while self.document is document and document is not None and self._undoable < done and document.can_redo:
            self.redo()

    def _replay(self, action) -> None:
        self._replaying = True
        try:
            action()
        finally:
            self._replaying = False
        self._publish_history()

    def _on_commit(self, box, label_patch, source_patch) -> None:
        if self._replaying:
            return
        if len(self.document.history_names[0]) <= self._undoable:
            self._trimmed = True  # the new step pushed older ones out
        self._status_redo = [s for s in self._status_redo if s.document is not self.document]
        self._publish_history()
        image_id = self.document.image_id
        if self.project.image(image_id).status == Status.NEW:
            self._write_status(image_id, Status.NEW, Status.IN_PROGRESS)

    def _publish_history(self) -> None:
        undoable, redoable = self.document.history_names if self.document is not None else ([], [])
        self._undoable = len(undoable)
        self._emit(ev.HistoryChanged(tuple(undoable + redoable), len(undoable), self._trimmed))

    # ----- classes and settings --------------------------------------------------------------
    def class_usage(self, class_id: int) -> tuple[int, int]:
        """(labelled pixels, images holding any) of a class, every edit included: folds first."""
        self.save()
        return review.class_usage(self.require_project(), class_id)

    def remove_class(self, class_id: int) -> None:
        """Remove a class: its pixels become unlabelled, higher ids move down.

        Every edit is folded first, because journal records carry the old class ids. The open
        image is then read again from the rewritten masks; its undo history goes with the old ids.
        """
        self.save()
        self.require_project().remove_class(class_id)
        self._emit(ev.ClassesChanged())
        self.reload()

    def edit_classes(self, change: Callable[[Project], Any]) -> Any:
        """Add, rename, recolour or reorder classes (`change(project)`), then tell listeners."""
        result = change(self.require_project())
        self._emit(ev.ClassesChanged())
        return result

    def setting(self, key: str, default: Any = None) -> Any:
        return self.require_project().get_setting(key, default)

    def set_setting(self, key: str, value: Any) -> None:
        self.require_project().set_setting(key, value)
        self._emit(ev.SettingChanged(key, value))
