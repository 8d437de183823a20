"""The open project, the current image's document and its autosave: where work is kept safe.

The window asks the session to open, switch and close; the session does it in an order that
never drops an edit: the next image is read (in a worker thread, journal included) before
anything changes, the previous one's edits are in the journal before the switch, and a failed
journal write keeps the person on the image whose edits are still only in memory. The autosaver
runs on its own thread, so folding a 16k mask into labels/ (seconds) never stalls the window;
closing folds everything. Errors are raised as SegStudioError (or sent as `load_failed`, or as
an "error: ..." autosave state) for the window to show; the session never shows dialogs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal

from segstudio.core.errors import SegStudioError
from segstudio.core.progress import Progress, StopFlag, drive
from segstudio.gui.state import AppState
from segstudio.gui.workers import GeneratorWorker

BACKGROUND_READ_PIXELS = 16 * 2**20  # images from 16 megapixels on are read in a worker thread


class Session(QObject):
    autosave_state = Signal(str)  # "saved", "pending", "saving", "error: ..."
    loading_changed = Signal(object)  # id of the image being read, or None when done
    load_failed = Signal(str)  # why an image could not be opened (the previous one stays)
    history_changed = Signal(list, int, bool)  # step names of this image, how many are done, older ones dropped
    document_replaced = Signal(object)  # the new MaskDocument (or None)
    _saver_state_changed = Signal()  # emitted on the autosaver's thread; delivered on ours

    def __init__(self, state: AppState, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.autosaver = None
        self.image = None  # segstudio.core.imageio.LoadedImage of the current image
        self._undoable = 0  # undoable steps at the last look, to notice the memory cap dropping some
        self._history_trimmed = False
        self._replaying = False
        self._loading_id: int | None = None
        self._workers: list[GeneratorWorker] = []
        self._shown_state: str | None = None
        self._saver_state_changed.connect(self._relay_autosave_state, Qt.ConnectionType.QueuedConnection)

    @property
    def project(self):
        return self.state.project

    @property
    def document(self):
        return self.state.document

    # ----- project ---------------------------------------------------------------------------
    def create_project(self, root: Path, image_folder: Path | None = None) -> str:
        """Create a project in `root`, open it, add the images of `image_folder`; returns a summary."""
        from segstudio.core.project import Project

        self.close_project()
        Project.create(root).close()
        self.open_project(root)
        if image_folder is None:
            return ""
        return self.add_images([image_folder])

    def open_project(self, root: Path) -> str:
        """Open a project; returns what crash recovery restored ("" when nothing)."""
        from segstudio.core.autosave import Autosaver, recover
        from segstudio.core.project import Project

        self.close_project()
        project = Project.open(root)
        report = recover(project)
        self.state.project = project
        self.autosaver = Autosaver(project)
        self.autosaver.add_state_listener(lambda _state: self._saver_state_changed.emit())
        self.autosaver.start()
        self.state.project_opened.emit(project)
        self._relay_autosave_state()
        return report.summary()

    def close_project(self) -> None:
        """Fold every edit into the project and close it. SaveError leaves it open."""
        if self.project is None:
            return
        self._loading_id = None
        self.wait_for_loading()
        self._finish_open_step()
        try:
            self.autosaver.close()  # stops its thread, then folds every image here
        except Exception:
            self.autosaver.start()  # still open: keep saving in the background
            raise
        project = self.project
        self.autosaver = None
        self._shown_state = None
        self.image = None
        self.state.document = None
        self.state.image_id = None
        self.state.project = None
        self._history_trimmed = False
        self._publish_history()
        self.document_replaced.emit(None)
        self.state.image_changed.emit(None)
        self.state.project_closed.emit()  # panels stop their background work while it is still open
        project.close()

    def add_images(self, paths: list[Path]) -> str:
        report = self.project.add_images(paths)
        self.state.images_changed.emit()
        return report.summary()

    # ----- images ----------------------------------------------------------------------------
    @property
    def loading(self) -> int | None:
        """Id of the image being read in the background, or None."""
        return self._loading_id

    def load_image(self, image_id: int) -> None:
        """Show another image; big ones are read in a worker thread and shown once read.

        Decoding a 16k image takes seconds; meanwhile the window stays usable (painting on the
        current image included), and a newer request supersedes an older one. Smaller images
        are read at once, which is quicker than a thread hop. On ImageReadError or SaveError
        nothing changes and `load_failed` says why.
        """
        if image_id == self.state.image_id and self._loading_id is None:
            return
        record = self.project.image(image_id)
        read = _mask_and_image_reader(self.project, self.autosaver, image_id)
        self._loading_id = image_id
        if record.width * record.height < BACKGROUND_READ_PIXELS:
            try:
                result = drive(read(StopFlag()))
            except Exception as exc:  # noqa: BLE001 - reported like a failed background read
                self._load_error(exc)
                return
            self._loaded(result)
            return
        worker = GeneratorWorker(read, name="load-image", parent=self)
        worker.yielded.connect(self._show_progress)
        worker.returned.connect(self._loaded)
        worker.failed.connect(self._load_error)
        worker.finished.connect(self._forget_finished_workers)
        self._workers.append(worker)
        self.loading_changed.emit(image_id)
        worker.start()

    def wait_for_loading(self, msecs: int = 30_000) -> None:
        """Block until every image read and background save has finished (closing, tests)."""
        for worker in list(self._workers):
            worker.wait(msecs)
        QCoreApplication.sendPostedEvents()

    def _show_progress(self, progress: Progress) -> None:
        self.state.message.emit(progress.message)

    def _loaded(self, result) -> None:
        image_id, loaded, label, source = result
        if image_id != self._loading_id or self.project is None:
            return  # superseded by a newer request, or the project closed meanwhile
        self._loading_id = None
        try:
            self._switch(image_id, loaded, label, source)
        except SegStudioError as exc:
            self.load_failed.emit(str(exc))
        finally:
            self.loading_changed.emit(None)

    def _load_error(self, exc: Exception) -> None:
        self._loading_id = None
        self.loading_changed.emit(None)
        message = str(exc) if isinstance(exc, SegStudioError) else f"Could not open the image: {exc!r}"
        self.load_failed.emit(message)

    def _forget_finished_workers(self) -> None:
        self._workers = [w for w in self._workers if w.is_running()]

    def _switch(self, image_id: int, loaded, label, source) -> None:
        from segstudio.core.document import MaskDocument

        document = MaskDocument(image_id, label, source)
        self._finish_open_step()
        # The previous image's edits reach the journal first (SaveError stops here); the
        # autosaver's thread folds them into labels/ later.
        self.autosaver.set_document(document, fold_previous=False)
        document.add_commit_listener(self._on_commit)
        self.image = loaded
        self.state.document = document
        self.state.image_id = image_id
        self._history_trimmed = False
        self._publish_history()
        self.document_replaced.emit(document)
        self.state.image_changed.emit(image_id)

    def save(self) -> None:
        """Write every edit into labels/ now, before returning (export, class removal); raises SaveError."""
        if self.autosaver is not None:
            self._finish_open_step()
            self.autosaver.fold()

    def save_in_background(self) -> None:
        """ctrl+s: the same on a worker thread, since folding a 16k mask takes seconds. The
        autosave state shows the progress; the status bar or the error bar says how it ended."""
        if self.autosaver is None:
            return
        self._finish_open_step()
        autosaver = self.autosaver

        def fold_everything(stop: StopFlag):
            yield Progress(0, 1, "Saving every edit into the project...")
            autosaver.fold()

        worker = GeneratorWorker(fold_everything, name="save", parent=self)
        worker.yielded.connect(self._show_progress)
        worker.returned.connect(lambda _result: self.state.message.emit("Saved into the project."))
        worker.failed.connect(lambda exc: self.state.error.emit(f"Could not save: {exc}"))
        worker.finished.connect(self._forget_finished_workers)
        self._workers.append(worker)
        worker.start()

    def _finish_open_step(self) -> None:
        """A stroke still held down (a key switched image mid-drag) becomes a step of its own,
        so the journal gets it before the fold."""
        if self.document is not None and self.document.in_step:
            self.document.end_step()

    def class_usage(self, class_id: int) -> tuple[int, int]:
        """(labelled pixels, images holding any) of a class, every edit included: folds first."""
        self.save()
        pixels = images = 0
        for record in self.project.images():
            if self.project.has_masks(record.id):
                count = int(np.count_nonzero(self.project.read_label(record.id) == class_id))
                pixels += count
                images += count > 0
        return pixels, images

    def remove_class(self, class_id: int) -> None:
        """Remove a class from the project: its pixels become unlabelled, higher ids move down.

        Every edit is folded first, because journal records carry the old class ids. The open
        image is then reopened from the rewritten masks; its undo history goes with the old ids.
        """
        self.save()
        self.project.remove_class(class_id)
        if self.document is not None:
            image_id = self.state.image_id
            self._switch(image_id, self.image, *self.autosaver.read_masks(image_id))

    def mark_done(self) -> None:
        """Accept the remaining proposals (one undoable step) and mark the image done."""
        from segstudio.core.project import Status

        if self.document is None:
            return
        self._finish_open_step()
        self.document.accept_proposals()
        self.project.set_status(self.state.image_id, Status.DONE)
        self.state.images_changed.emit()

    # ----- undo ------------------------------------------------------------------------------
    # The history view follows the document's own undo history, never a copy kept beside it:
    # the memory cap drops the oldest steps, and a step too big to keep clears them all.
    def undo(self) -> None:
        if self.document is not None:
            self._replay(self.document.undo)

    def redo(self) -> None:
        if self.document is not None:
            self._replay(self.document.redo)

    def go_to_step(self, done: int) -> None:
        """Undo or redo until `done` of the kept steps are applied."""
        while self.document is not None and self._undoable > done and self.document.can_undo:
            self.undo()
        while self.document is not None and self._undoable < done and self.document.can_redo:
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
            self._history_trimmed = True  # the new step pushed older ones out
        self._publish_history()
        self._mark_in_progress()

    def _mark_in_progress(self) -> None:
        from segstudio.core.project import Status

        image_id = self.state.image_id
        if image_id is not None and self.project.image(image_id).status == Status.NEW:
            self.project.set_status(image_id, Status.IN_PROGRESS)
            self.state.images_changed.emit()

    def _publish_history(self) -> None:
        undoable, redoable = self.document.history_names if self.document is not None else ([], [])
        self._undoable = len(undoable)
        self.history_changed.emit(undoable + redoable, len(undoable), self._history_trimmed)

    def _relay_autosave_state(self) -> None:
        """Show the autosaver's latest state: the listener may run on its thread, so the state
        is read here, on the GUI thread, which also keeps late deliveries from going backwards."""
        if self.autosaver is not None and self.autosaver.state != self._shown_state:
            self._shown_state = self.autosaver.state
            self.autosave_state.emit(self._shown_state)


def _mask_and_image_reader(project, autosaver, image_id: int):
    """A work generator (see segstudio.core.progress) that reads an image and its masks side by
    side, with the edits still waiting in the journal for a fold."""

    def read(stop: StopFlag):
        from segstudio.core.project.opening import open_for_editing

        yield Progress(0, 1, f"Opening {project.image(image_id).name}...")
        opened = open_for_editing(project, image_id, autosaver.read_masks)
        return image_id, opened.image, opened.label, opened.source

    return read
