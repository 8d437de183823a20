"""The status bar: the last message, pixel under the cursor, its class, zoom, and whether every edit is saved."""

from __future__ import annotations

import math

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from segstudio.core.autosave import SaveState, SaveStatus
from segstudio.gui import review

AUTOSAVE_TEXT = {SaveState.SAVED: "All changes saved", SaveState.PENDING: "Saving soon...", SaveState.SAVING: "Saving..."}


class ElidedLabel(QLabel):
    """A label that takes the width it is given, down to its minimum, and cuts its text to it with
    "…", the whole text then in its tooltip (above `detail`, the tooltip it always has). Why: the
    status bar's fields share the window's width, and a text must neither set the window's
    minimum width nor stop mid-word with no way to read the rest.

    `asks_for_whole` False: the label asks for its minimum only and takes what the others leave
    (with a stretch), so the others show whole first."""

    def __init__(self, shortest: str, detail: str = "", asks_for_whole: bool = True, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumWidth(text_width(self, shortest))  # `shortest` always shows whole
        self.full_text, self.detail, self.asks_for_whole = "", detail, asks_for_whole
        self.setToolTip(detail)

    def set_full_text(self, text: str, detail: str | None = None) -> None:
        self.full_text = text
        self.detail = self.detail if detail is None else detail
        self.updateGeometry()  # the size hint is the whole text's
        self._fit()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        margins = self.contentsMargins()
        # rounded up: fontMetrics() rounds down, and elidedText would then cut the last letter
        width = math.ceil(QFontMetricsF(self.font()).horizontalAdvance(self.full_text)) + margins.left() + margins.right()
        return QSize(max(width if self.asks_for_whole else 0, self.minimumWidth()), super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(self.minimumWidth(), super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        shown = self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideRight, self.contentsRect().width())
        self.setText(shown)
        cut = shown != self.full_text
        self.setToolTip("\n\n".join(part for part in (self.full_text if cut else "", self.detail) if part))


def text_width(widget: QWidget, sample: str) -> int:
    """Pixels `sample` needs in `widget`'s font, so fixed fields fit on every platform's font."""
    return widget.fontMetrics().horizontalAdvance(sample) + 8


class StatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.message = ElidedLabel("Saved into the project.", asks_for_whole=False)  # never moves the rest
        self.addWidget(self.message, 1)
        self._message_timer = QTimer(self, singleShot=True)
        self._message_timer.timeout.connect(self.clearMessage)
        self.position = QLabel()
        self.class_under = QLabel()
        self.zoom = QLabel()
        self.autosave = QLabel()
        samples = ((self.position, "x 1024  y 1024  value 255"), (self.class_under, "background"),
                   (self.zoom, "1600%"), (self.autosave, "All changes saved"))
        for label, sample in samples:  # a field grows past its sample's width only for a longer text
            label.setMinimumWidth(text_width(self, sample))
            self.addPermanentWidget(label)

    def insert_field(self, position: int, widget: QWidget) -> None:
        """A permanent field at `position` among the permanent fields. Qt's index counts the
        message label too, and an index at or before it is refused with a warning and appended."""
        self.insertPermanentWidget(position + 1, widget)

    # The app's messages go to a label of their own rather than QStatusBar's painted message, which
    # is clipped wherever the permanent fields begin ("Kept a bette" at the window's first size).
    # Qt's own status tips (a toolbar button under the pointer) still show the usual way, over it.
    def showMessage(self, text: str, timeout: int = 0) -> None:  # noqa: N802 - Qt's name
        self.message.set_full_text(text)
        if timeout > 0:
            self._message_timer.start(timeout)
        else:
            self._message_timer.stop()
        self.messageChanged.emit(text)

    def clearMessage(self) -> None:  # noqa: N802 - Qt's name
        self._message_timer.stop()
        if self.message.full_text:
            self.message.set_full_text("")
            self.messageChanged.emit("")

    def currentMessage(self) -> str:  # noqa: N802 - Qt's name
        return self.message.full_text

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
