"""The open project, the current image's document and its autosave: where work is kept safe.

The window asks the session to open, switch and close; the session does it in an order that
never drops an edit: the next image is read before anything changes, the previous one is
folded into labels/ before the switch, and a failed save keeps the person on the image whose
edits are still only in the journal or in memory. Errors are raised as SegStudioError for the
window to show; the session itself never shows dialogs.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from segstudio.gui.state import AppState

AUTOSAVE_TICK_MS = 200


class Session(QObject):
    autosave_state = Signal(str)  # "saved", "pending", "saving", "error: ..."
    history_changed = Signal(list, int)  # step names of this image, how many are done
    document_replaced = Signal(object)  # the new MaskDocument (or None)

    def __init__(self, state: AppState, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.autosaver = None
        self.image = None  # segstudio.core.imageio.LoadedImage of the current image
        self._steps: list[str] = []
        self._done = 0
        self._replaying = False
        self._timer = QTimer(self)
        self._timer.setInterval(AUTOSAVE_TICK_MS)
        self._timer.timeout.connect(self._tick)

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
        self.autosaver.add_state_listener(self.autosave_state.emit)
        self._timer.start()
        self.state.project_opened.emit(project)
        self.autosave_state.emit(self.autosaver.state)
        return report.summary()

    def close_project(self) -> None:
        """Fold every edit into the project and close it. SaveError leaves it open."""
        if self.project is None:
            return
        self._timer.stop()
        try:
            self.autosaver.close()
        except Exception:
            self._timer.start()
            raise
        project = self.project
        self.autosaver = None
        self.image = None
        self.state.document = None
        self.state.image_id = None
        self.state.project = None
        self._set_history([], 0)
        project.close()
        self.document_replaced.emit(None)
        self.state.image_changed.emit(None)
        self.state.project_closed.emit()

    def add_images(self, paths: list[Path]) -> str:
        report = self.project.add_images(paths)
        self.state.images_changed.emit()
        return report.summary()

    # ----- images ----------------------------------------------------------------------------
    def load_image(self, image_id: int) -> None:
        """Show another image. On ImageReadError or SaveError nothing changes."""
        from segstudio.core.document import MaskDocument
        from segstudio.core.imageio import read_image

        if image_id == self.state.image_id:
            return
        record = self.project.image(image_id)
        loaded = read_image(record.path)
        document = MaskDocument(image_id, self.project.read_label(image_id), self.project.read_source(image_id))
        self.autosaver.set_document(document)  # folds the previous image first
        document.add_commit_listener(self._on_commit)
        self.image = loaded
        self.state.document = document
        self.state.image_id = image_id
        self._set_history([], 0)
        self.document_replaced.emit(document)
        self.state.image_changed.emit(image_id)

    def save(self) -> None:
        """Write every edit into labels/ now (ctrl+s); raises SaveError."""
        if self.autosaver is not None:
            self.autosaver.fold()

    def mark_done(self) -> None:
        """Accept the remaining proposals (one undoable step) and mark the image done."""
        from segstudio.core.project import Status

        if self.document is None:
            return
        self.document.accept_proposals()
        self.project.set_status(self.state.image_id, Status.DONE)
        self.state.images_changed.emit()

    # ----- undo ------------------------------------------------------------------------------
    def undo(self) -> None:
        self._replay(self.document.undo if self.document else None, -1)

    def redo(self) -> None:
        self._replay(self.document.redo if self.document else None, +1)

    def go_to_step(self, done: int) -> None:
        """Undo or redo until `done` steps of the history view are applied."""
        while self.document is not None and self._done > done and self.document.can_undo:
            self.undo()
        while self.document is not None and self._done < done and self.document.can_redo:
            self.redo()

    def _replay(self, action, direction: int) -> None:
        if action is None:
            return
        self._replaying = True
        try:
            box = action()
        finally:
            self._replaying = False
        if box is not None:
            self._set_history(self._steps, max(0, min(len(self._steps), self._done + direction)))

    def _on_commit(self, box, label_patch, source_patch) -> None:
        if self._replaying:
            return
        steps = self._steps[: self._done] + [self.document.undo_name or "edit"]
        self._set_history(steps, len(steps))
        self._mark_in_progress()

    def _mark_in_progress(self) -> None:
        from segstudio.core.project import Status

        image_id = self.state.image_id
        if image_id is not None and self.project.image(image_id).status == Status.NEW:
            self.project.set_status(image_id, Status.IN_PROGRESS)
            self.state.images_changed.emit()

    def _set_history(self, steps: list[str], done: int) -> None:
        self._steps, self._done = list(steps), done
        self.history_changed.emit(self._steps, done)

    def _tick(self) -> None:
        if self.autosaver is not None:
            self.autosaver.tick()
