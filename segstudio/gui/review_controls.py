"""The person's control of the review: done, back to new or in progress, skip with a reason,
where to go next, and what is shown about it (done / total, the class being painted).

Every status change is a workspace step, so Ctrl+Z takes it back (after a move to the next
image too: undo returns to the image just marked done). Marking done is Ctrl+Enter, a chord
no one presses by accident; D moves to the next image as in labelme. The right-click menus of
the canvas and the image list offer the same actions.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QInputDialog, QLabel, QMenu, QWidget

from segstudio.core.project import Status

if TYPE_CHECKING:
    from segstudio.gui.main_window import MainWindow

SKIP_REASONS = ("out of focus", "nothing to label", "duplicate", "unsure: ask someone")


class CurrentClass(QWidget):
    """A swatch and the name of the class the brush paints, in the status bar."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.swatch = QLabel()
        self.name = QLabel()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.swatch)
        layout.addWidget(self.name)
        self.setToolTip("The class the brush, fill and polygon paint (keys 1-9, 0; Alt+click picks)")

    def show_class(self, name: str, color: tuple[int, int, int] | None) -> None:
        pixmap = QPixmap(12, 12)
        pixmap.fill(QColor(*color) if color is not None else Qt.GlobalColor.transparent)
        self.swatch.setPixmap(pixmap)
        self.name.setText(f"Painting: <b>{name}</b>" if name else "")


class ReviewControls:
    def __init__(self, window: MainWindow):
        # A proxy, not a reference: window.review -> self -> window would be a cycle that only
        # Python's cycle collector frees, on whatever thread runs it, and a Qt window freed on a
        # worker thread deadlocks (seen in the 20-run loop: the model loader's thread collected it).
        self.window = weakref.proxy(window)
        self.workspace = window.session.workspace
        self.counter = QLabel()
        self.counter.setToolTip("Images marked done / all images of the project")
        self.current_class = CurrentClass()
        window.status.insert_field(0, self.current_class)
        window.status.insert_field(1, self.counter)
        a, state = window.actions, window.state
        a.done.triggered.connect(self.mark_done)
        a.skip.triggered.connect(lambda: self.skip())
        a.set_in_progress.triggered.connect(lambda: self.set_status(Status.IN_PROGRESS))
        a.set_new.triggered.connect(lambda: self.set_status(Status.NEW))
        window.session.status_changed.connect(lambda _event: window._update_enabled())  # undo can take it back
        for signal in (state.images_changed, state.image_updated, state.project_opened, state.project_closed):
            signal.connect(self.show_counts)
        # A review step is new training data for the instant tier: its round waits for a pause,
        # as it did when every status change reloaded the whole list (images_changed).
        round_timer = window.instant_jobs.round_timer  # not the window: no cycle through it (above)
        state.image_updated.connect(lambda _image_id: round_timer.start())
        for signal in (state.current_class_changed, state.classes_changed, state.project_opened, state.project_closed):
            signal.connect(self.show_current_class)
        window.canvas.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        window.canvas.customContextMenuRequested.connect(self._canvas_menu)
        view = window.image_list.view
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._list_menu)

    # ----- actions ---------------------------------------------------------------------------
    def mark_done(self) -> None:
        window = self.window
        ok, _ = window._guarded(self.workspace.mark_done)
        if ok and self.workspace.image_id is not None:
            name = self.workspace.project.image(self.workspace.image_id).name
            window.go_to_next(self.workspace.next_unreviewed)
            window.status.showMessage(f"{name} is done. Ctrl+Z takes it back.", 5000)

    def set_status(self, status: Status, reason: str = "") -> None:
        window = self.window
        ok, _ = window._guarded(lambda: self.workspace.set_status(status, reason))
        if ok and self.workspace.image_id is not None:
            name = self.workspace.project.image(self.workspace.image_id).name
            said = {Status.NEW: "new again", Status.IN_PROGRESS: "in progress again"}.get(status, f"skipped ({reason})")
            window.status.showMessage(f"{name} is {said}.", 5000)

    def skip(self, reason: str | None = None) -> None:
        """Skip the open image; without a reason given, ask for one (a few common ones offered)."""
        if self.workspace.document is None:
            return
        if reason is None:
            reason, ok = QInputDialog.getItem(self.window.window(), "Skip image", "Why is this image skipped?",
                                              SKIP_REASONS, 0, True)
            if not ok:
                return
        self.set_status(Status.SKIPPED, reason.strip() or "no reason given")
        self.window.go_to_next(self.workspace.next_unreviewed)

    # ----- what is shown ---------------------------------------------------------------------
    def show_counts(self, *_) -> None:
        if self.workspace.project is None:
            self.counter.setText("")
            return
        done, total = self.workspace.review_counts()
        self.counter.setText(f"{done} / {total} done")

    def show_current_class(self, *_) -> None:
        project = self.workspace.project
        classes = {c.id: c for c in project.classes()} if project is not None else {}
        current = classes.get(self.window.state.current_class)
        self.current_class.show_class(current.name if current else "", tuple(current.color) if current else None)

    # ----- right-click menus -----------------------------------------------------------------
    def review_menu(self, menu: QMenu) -> None:
        a = self.window.actions
        for action in (a.done, a.skip, a.set_in_progress, a.set_new):
            menu.addAction(action)

    def _canvas_menu(self, pos: QPoint) -> None:
        if self.workspace.document is None:
            return
        a = self.window.actions
        menu = QMenu(self.window.window())
        for action in (a.undo, a.redo, None, a.accept_all, a.clear, None):
            menu.addAction(action) if action is not None else menu.addSeparator()
        self.review_menu(menu)
        menu.addSeparator()
        menu.addAction(a.fit)
        menu.popup(self.window.canvas.mapToGlobal(pos))
        self.window.context_menu = menu  # kept for tests and so it is not collected while shown

    def _list_menu(self, pos: QPoint) -> None:
        view = self.window.image_list.view
        index = view.indexAt(pos)
        if not index.isValid():
            return
        record = self.window.image_list.model.records[index.row()]
        menu = QMenu(self.window.window())
        menu.addAction(f"Open {record.name}", lambda: self.window.go_to(record.id))
        if record.id == self.workspace.image_id:
            menu.addSeparator()
            self.review_menu(menu)
        reason = self.workspace.skip_reason(record.id)
        if reason:
            menu.addSeparator()
            menu.addAction(f"Skipped: {reason}").setEnabled(False)
        menu.popup(view.viewport().mapToGlobal(pos))
        self.window.context_menu = menu
