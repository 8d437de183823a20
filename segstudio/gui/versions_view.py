"""Every model version of the project, and the person's say over which one proposes.

Each row is a version with its role (proposing, best, pinned), validation mIoU, the images it
trained on, its kind and date. Pin makes the selected version propose whatever the scores; Roll
back pins the best model before the one proposing now; Follow best unpins; Propose with this
asks the selected version for a proposal on the open image once, without changing who proposes.
The project decides (Project.proposing_model); this view only shows it and asks it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHeaderView, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

COLUMNS = ("Version", "Role", "mIoU", "Images", "Kind", "Date")


class VersionsView(QWidget):
    proposer_changed = Signal()  # a pin, roll back or unpin changed the proposing model
    propose_with = Signal(str)  # a version to propose with once on the open image

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.table = QTreeWidget()
        self.table.setColumnCount(len(COLUMNS))
        self.table.setHeaderLabels(COLUMNS)
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setMinimumHeight(90)
        self.table.setMaximumHeight(160)
        self.table.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.header().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update)
        self.pin_button = QPushButton("Pin")
        self.rollback_button = QPushButton("Roll back")
        self.follow_button = QPushButton("Follow best")
        self.propose_button = QPushButton("Propose with this")
        self.pin_button.setToolTip("The selected version proposes from now on, whatever the scores")
        self.rollback_button.setToolTip("Pin the best model before the one proposing now")
        self.follow_button.setToolTip("Unpin: the best model proposes again, and each better one after it")
        self.propose_button.setToolTip("A proposal on the open image from the selected version, once")
        self.pin_button.clicked.connect(lambda: self._pin(self.selected_version()))
        self.rollback_button.clicked.connect(self.roll_back)
        self.follow_button.clicked.connect(lambda: self._pin(None))
        self.propose_button.clicked.connect(lambda: self.propose_with.emit(self.selected_version()))
        buttons = QGridLayout()
        for index, button in enumerate((self.pin_button, self.rollback_button, self.follow_button, self.propose_button)):
            buttons.addWidget(button, index // 2, index % 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.refresh()

    # ------------------------------------------------------------------ content
    def refresh(self) -> None:
        """Rebuild the rows from the project (newest first), keeping the selection."""
        selected = self.selected_version()
        project = self.state.project
        records = list(reversed(project.models())) if project is not None else []
        proposer = project.proposing_model() if project is not None else None
        self.table.clear()
        for record in records:
            item = QTreeWidgetItem([record.version, _role(record, proposer), _score(record),
                                    "" if record.images_seen is None else str(record.images_seen), record.kind,
                                    record.created_at[:16].replace("T", " ")])
            item.setData(0, Qt.ItemDataRole.UserRole, record.version)
            item.setToolTip(0, record.metrics.get("verdict") or record.metrics.get("imported_from", ""))
            if proposer is not None and record.version == proposer.version:
                font = item.font(0)
                font.setBold(True)
                for column in range(len(COLUMNS)):
                    item.setFont(column, font)
            self.table.addTopLevelItem(item)
            if record.version == selected:
                item.setSelected(True)
        self._update()

    def selected_version(self) -> str | None:
        items = self.table.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def select(self, version: str) -> None:
        for index in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(index)
            item.setSelected(item.data(0, Qt.ItemDataRole.UserRole) == version)

    def row_texts(self) -> list[tuple[str, ...]]:
        """What the rows show (tests and the note's screenshot check read it)."""
        return [tuple(self.table.topLevelItem(i).text(c) for c in range(len(COLUMNS)))
                for i in range(self.table.topLevelItemCount())]

    def _update(self) -> None:
        project = self.state.project
        writable = project is not None and not getattr(project, "readonly", False)
        proposer = project.proposing_model() if project is not None else None
        selected = self.selected_version()
        self.pin_button.setEnabled(writable and selected is not None
                                   and not (proposer is not None and proposer.pinned and proposer.version == selected))
        self.rollback_button.setEnabled(writable and project.rollback_target() is not None)
        self.follow_button.setEnabled(writable and proposer is not None and proposer.pinned)
        self.propose_button.setEnabled(writable and selected is not None and self.state.image_id is not None)

    # ------------------------------------------------------------------ actions
    def roll_back(self) -> None:
        target = self.state.project.rollback_target()
        if target is not None:
            self._pin(target.version)

    def _pin(self, version: str | None) -> None:
        self.state.project.pin_model(version)
        self.refresh()
        self.proposer_changed.emit()
        self.state.models_changed.emit()
        self.state.message.emit(f"Model {version} proposes from now on (pinned)" if version
                                else "The best model proposes again")


def _score(record) -> str:
    return "" if record.miou is None else f"{record.miou:.3f}"


def _role(record, proposer) -> str:
    parts = []
    if proposer is not None and record.version == proposer.version:
        parts.append("proposing")
    if record.pinned:
        parts.append("pinned")
    if record.is_best:
        parts.append("best")
    return ", ".join(parts)
