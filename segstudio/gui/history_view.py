"""The undo history of the current image: click a row to go back (or forward) to it."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from segstudio.gui.session import Session

UNDONE = QColor(130, 130, 130)


class HistoryView(QListWidget):
    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setToolTip("Click a step to undo or redo up to it")
        session.history_changed.connect(self.show_history)
        self.itemClicked.connect(lambda item: session.go_to_step(self.row(item)))
        self.show_history([], 0)

    def show_history(self, steps: list[str], done: int) -> None:
        """Row 0 is the image as opened; row i is the state after step i."""
        self.blockSignals(True)
        self.clear()
        self.addItem("(as opened)")
        for number, name in enumerate(steps, start=1):
            item = QListWidgetItem(f"{number}. {name}")
            if number > done:
                item.setForeground(UNDONE)
            self.addItem(item)
        self.setCurrentRow(done)
        self.blockSignals(False)
