"""The window's adapter to the Qt-free `Workspace`: its events become Qt signals, its jobs run on threads.

Every rule about the project, the open image, review and classes lives in
segstudio.core.workspace; this module only mirrors the workspace into the shared `AppState`,
re-emits its typed events as signals, and reads big images on a worker thread (images from
16 megapixels on take seconds to decode, and the window stays usable meanwhile; a newer request
supersedes an older one). Errors are raised as SegStudioError (or sent as `load_failed`) for
the window to show; the session never shows dialogs. Code outside the window that wants to
follow the open image (a live re-proposal after each stroke, say) subscribes to
`session.workspace` directly.
"""

from __future__ import annotations

import weakref
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal

from segstudio.core.autosave import SaveStatus
from segstudio.core.errors import SegStudioError
from segstudio.core.progress import Progress
from segstudio.core.workspace import Workspace
from segstudio.core.workspace import events as ev
from segstudio.gui.state import AppState
from segstudio.gui.workers import GeneratorWorker

BACKGROUND_READ_PIXELS = 16 * 2**20  # images from 16 megapixels on are read in a worker thread


class Session(QObject):
    autosave_state = Signal(object)  # segstudio.core.autosave.SaveStatus
    loading_changed = Signal(object)  # id of the image being read, or None when done
    load_failed = Signal(str)  # why an image could not be opened (the previous one stays)
    history_changed = Signal(list, int, bool)  # step names of this image, how many are done, older ones dropped
    document_replaced = Signal(object)  # the new MaskDocument (or None)
    status_changed = Signal(object)  # segstudio.core.workspace.StatusChanged
    _save_status_posted = Signal()  # emitted on the autosaver's thread; delivered on ours

    def __init__(self, state: AppState, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.workspace = Workspace()
        # Through a weak method: session -> workspace -> session would be a cycle with a Qt
        # object in it, freed by the cycle collector on any thread (see review_controls).
        relay = weakref.WeakMethod(self._relay)
        self.workspace.subscribe(lambda event: relay() is not None and relay()(event))
        self._loading_id: int | None = None
        self._workers: list[GeneratorWorker] = []
        self._shown_status: SaveStatus | None = None
        self._save_status_posted.connect(self._relay_save_status, Qt.ConnectionType.QueuedConnection)

    @property
    def project(self):
        return self.workspace.project

    @property
    def document(self):
        return self.workspace.document

    @property
    def image(self):
        """segstudio.core.imageio.LoadedImage of the current image."""
        return self.workspace.image

    # ----- events to signals -----------------------------------------------------------------
    def _relay(self, event: ev.WorkspaceEvent) -> None:
        if isinstance(event, ev.SaveStatusChanged):
            self._save_status_posted.emit()  # may run on the autosaver's thread: no state touched here
            return
        state, workspace = self.state, self.workspace
        state.project, state.document, state.image_id = workspace.project, workspace.document, workspace.image_id
        if isinstance(event, ev.ProjectOpened):
            state.project_opened.emit(event.project)
            self._relay_save_status()
        elif isinstance(event, ev.ProjectClosed):
            self._shown_status = None
            state.project_closed.emit()
        elif isinstance(event, ev.DocumentReplaced):
            self.document_replaced.emit(event.document)
            state.image_changed.emit(event.image_id)
        elif isinstance(event, ev.HistoryChanged):
            self.history_changed.emit(list(event.steps), event.done, event.trimmed)
        elif isinstance(event, ev.StatusChanged):
            self.status_changed.emit(event)
            state.image_updated.emit(event.image_id)  # one row of the list, not the whole list
        elif isinstance(event, ev.ImagesChanged):
            state.images_changed.emit()
        elif isinstance(event, ev.ClassesChanged):
            state.classes_changed.emit()

    def _relay_save_status(self) -> None:
        """Show the autosaver's latest status: read here, on the GUI thread, which also keeps
        late deliveries from going backwards."""
        autosaver = self.workspace.autosaver
        if autosaver is not None and autosaver.state != self._shown_status:
            self._shown_status = autosaver.state
            self.autosave_state.emit(self._shown_status)

    # ----- project ---------------------------------------------------------------------------
    def create_project(self, root: Path, images: list[Path] = (), classes: list[str] | None = None) -> str:
        """Create a project in `root` with `images` (files and folders), then open it; returns a
        summary of the images added ("" without images). A failure leaves the open project open."""
        self._stop_loading()
        report = self.workspace.create(root, classes, list(images))
        return report.summary() if images else ""

    def open_project(self, root: Path) -> str:
        """Open a project; returns what crash recovery restored ("" when nothing)."""
        self._stop_loading()
        return self.workspace.open(root)

    def close_project(self) -> None:
        """Fold every edit into the project and close it. SaveError leaves it open."""
        self._stop_loading()
        self.workspace.close()

    # ----- images ----------------------------------------------------------------------------
    @property
    def loading(self) -> int | None:
        """Id of the image being read in the background, or None."""
        return self._loading_id

    def load_image(self, image_id: int) -> None:
        """Show another image; big ones are read in a worker thread and shown once read.

        Smaller images are read at once, which is quicker than a thread hop. On ImageReadError
        or SaveError nothing changes and `load_failed` says why.
        """
        if image_id == self.workspace.image_id and self._loading_id is None:
            return
        record = self.workspace.require_project().image(image_id)
        self._loading_id = image_id
        if record.width * record.height < BACKGROUND_READ_PIXELS:
            try:
                self.workspace.open_image(image_id)
            except Exception as exc:  # noqa: BLE001 - reported like a failed background read
                self._load_error(exc)
            else:
                self._loading_id = None
            return
        worker = GeneratorWorker(self.workspace.read_job(image_id), name="load-image", parent=self)
        worker.yielded.connect(self._show_progress)
        worker.returned.connect(self._loaded)
        worker.failed.connect(self._load_error)
        self._run(worker)
        self.loading_changed.emit(image_id)

    def _run(self, worker: GeneratorWorker) -> None:
        worker.finished.connect(self._forget_finished_workers)
        self._workers.append(worker)
        worker.start()

    def _stop_loading(self) -> None:
        self._loading_id = None
        self.wait_for_loading()

    def wait_for_loading(self, msecs: int = 30_000) -> None:
        """Block until every image read and background save has finished (closing, tests)."""
        for worker in list(self._workers):
            worker.wait(msecs)
        QCoreApplication.sendPostedEvents()

    def _show_progress(self, progress: Progress) -> None:
        self.state.message.emit(progress.message)

    def _loaded(self, opened) -> None:
        if opened.image_id != self._loading_id or self.project is None:
            return  # superseded by a newer request, or the project closed meanwhile
        self._loading_id = None
        try:
            self.workspace.show(opened)
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

    def save(self) -> None:
        """Write every edit into labels/ now, before returning (export, class removal); raises SaveError."""
        self.workspace.save()

    def save_in_background(self) -> None:
        """ctrl+s: the same on a worker thread, since folding a 16k mask takes seconds. The
        autosave state shows the progress; the status bar or the error bar says how it ended."""
        if self.workspace.autosaver is None:
            return
        worker = GeneratorWorker(self.workspace.save_job(), name="save", parent=self)
        worker.yielded.connect(self._show_progress)
        worker.returned.connect(lambda _result: self.state.message.emit("Saved into the project."))
        worker.failed.connect(lambda exc: self.state.error.emit(f"Could not save: {exc}"))
        self._run(worker)

    # ----- undo: the workspace's, for the window's actions -------------------------------------
    def undo(self) -> None:
        self.workspace.undo()

    def redo(self) -> None:
        self.workspace.redo()

    def go_to_step(self, done: int) -> None:
        self.workspace.go_to_step(done)
