"""Images whose labels look wrong to a confident model: the message, and the person's answer.

Training flags them (segstudio.core.training.suspicious) and leaves them out until the person
confirms the labels here ("Labels are right"), or fixes them (new edits are checked again).
"Check labels now" asks the proposing model to look at every reviewed image, in the background.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from segstudio.gui.workers import GeneratorWorker


class LabelFlagsView(QWidget):
    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.worker: GeneratorWorker | None = None
        self.title = QLabel("")
        self.title.setWordWrap(True)
        self.list = QListWidget()
        self.list.setMaximumHeight(90)
        self.list.setWordWrap(True)
        self.list.itemSelectionChanged.connect(self._update)
        self.list.itemDoubleClicked.connect(
            lambda item: state.open_image_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.confirm_button = QPushButton("Labels are right")
        self.confirm_button.setToolTip("Clear the flag: the image trains again with its labels as they are")
        self.check_button = QPushButton("Check labels now")
        self.check_button.setToolTip("The proposing model looks at every reviewed image (if its validation "
                                     "mIoU earned it)")
        self.confirm_button.clicked.connect(self.confirm_selected)
        self.check_button.clicked.connect(self.check_now)
        buttons = QHBoxLayout()
        buttons.addWidget(self.confirm_button)
        buttons.addWidget(self.check_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        state.project_opened.connect(lambda _project: self.refresh())
        state.project_closed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        project = self.state.project
        flagged = project.flagged_images() if project is not None else []
        self.list.clear()
        for record in flagged:
            short = record.label_flag.split(" (")[0]  # the title says what happens meanwhile
            item = QListWidgetItem(f"⚠ {short[:1].upper()}{short[1:]}")
            item.setToolTip(record.label_flag)
            item.setData(Qt.ItemDataRole.UserRole, record.id)
            self.list.addItem(item)
        if flagged:
            self.list.setCurrentRow(0)
            self.title.setText(f"{len(flagged)} image(s) left out of training until you fix or confirm their labels "
                               f"(double-click to open):")
        else:
            self.title.setText("No suspicious labels.")
        self.list.setVisible(bool(flagged))
        self._update()

    def _update(self) -> None:
        project = self.state.project
        writable = project is not None and not getattr(project, "readonly", False)
        self.confirm_button.setEnabled(writable and bool(self.list.selectedItems()))
        self.confirm_button.setVisible(self.list.count() > 0)
        self.check_button.setEnabled(writable and (self.worker is None or not self.worker.is_running())
                                     and project.proposing_model() is not None)

    def confirm_selected(self) -> None:
        for item in self.list.selectedItems():
            self.state.project.confirm_labels(item.data(Qt.ItemDataRole.UserRole))
        self._changed()

    def check_now(self) -> None:
        from segstudio.core.training.suspicious import check_project

        project, device = self.state.project, self.state.device_preference
        self.worker = GeneratorWorker(lambda stop: check_project(project, device=device, stop=stop),
                                      name="label check", parent=self)
        self.worker.returned.connect(self._checked)
        self.worker.failed.connect(lambda exc: self.state.error.emit(f"Checking labels failed: {exc}"))
        self.worker.finished.connect(self._update)
        self.title.setText("Checking every reviewed image against the proposing model...")
        self.worker.start()
        self._update()

    def _checked(self, flags) -> None:
        from segstudio.core.training.suspicious import TRUST_FLOOR, trustworthy

        self._changed()
        if not trustworthy(self.state.project.proposing_model()):
            self.title.setText(f"The proposing model is not good enough yet to question labels (it needs a "
                               f"validation mIoU of at least {TRUST_FLOOR} on validation images).")
        elif not flags:
            self.state.message.emit("Labels checked: nothing looks wrong")

    def _changed(self) -> None:
        self.refresh()
        self.state.images_changed.emit()  # the image list shows the marks

    def shutdown(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker.wait()
