"""A bar above the canvas for errors and notices: visible, never modal, so work goes on."""

from __future__ import annotations

from PySide6.QtCore import Qt

from segstudio.core.autosave import SaveState, SaveStatus
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

STYLES = {
    "error": "background: #5c1f1f; color: #ffdede;",
    "info": "background: #1f3b5c; color: #e0efff;",
}


class MessageBar(QFrame):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(text="\u2715", toolTip="Dismiss", autoRaise=True)
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.kind = ""
        self._save_failure_shown = False
        self._notice = ""
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        self.kind = kind
        self.label.setText(text)
        self.setStyleSheet(f"MessageBar {{ {STYLES[kind]} }} QLabel {{ {STYLES[kind]} }}")
        self.show()

    def show_notice(self, text: str) -> None:
        """A tool's notice (segstudio.core.tools: Tool.notice); "" hides it if it is still the one shown."""
        if text:
            self.show_message(text, "info")
        elif self.kind == "info" and self.text() == self._notice:
            self.hide()
        self._notice = text

    def text(self) -> str:
        return "" if self.isHidden() else self.label.text()

    def show_save_status(self, status: SaveStatus) -> None:
        """A failed save is said here (edits are kept and retried); so is the recovery after it."""
        if status.failed:
            self.show_message(f"Your edits could not be saved: {status.reason}. "
                              "They are kept and saving is retried; free space or fix the folder's permissions.")
            self._save_failure_shown = True
        elif status.state is SaveState.SAVED and self._save_failure_shown:
            self._save_failure_shown = False
            self.show_message("Saving works again: every edit is saved.", "info")
