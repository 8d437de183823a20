"""The undo history of the current image: click a row to go back (or forward) to it."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from segstudio.gui.session import Session

UNDONE = QColor(130, 130, 130)
AS_OPENED = "(as opened)"
OLDEST_KEPT = "(older steps dropped: undo memory is full)"


class HistoryView(QListWidget):
    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setToolTip("Click a step to undo or redo up to it")
        session.history_changed.connect(self.show_history)
        self.itemClicked.connect(lambda item: session.go_to_step(self.row(item)))
        self.show_history([], 0, False)

    def show_history(self, steps: list[str], done: int, trimmed: bool) -> None:
        """Row 0 is the oldest state still reachable; row i is the state after step i.

        `trimmed`: older steps were dropped to keep the undo memory under its cap, so row 0 is
        no longer the image as it was opened.
        """
        self.blockSignals(True)
        self.clear()
        if self.session.document is None:  # no image open: no history to show
            self.blockSignals(False)
            return
        self.addItem(OLDEST_KEPT if trimmed else AS_OPENED)
        for number, name in enumerate(steps, start=1):
            item = QListWidgetItem(f"{number}. {name}")
            if number > done:
                item.setForeground(UNDONE)
            self.addItem(item)
        self.setCurrentRow(done)
        self.blockSignals(False)
