"""The classes panel: pick the class to paint, add, rename, recolour, reorder, hide and remove classes.

Rows follow the project's class order, and the keys 1-9 and 0 pick the first ten rows. Hidden
classes are a view choice, not project data, so they are kept in QSettings per project.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QApplication, QColorDialog, QHBoxLayout, QInputDialog, QListWidget, QListWidgetItem, QMessageBox, QToolButton,
    QVBoxLayout, QWidget,
)

from segstudio.core.errors import SegStudioError
from segstudio.gui.session import Session
from segstudio.gui.state import AppState

if TYPE_CHECKING:
    from segstudio.core.project import Project

ClassIdRole = Qt.ItemDataRole.UserRole + 1
MIN_CLASSES = 2  # training needs at least two classes


def swatch(color: tuple[int, int, int], size: int = 16) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*color))
    return QIcon(pixmap)


class ClassPanel(QWidget):
    visibility_changed = Signal()  # hidden classes changed: the canvas recolours

    def __init__(self, state: AppState, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.session = session
        self.hidden: set[int] = set()
        self.list = QListWidget()
        self.list.setToolTip("Double-click to rename; untick to hide; keys 1-9 and 0 pick a class")
        buttons = QHBoxLayout()
        self.buttons = {}
        for name, text, tip, slot in (
            ("add", "+", "add a class", self.add_class),
            ("rename", "Aa", "rename the class", self.rename_current),
            ("color", "\u25a0", "change the colour", self.recolor_current),
            ("up", "\u2191", "move up", lambda: self.move_current(-1)),
            ("down", "\u2193", "move down", lambda: self.move_current(+1)),
            ("remove", "\u2212", "remove the class (its pixels become unlabelled)", self.remove_current),
        ):
            button = QToolButton(text=text, toolTip=tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons[name] = button
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        layout.addLayout(buttons)

        self.list.currentItemChanged.connect(self._current_changed)
        self.list.itemChanged.connect(self._item_changed)
        self.list.itemDoubleClicked.connect(lambda item: self.rename_current())
        state.project_opened.connect(self._project_opened)
        state.project_closed.connect(self.reload)
        state.classes_changed.connect(self.reload)
        state.current_class_changed.connect(self._show_current)
        self.reload()

    @property
    def project(self):
        return self.state.project

    def _settings_key(self) -> str:
        return f"hidden_classes/{self.project.root}" if self.project is not None else ""

    def _project_opened(self, project: Project) -> None:
        stored = QSettings().value(self._settings_key(), [])
        self.hidden = {int(v) for v in (stored if isinstance(stored, list) else [stored]) if str(v).isdigit()}
        classes = project.classes()
        ids = [c.id for c in classes]
        if self.state.current_class not in ids and ids:
            self.state.current_class = ids[min(1, len(ids) - 1)]
        self.reload()

    def reload(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        if self.project is not None:
            for number, label_class in enumerate(self.project.classes()):
                key = str((number + 1) % 10) if number < 10 else " "
                item = QListWidgetItem(swatch(label_class.color), f"{key}  {label_class.name}")
                item.setData(ClassIdRole, label_class.id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked if label_class.id in self.hidden else Qt.CheckState.Checked)
                self.list.addItem(item)
                if label_class.id == self.state.current_class:
                    self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        for button in self.buttons.values():
            button.setEnabled(self.project is not None)
        self.buttons["remove"].setEnabled(self.list.count() > MIN_CLASSES)

    def class_ids(self) -> list[int]:
        return [self.list.item(row).data(ClassIdRole) for row in range(self.list.count())]

    def select_row(self, row: int) -> None:
        """Keys 1-9, 0: the class shown in that row becomes the current class."""
        if 0 <= row < self.list.count():
            self.list.setCurrentRow(row)

    def select_class(self, class_id: int) -> None:
        ids = self.class_ids()
        if class_id in ids:
            self.list.setCurrentRow(ids.index(class_id))

    def _show_current(self, class_id: int) -> None:
        ids = self.class_ids()
        if class_id in ids and self.list.currentRow() != ids.index(class_id):
            self.list.blockSignals(True)
            self.list.setCurrentRow(ids.index(class_id))
            self.list.blockSignals(False)

    def _current_changed(self, item: QListWidgetItem | None, _previous) -> None:
        if item is not None:
            self.state.current_class = item.data(ClassIdRole)
            self.state.current_class_changed.emit(self.state.current_class)

    def _item_changed(self, item: QListWidgetItem) -> None:
        class_id = item.data(ClassIdRole)
        if item.checkState() == Qt.CheckState.Checked:
            self.hidden.discard(class_id)
        else:
            self.hidden.add(class_id)
        QSettings().setValue(self._settings_key(), sorted(self.hidden))
        self.visibility_changed.emit()

    def _current_id(self) -> int | None:
        item = self.list.currentItem()
        return item.data(ClassIdRole) if item is not None else None

    def add_class(self) -> None:
        if self.project is None:
            return
        name, ok = QInputDialog.getText(self, "Add class", "Name of the new class:")
        if ok and name.strip():
            self._change(lambda: self.project.add_class(name.strip()))

    def rename_current(self) -> None:
        class_id = self._current_id()
        if class_id is None:
            return
        old = self.project.class_names()[class_id]
        name, ok = QInputDialog.getText(self, "Rename class", "New name:", text=old)
        if ok and name.strip() and name.strip() != old:
            self._change(lambda: self.project.rename_class(class_id, name.strip()))

    def recolor_current(self) -> None:
        class_id = self._current_id()
        if class_id is None:
            return
        current = next(c.color for c in self.project.classes() if c.id == class_id)
        color = QColorDialog.getColor(QColor(*current), self, "Class colour")
        if color.isValid():
            self._change(lambda: self.project.recolor_class(class_id, (color.red(), color.green(), color.blue())))

    def move_current(self, step: int) -> None:
        ids = self.class_ids()
        row = self.list.currentRow()
        if row < 0 or not 0 <= row + step < len(ids):
            return
        ids[row], ids[row + step] = ids[row + step], ids[row]
        self._change(lambda: self.project.reorder_classes(ids))

    def remove_current(self) -> None:
        """Ask first, saying what would be lost; then the session folds, removes and reloads."""
        class_id = self._current_id()
        if class_id is None or self.list.count() <= MIN_CLASSES:
            return
        name = self.project.class_names()[class_id]
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)  # every mask is read to count
        try:
            pixels, images = self.session.workspace.class_usage(class_id)
        except SegStudioError as exc:
            self.state.error.emit(f"Could not remove the class: {exc}")
            return
        finally:
            QApplication.restoreOverrideCursor()
        if not confirm_removal(self, name, pixels, images):
            return
        shifted = {i: i - (i > class_id) for i in self.class_ids() if i != class_id}  # ids above move down
        before = self.hidden, self.state.current_class
        # The panel follows the new ids before the workspace says the classes changed.
        self.hidden = {shifted[i] for i in self.hidden if i in shifted}
        current = shifted.get(self.state.current_class)
        self.state.current_class = current if current is not None else min(1, len(shifted) - 1)
        try:
            self.session.workspace.remove_class(class_id)
        except SegStudioError as exc:
            self.hidden, self.state.current_class = before
            self.state.error.emit(f"Could not remove the class: {exc}")
            return
        QSettings().setValue(self._settings_key(), sorted(self.hidden))
        self.state.current_class_changed.emit(self.state.current_class)
        self.state.message.emit(f"Removed the class {name}: {pixels:,} pixels are unlabelled now.")

    def _change(self, change) -> None:
        try:
            self.session.workspace.edit_classes(lambda _project: change())
        except (SegStudioError, ValueError) as exc:
            self.state.error.emit(f"Could not change the classes: {exc}")


def confirm_removal(parent: QWidget, name: str, pixels: int, images: int) -> bool:
    """A modal question whose default answer keeps the class."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Remove class", f"Remove the class \u201c{name}\u201d?", parent=parent)
    if pixels:
        lost = (f"{pixels:,} labelled pixel{'s' if pixels != 1 else ''} (proposals included) on {images} "
                f"image{'s' if images != 1 else ''} will become unlabelled.")
    else:
        lost = "No pixel is labelled with it yet."
    box.setInformativeText(f"{lost} The classes below it move up one number key. This cannot be undone.")
    remove = box.addButton("Remove class", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))
    box.exec()
    return box.clickedButton() is remove
