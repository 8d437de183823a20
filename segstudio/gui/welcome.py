"""The first screen: open the demo, start a project from a folder, open one, or a recent one."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

RECENT_KEY = "recent_projects"
MAX_RECENT = 30  # kept; how many are listed is a setting (gui/preferences.py, 8 by default)


def recent_projects() -> list[str]:
    value = QSettings().value(RECENT_KEY, [])
    paths = value if isinstance(value, list) else [value] if value else []
    return [p for p in paths if Path(p).is_dir()]


def remember_project(root: Path) -> None:
    paths = [str(root)] + [p for p in recent_projects() if p != str(root)]
    QSettings().setValue(RECENT_KEY, paths[:MAX_RECENT])


class WelcomePage(QWidget):
    open_demo = Signal()
    new_project = Signal()
    open_project = Signal()
    open_recent = Signal(str)

    def __init__(self, demo_available: bool, parent: QWidget | None = None):
        super().__init__(parent)
        title = QLabel("<h1>SegStudio</h1><p>Paint masks, let the model learn from every correction.</p>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(title)
        for text, signal, enabled in (
            ("Open the demo project", self.open_demo, demo_available),
            ("New project...", self.new_project, True),
            ("Open a project...", self.open_project, True),
        ):
            button = QPushButton(text)
            button.setMinimumWidth(320)
            button.setEnabled(enabled)
            button.clicked.connect(signal.emit)
            layout.addWidget(button, alignment=Qt.AlignmentFlag.AlignHCenter)
        self.recent_title = QLabel("Recent projects")
        layout.addWidget(self.recent_title, alignment=Qt.AlignmentFlag.AlignHCenter)
        self.recent = QListWidget()
        self.recent.setMaximumWidth(520)
        self.recent.itemActivated.connect(lambda item: self.open_recent.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.recent.itemDoubleClicked.connect(lambda item: self.open_recent.emit(item.data(Qt.ItemDataRole.UserRole)))
        layout.addWidget(self.recent, alignment=Qt.AlignmentFlag.AlignHCenter)
        hint = QLabel("You can also drop a project folder on this window.")
        hint.setEnabled(False)
        layout.addWidget(hint, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        self.refresh()

    def refresh(self) -> None:
        self.recent.clear()
        from segstudio.gui.preferences import RECENT_COUNT, value

        for path in recent_projects()[: value(RECENT_COUNT)]:
            item = QListWidgetItem(f"{Path(path).name}   \u2014   {path}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.recent.addItem(item)
        self.recent_title.setVisible(self.recent.count() > 0)  # no empty box on a first launch
        self.recent.setVisible(self.recent.count() > 0)
