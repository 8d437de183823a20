"""The status bar: pixel under the cursor, its class, zoom, and whether every edit is saved."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from segstudio.core.autosave import SaveState, SaveStatus
from segstudio.gui import review

AUTOSAVE_TEXT = {SaveState.SAVED: "All changes saved", SaveState.PENDING: "Saving soon...", SaveState.SAVING: "Saving..."}


class StatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.position = QLabel()
        self.class_under = QLabel()
        self.zoom = QLabel()
        self.autosave = QLabel()
        for label, width in ((self.position, 190), (self.class_under, 140), (self.zoom, 70), (self.autosave, 160)):
            label.setMinimumWidth(width)
            self.addPermanentWidget(label)

    def follow_cursor(self, state, session, canvas) -> None:
        """Show what lies under the canvas's cursor: position, the image's value, the class."""
        names: list[str] = []

        def remember_names(*_) -> None:  # read once per change rather than on every mouse move
            names[:] = state.project.class_names() if state.project is not None else []

        def moved(xy) -> None:
            raw = session.image.raw if session.image is not None else None
            self.show_cursor(xy, review.class_under(state.document, names, xy), review.pixel_value(raw, xy))

        for signal in (state.project_opened, state.project_closed, state.classes_changed):
            signal.connect(remember_names)
        canvas.cursor_moved.connect(moved)

    def show_cursor(self, xy: tuple[int, int] | None, class_name: str, value: str = "") -> None:
        """Where the cursor is, the image's value there (what a threshold would see) and its class."""
        self.position.setText(f"x {xy[0]}  y {xy[1]}" + (f"  value {value}" if value else "") if xy is not None else "")
        self.class_under.setText(class_name)

    def show_zoom(self, scale: float) -> None:
        self.zoom.setText(f"{scale * 100:.0f}%" if scale >= 0.1 else f"{scale * 100:.1f}%")

    def show_autosave(self, status: SaveStatus) -> None:
        self.autosave.setText("Not saved: " + status.reason if status.failed else AUTOSAVE_TEXT[status.state])
        self.autosave.setToolTip(str(status))
        self.autosave.setStyleSheet("color: #e05050; font-weight: bold" if status.failed else "")
