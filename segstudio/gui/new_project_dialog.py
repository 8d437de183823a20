"""New Project, in one step: name, location, images and classes, checked as the person types.

The dialog only gathers and checks; creating is `Session.create_project` (the workspace creates
the new project before it closes the open one, so a failure changes nothing). When creating
fails, the reason is shown in the dialog, which stays open with everything that was typed.
The checks are the core's (segstudio.core.project.naming), so the dialog and `Project.create`
say the same sentences.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
    QPlainTextEdit, QPushButton, QVBoxLayout, QWidget,
)

from segstudio.core.errors import SegStudioError
from segstudio.core.project.naming import check_class_names, check_new_location, check_project_name
from segstudio.gui import review

LOCATION_KEY = "new_project/location"  # QSettings: the folder the last project was created in
DEFAULT_CLASSES = ("background", "foreground")
ERROR_STYLE = "color: #e05050;"

# create(root, classes, images) -> notice: raises SegStudioError or OSError when it cannot.
CreateFunction = Callable[[Path, list[str], list[Path]], str]


def default_location() -> str:
    stored = QSettings().value(LOCATION_KEY, "")
    if stored and Path(stored).is_dir():
        return str(stored)
    documents = Path.home() / "Documents"
    return str(documents if documents.is_dir() else Path.home())


class NewProjectDialog(QDialog):
    created = Signal(object, str)  # the new project's folder, what adding its images reported

    def __init__(self, create: CreateFunction, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("new_project_dialog")
        self.setWindowTitle("New project")
        self.setMinimumWidth(560)
        self._create = create
        self.root: Path | None = None  # where the project was created, once it was
        self.notice = ""  # what adding the images reported

        self.name = QLineEdit(placeholderText="for example: nuclei 2024")
        self.location = QLineEdit(default_location())
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse_location)
        where = QHBoxLayout()
        where.addWidget(self.location, 1)
        where.addWidget(browse)
        self.target = QLabel()
        self.target.setEnabled(False)  # greyed: a consequence, not a field
        self.target.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.images = QListWidget()
        self.images.setMaximumHeight(110)
        self.images.setToolTip("Folders are searched with their subfolders. Images stay where they are.")
        image_buttons = QHBoxLayout()
        for text, slot in (("Add folder...", self._browse_folder), ("Add files...", self._browse_files),
                           ("Remove", self._remove_image)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            image_buttons.addWidget(button)
        image_buttons.addStretch(1)
        image_hint = QLabel("Optional: you can add images later too (File > Add images, or drop them on the window).")
        image_hint.setEnabled(False)
        image_hint.setWordWrap(True)

        self.classes = QPlainTextEdit("\n".join(DEFAULT_CLASSES))
        self.classes.setMaximumHeight(110)
        classes_hint = QLabel("One class per line, in the order of the number keys (1 is the first).")
        classes_hint.setEnabled(False)

        self.problem = QLabel()
        self.problem.setObjectName("new_project_problem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(ERROR_STYLE)
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Location", where)
        form.addRow("", self.target)
        images = QVBoxLayout()
        images.addWidget(self.images)
        images.addLayout(image_buttons)
        images.addWidget(image_hint)
        form.addRow("Images", images)
        classes = QVBoxLayout()
        classes.addWidget(self.classes)
        classes.addWidget(classes_hint)
        form.addRow("Classes", classes)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)

        self.name.textChanged.connect(self.check)
        self.location.textChanged.connect(self.check)
        self.classes.textChanged.connect(self.check)
        self.check()
        self.name.setFocus()

    # ----- what was entered ---------------------------------------------------------------------
    def class_names(self) -> list[str]:
        return [line for line in self.classes.toPlainText().splitlines() if line.strip()]

    def image_paths(self) -> list[Path]:
        return [Path(self.images.item(row).text()) for row in range(self.images.count())]

    def add_image_paths(self, paths: list[Path]) -> None:
        known = {str(p) for p in self.image_paths()}
        for path in paths:
            if str(path) not in known:
                self.images.addItem(str(path))
                known.add(str(path))

    def check(self) -> Path | None:
        """Check everything (the core's rules); show the first problem. Returns the project folder or None."""
        problem, root = "", None
        try:
            name = check_project_name(self.name.text())
            if not self.location.text().strip():
                raise SegStudioError("choose where the project goes")
            root = check_new_location(Path(self.location.text().strip()) / name)
            self.target.setText(f"The project will be the folder {root}")
            check_class_names(self.class_names())
        except SegStudioError as exc:
            problem = _sentence(str(exc))
            if root is None:
                self.target.setText("")
        # A missing name is said once the person typed in the field, not on opening.
        quiet = not self.name.isModified() and not self.name.text()
        self.problem.setText("" if quiet and problem == _sentence("give the project a name") else problem)
        self.create_button.setEnabled(not problem)
        return None if problem else root

    # ----- creating -----------------------------------------------------------------------------
    def accept(self) -> None:
        root = self.check()
        if root is None:
            return
        self.problem.setText("Creating the project...")
        self.problem.setStyleSheet("")
        self.problem.repaint()  # adding many images takes a while: say so first
        try:
            notice = self._create(root, check_class_names(self.class_names()), self.image_paths())
        except SegStudioError as exc:
            self._failed(str(exc))
            return
        except OSError as exc:
            self._failed(f"{exc.strerror or exc}: {exc.filename or root}")
            return
        self.root, self.notice = root, notice or ""
        QSettings().setValue(LOCATION_KEY, str(root.parent))
        super().accept()
        self.created.emit(root, self.notice)

    def _failed(self, reason: str) -> None:
        """Creating failed: say why here; everything typed stays, and the open project is untouched."""
        self.problem.setStyleSheet(ERROR_STYLE)
        self.problem.setText(_sentence(f"The project was not created: {reason}"))
        self.create_button.setEnabled(True)

    # ----- pickers --------------------------------------------------------------------------------
    def _browse_location(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Where the project folder goes", self.location.text())
        if folder:
            self.location.setText(folder)

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of images to label", self.location.text())
        if folder:
            self.add_image_paths([Path(folder)])
            if not self.name.text().strip():  # a good first guess: the folder's name
                self.name.setText(Path(folder).name)

    def _browse_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Images to label", self.location.text(), review.IMAGE_FILTER)
        self.add_image_paths([Path(f) for f in files])

    def _remove_image(self) -> None:
        for item in self.images.selectedItems():
            self.images.takeItem(self.images.row(item))


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def open_new_project_dialog(window) -> NewProjectDialog:
    """Show the dialog (window-modal, not blocking); a created project is shown in the window."""
    dialog = NewProjectDialog(lambda root, classes, images: window.session.create_project(root, images, classes), window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.created.connect(window.project_created)
    dialog.open()
    return dialog
