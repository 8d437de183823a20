"""The main window: arranges the panels and connects the actions to the session and canvas.

It owns no editing logic: the session keeps the project and the document safe, the canvas
draws, `ToolInput` turns mouse input into core tool events, and the docks each watch the
shared `AppState`. Panels of other areas (model, training, exchange, about) are imported
lazily by `optional_panels`, so a missing or broken one never stops the window from opening.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDockWidget, QFileDialog, QLabel, QMainWindow, QSlider, QSpinBox, QStackedWidget, QVBoxLayout, QWidget,
)

from segstudio.core.errors import SegStudioError
from segstudio.core.workspace import demo
from segstudio.gui import drops, optional_panels, review, window_settings
from segstudio.gui.canvas.contrast import Contrast
from segstudio.gui.canvas.tool_input import ToolInput
from segstudio.gui.canvas.view import CanvasView
from segstudio.gui.class_panel import ClassPanel
from segstudio.gui.demo_tour import TOUR_OBJECT_NAME
from segstudio.gui.history_view import HistoryView
from segstudio.gui.image_list import ImageListPanel
from segstudio.gui.message_bar import MessageBar
from segstudio.gui.new_project_dialog import open_new_project_dialog
from segstudio.gui.review_controls import ReviewControls
from segstudio.gui.live_refresh import InstantJobs
from segstudio.gui.session import Session
from segstudio.gui.settings_dialog import install_settings
from segstudio.gui.shortcuts_sheet import ShortcutsSheet
from segstudio.gui.state import AppState
from segstudio.gui.statusbar import StatusBar
from segstudio.gui.toolbar.actions import Actions
from segstudio.gui.welcome import WelcomePage, remember_project


class MainWindow(QMainWindow):
    panels_ready = Signal()  # the other areas' panels are in (`self.optional`), after the first paint

    def __init__(self, device: str | None = None):
        super().__init__()
        self.setObjectName("SegStudioMainWindow")
        self.setWindowTitle("SegStudio")
        self.setAcceptDrops(True)
        self.state = AppState(device, self)
        self.session = Session(self.state, self)
        self.instant_jobs = InstantJobs(self.state, self.session, self)  # live refresh and ladder rounds
        self.actions = Actions(self)
        self._close_refused = ""

        self.canvas = CanvasView()
        self.tools = ToolInput(self.state, self.canvas)
        self.canvas.tool_input = self.tools
        self.welcome = WelcomePage(demo.demo_available())
        self.pages = QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.canvas)
        self.message_bar = MessageBar()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.pages)
        self.setCentralWidget(central)

        self.image_list = ImageListPanel(self.state)
        self.class_panel = ClassPanel(self.state, self.session)
        self.history = HistoryView(self.session)
        self.docks = {
            "images": self._dock("Images", self.image_list, Qt.DockWidgetArea.LeftDockWidgetArea),
            "classes": self._dock("Classes", self.class_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            "history": self._dock("History", self.history, Qt.DockWidgetArea.RightDockWidgetArea),
        }
        self.status = StatusBar(self)
        self.status.addPermanentWidget(self.instant_jobs.badge)
        self.contrast = Contrast(self)  # display limits: a status-bar button, View > Contrast
        self.setStatusBar(self.status)
        self._build_toolbar()
        self._build_menus()
        self._connect()
        self.review = ReviewControls(self)
        install_settings(self)
        window_settings.restore(self)
        self._update_enabled()
        self._optional_pending = True  # the other areas' panels load after the first paint

    # ----- construction ----------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_toolbar(self) -> None:
        a = self.actions
        tools = self.addToolBar("Tools")
        tools.setObjectName("toolbar_tools")
        for action in a.tool_actions():
            tools.addAction(action)
        view = self.addToolBar("Brush and mask")
        view.setObjectName("toolbar_view")
        view.addWidget(QLabel(" Size "))
        self.brush_size = QSpinBox(minimum=1, maximum=500, value=self.tools.brush_size, toolTip="Brush size in image pixels ([ and ])")
        view.addWidget(self.brush_size)
        view.addWidget(QLabel(" Mask "))
        self.opacity = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, toolTip="Mask opacity")
        self.opacity.setValue(round(self.canvas.overlay_opacity * 100))
        self.opacity.setMaximumWidth(120)
        view.addWidget(self.opacity)
        for action in (a.toggle_overlay, a.toggle_outline, a.toggle_heatmap):
            view.addAction(action)
        self.addToolBarBreak()
        review = self.addToolBar("Review")
        review.setObjectName("toolbar_review")
        for action in (a.undo, a.redo, a.previous_image, a.done, a.next_image):
            review.addAction(action)

    def _build_menus(self) -> None:
        a = self.actions
        menus = self.menuBar()
        layout = {
            "&File": (a.new_project, a.open_project, a.add_images, None, a.save, a.close_project, None, a.quit),
            "&Edit": (a.undo, a.redo, None, a.accept_all, a.clear, None, a.brush_smaller, a.brush_larger, None, a.settings),
            "&View": (a.fit, a.one_to_one, a.zoom_in, a.zoom_out, None, a.toggle_overlay, a.toggle_outline, a.toggle_heatmap,
                      a.contrast),
            "&Tools": tuple(a.tool_actions()),
            "&Review": (a.done, a.skip, a.set_in_progress, a.set_new, None, a.next_image, a.previous_image,
                        a.next_unreviewed, a.next_uncertain),
        }
        self.menus = {}
        for title, items in layout.items():
            menu = self.menus[title] = menus.addMenu(title)
            for item in items:
                if item is None:
                    menu.addSeparator()
                else:
                    menu.addAction(item)
        file_items = self.menus["&File"].actions()
        self.menu_tails = {"&File": file_items[file_items.index(a.quit) - 1]}  # other areas' entries go above it
        self.menus["&View"].addSeparator()
        for dock in self.docks.values():
            self.menus["&View"].addAction(dock.toggleViewAction())
        self.menus["&Help"] = menus.addMenu("&Help")
        self.menus["&Help"].addAction(a.shortcuts)

    def _connect(self) -> None:
        a, s, c = self.actions, self.session, self.canvas
        a.new_project.triggered.connect(self.new_project_dialog)
        a.open_project.triggered.connect(self.open_project_dialog)
        a.add_images.triggered.connect(self.add_images_dialog)
        a.save.triggered.connect(s.save_in_background)
        a.close_project.triggered.connect(lambda: self._guarded(s.close_project))
        a.quit.triggered.connect(self.close)
        a.undo.triggered.connect(s.undo)
        a.redo.triggered.connect(s.redo)
        a.accept_all.triggered.connect(lambda: self._edit(lambda document: document.accept_proposals()))
        a.clear.triggered.connect(lambda: self._edit(lambda document: document.clear()))
        a.brush_smaller.triggered.connect(lambda: self.brush_size.setValue(review.next_brush_size(self.brush_size.value(), -1)))
        a.brush_larger.triggered.connect(lambda: self.brush_size.setValue(review.next_brush_size(self.brush_size.value(), +1)))
        c.brush_size_step.connect(lambda step: self.brush_size.setValue(review.next_brush_size(self.brush_size.value(), step)))
        self.brush_size.valueChanged.connect(self.tools.set_brush_size)
        a.fit.triggered.connect(c.fit)
        a.one_to_one.triggered.connect(c.one_to_one)
        a.zoom_in.triggered.connect(lambda: c.zoom_about(c.rect().center().toPointF(), 1.25))
        a.zoom_out.triggered.connect(lambda: c.zoom_about(c.rect().center().toPointF(), 0.8))
        a.toggle_overlay.toggled.connect(self._set_overlay_visible)
        a.toggle_outline.toggled.connect(c.set_outline)
        a.toggle_heatmap.toggled.connect(self._set_heatmap)
        self.opacity.valueChanged.connect(self._set_opacity)
        a.next_image.triggered.connect(lambda: self.go_to(self.image_list.neighbour(+1, self.session.loading)))
        a.previous_image.triggered.connect(lambda: self.go_to(self.image_list.neighbour(-1, self.session.loading)))
        a.next_unreviewed.triggered.connect(lambda: self.go_to_next(s.workspace.next_unreviewed))
        a.next_uncertain.triggered.connect(lambda: self.go_to_next(s.workspace.most_uncertain))
        a.shortcuts.triggered.connect(lambda: ShortcutsSheet(self).show())
        for spec_action in a.tool_actions():
            name = spec_action.objectName().removeprefix("tool_")
            spec_action.triggered.connect(lambda _=False, name=name: self.tools.set_tool(name))
        for key in range(10):
            shortcut = QShortcut(QKeySequence(str(key)), self)
            shortcut.activated.connect(lambda row=(key - 1) % 10: self.class_panel.select_row(row))
        QShortcut(QKeySequence(Qt.Key.Key_Return), self.canvas, self.tools.finish)
        QShortcut(QKeySequence(Qt.Key.Key_Enter), self.canvas, self.tools.finish)

        w = self.welcome
        w.open_demo.connect(self.open_demo)
        w.new_project.connect(self.new_project_dialog)
        w.open_project.connect(self.open_project_dialog)
        w.open_recent.connect(lambda path: self.open_project(Path(path)))
        self.image_list.image_chosen.connect(self.go_to)
        self.state.open_image_requested.connect(self.go_to)
        self.class_panel.visibility_changed.connect(self._palette_changed)
        self.state.classes_changed.connect(self._palette_changed)
        self.state.error.connect(lambda text: self.message_bar.show_message(text, "error"))
        self.state.message.connect(lambda text: self.status.showMessage(text, 5000))
        self.tools.class_picked.connect(self.class_panel.select_class)
        self.tools.notice.connect(self.message_bar.show_notice)
        s.document_replaced.connect(self._show_document)
        self.state.image_changed.connect(lambda image_id: window_settings.remember_image(self.state.project, image_id))
        s.autosave_state.connect(self.status.show_autosave)
        s.autosave_state.connect(self.message_bar.show_save_status)
        self.state.project_closed.connect(self._forget_project_view)
        s.loading_changed.connect(self._loading_changed)
        s.load_failed.connect(lambda text: self.message_bar.show_message(text, "error"))
        s.history_changed.connect(lambda *_: self._update_enabled())
        self.status.follow_cursor(self.state, s, c)
        c.zoom_changed.connect(self.status.show_zoom)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self._optional_pending:
            # They may import torch or pyqtgraph (a second or more): the window shows first.
            self._optional_pending = False
            QTimer.singleShot(0, self._install_optional_panels)
        return super().event(event)

    def _install_optional_panels(self) -> None:
        optional_panels.install(self)
        self.panels_ready.emit()

    # ----- project ---------------------------------------------------------------------------
    def _guarded(self, action, success: str = "") -> tuple[bool, object]:
        """Run an action; a SegStudioError becomes a message in the window and work goes on.

        Returns (True, the action's result), or (False, None) when it failed.
        """
        try:
            result = action()
        except SegStudioError as exc:
            self.message_bar.show_message(str(exc), "error")
            return False, None
        except OSError as exc:
            self.message_bar.show_message(f"{exc.strerror or exc}: {exc.filename or ''}", "error")
            return False, None
        if success:
            self.status.showMessage(success, 3000)
        self._update_enabled()
        return True, result

    def _edit(self, change) -> None:
        """A whole-image edit from a menu (accept all, clear) on the open document, if any."""
        if self.state.document is not None:
            self._guarded(lambda: change(self.state.document))

    def open_project(self, root: Path) -> bool:
        ok, notice = self._guarded(lambda: self.session.open_project(root))
        if ok:
            self._project_ready(root, notice)
        return ok

    def create_project(self, root: Path, image_folder: Path | None) -> bool:
        ok, notice = self._guarded(lambda: self.session.create_project(root, [image_folder] if image_folder else []))
        if ok:
            self._project_ready(root, notice)
        return ok

    def project_created(self, root: Path, notice: str) -> None:
        """The New Project dialog created and opened a project."""
        self._update_enabled()
        self._project_ready(root, notice)

    def _project_ready(self, root: Path, notice: str) -> None:
        remember_project(Path(root).absolute())
        self.welcome.refresh()
        self.setWindowTitle(f"{Path(root).name} - SegStudio")
        if notice:
            self.message_bar.show_message(notice, "info")
        self.pages.setCurrentWidget(self.canvas)
        first = window_settings.last_image(self.state.project) or self.image_list.neighbour(0)
        if first is not None:
            self.go_to(first)

    def open_demo(self) -> None:
        ok, root = self._guarded(lambda: demo.prepare_demo(demo.default_demo_dir()))
        if ok:
            from segstudio.gui.demo_tour import open_demo_in

            open_demo_in(self, root)  # the same first minute as `segstudio demo`: tour and training

    def new_project_dialog(self) -> None:
        open_new_project_dialog(self)

    def open_project_dialog(self) -> None:
        root = QFileDialog.getExistingDirectory(self, "Open a SegStudio project")
        if root:
            self.open_project(Path(root))

    def add_images_dialog(self) -> None:
        if self.state.project is None:
            return
        files, _ = QFileDialog.getOpenFileNames(self, "Add images", "", review.IMAGE_FILTER)
        if files:
            self.add_paths([Path(f) for f in files])

    def add_paths(self, paths: list[Path]) -> None:
        ok, report = self._guarded(lambda: self.session.workspace.add_images(paths))
        if ok:
            self.status.showMessage(report.summary(), 8000)
            if report.failed:  # named, with the reasons, where it stays until dismissed
                self.message_bar.show_message(f"Some images were not added: {report.summary(named=10)}")
            if self.state.image_id is None and (first := self.image_list.neighbour(0)) is not None:
                self.go_to(first)

    # ----- images ----------------------------------------------------------------------------
    def go_to(self, image_id: int | None) -> None:
        """Open an image; a big one is read in the background and shown when ready."""
        if image_id is not None and self.state.project is not None:
            self._guarded(lambda: self.session.load_image(image_id))

    def _loading_changed(self, image_id) -> None:
        self.canvas.setCursor(Qt.CursorShape.BusyCursor if image_id is not None else Qt.CursorShape.CrossCursor)

    def go_to_next(self, pick) -> None:
        """Review navigation: open the image `pick()` chooses, or say that none is left."""
        if self.state.project is None:
            return
        image_id = pick()
        if image_id is None:
            self.status.showMessage("No other image is waiting for review.", 5000)
        self.go_to(image_id)

    def _show_document(self, document) -> None:
        display = self.contrast.display_for(self.session.image) if document is not None else None
        self.tools.reset(display)
        if document is None:
            self.canvas.clear_content()
            self.pages.setCurrentWidget(self.welcome if self.state.project is None else self.canvas)
            self.setWindowTitle("SegStudio")
            self._update_enabled()
            return
        self.canvas.set_content(display, document.label, document.source, review.palette(self.state, self.class_panel.hidden))
        document.add_change_listener(self.canvas.mask_changed)
        self._set_heatmap(self.actions.toggle_heatmap.isChecked())
        self.pages.setCurrentWidget(self.canvas)
        self.canvas.setFocus()
        self._update_enabled()

    def _palette_changed(self) -> None:
        if self.state.project is not None:
            self.canvas.set_palette(review.palette(self.state, self.class_panel.hidden))

    def _set_overlay_visible(self, visible: bool) -> None:
        self.canvas.overlay_visible = visible
        self.canvas.update()

    def _set_opacity(self, value: int) -> None:
        self.canvas.set_opacity(value / 100)

    def _set_heatmap(self, visible: bool) -> None:
        values = None
        if visible and self.state.image_id is not None:
            values = self.state.project.read_uncertainty_map(self.state.image_id)
            if values is None:
                self.status.showMessage("No uncertainty map for this image yet: a model writes one when it proposes.", 5000)
        self.canvas.heatmap_visible = visible
        self.canvas.set_heatmap(values)

    def _forget_project_view(self) -> None:
        """Nothing of the closed project stays on screen: its messages and the demo tour."""
        self.message_bar.hide()
        tour = self.findChild(QDockWidget, TOUR_OBJECT_NAME)
        if tour is not None:
            tour.close()

    def _update_enabled(self) -> None:
        ws = self.session.workspace
        self.actions.update_enabled(ws.project is not None, ws.document, ws.can_undo, ws.can_redo)

    # ----- window ----------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        drops.accept_drag(event)

    def dropEvent(self, event: QDropEvent) -> None:
        drops.handle_drop(self, event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.status.showMessage("Saving every edit and stopping background work...")
        self.status.repaint()  # closing can take seconds (a big mask, a training run): say so now
        try:
            self.session.close_project()
        except SegStudioError as exc:
            if self._close_refused != str(exc):
                self._close_refused = str(exc)
                self.status.clearMessage()
                self.message_bar.show_message(
                    f"Could not save before closing: {exc}. Your edits are kept in the project's journal or in "
                    "memory. Fix the problem and close again, or close again to quit anyway.")
                event.ignore()
                return
        window_settings.save(self)
        optional_panels.shutdown(self)
        event.accept()
