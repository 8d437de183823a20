"""File > Export dataset and File > Import dataset: the core exchange generators in the background.

Both dialogs are modeless; the work runs in a `GeneratorWorker` with a progress bar and a
Cancel button (a cancelled export leaves nothing on disk; a cancelled import keeps the images
imported so far, each complete). The import dialog shows the class mapping before anything is
written; the right-hand column can be edited (an empty cell drops the class).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
    QProgressBar, QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from segstudio.core.errors import SegStudioError
from segstudio.core.formats import (
    FORMATS, ExportOptions, FileProblem, export_dataset, import_dataset, mapping_table, preview_import,
)
from segstudio.core.progress import Progress
from segstudio.gui.workers import GeneratorWorker


class _WorkDialog(QDialog):
    """A dialog with a progress bar, a status line and a start/cancel pair of buttons."""

    def __init__(self, state, title: str, start_text: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.worker: GeneratorWorker | None = None
        self.setWindowTitle(title)
        self.form = QFormLayout()
        self.progress = QProgressBar()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.start_button = QPushButton(start_text)
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton("Close")
        self.start_button.clicked.connect(self._start)  # each dialog defines _start
        self.cancel_button.clicked.connect(self._cancel_or_close)
        self.layout_ = QVBoxLayout(self)
        self.layout_.addLayout(self.form)

    def _finish_layout(self) -> None:
        self.layout_.addWidget(self.progress)
        self.layout_.addWidget(self.status)
        self.layout_.addLayout(self._buttons())

    def _buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.start_button)
        row.addWidget(self.cancel_button)
        return row

    def busy(self) -> bool:
        return self.worker is not None and self.worker.is_running()

    def _run(self, factory, name: str) -> None:
        self.worker = GeneratorWorker(factory, name=name, parent=self)
        self.worker.yielded.connect(self._on_event)
        self.worker.returned.connect(self._on_returned)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self._on_finished)
        self.start_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self.progress.setValue(0)
        self.worker.start()

    def _on_event(self, event) -> None:
        if isinstance(event, Progress):
            self.progress.setMaximum(event.total or 0)
            self.progress.setValue(event.done)

    def _on_returned(self, report) -> None:
        self.status.setText(report.summary())

    def _on_failed(self, exc: Exception) -> None:
        self.status.setText(str(exc) if isinstance(exc, SegStudioError) else f"failed: {exc!r}")

    def _on_finished(self) -> None:
        self.start_button.setEnabled(True)
        self.cancel_button.setText("Close")
        if self.worker is not None and self.worker.cancelled:  # a result that arrived wins over a late Cancel
            self.status.setText("Cancelled.")

    def _cancel_or_close(self) -> None:
        if self.busy():
            self.worker.stop()
        else:
            self.close()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.busy():
            self.worker.stop()
            self.worker.wait()
        super().closeEvent(event)


class ExportDialog(_WorkDialog):
    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(state, "Export dataset", "Export", parent)
        self.format_boxes = {}
        formats = QHBoxLayout()
        for spec in FORMATS.values():
            box = self.format_boxes[spec.name] = QCheckBox(spec.title)
            box.setToolTip(spec.description)
            box.setChecked(spec.name == "voc")
            formats.addWidget(box)
        self.form.addRow("Formats", formats)
        self.out_edit = QLineEdit(str(self._default_out()))
        self.form.addRow("New folder", _with_browse(self.out_edit, self._browse))
        self.images_combo = _combo(("Done images only", True), ("All images with labels", False))
        self.form.addRow("Images", self.images_combo)
        self.unreviewed_combo = _combo(("As ignore (255)", "ignore"), ("As labels", "label"))
        self.form.addRow("Unreviewed proposals", self.unreviewed_combo)
        self.split_combo = _combo(("Keep the project's", "keep"), ("New, stratified by class", "new"))
        self.ratios_edit = QLineEdit("0.8,0.1,0.1")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        split_row = QHBoxLayout()
        for widget in (self.split_combo, QLabel("ratios"), self.ratios_edit, QLabel("seed"), self.seed_spin):
            split_row.addWidget(widget)
        self.form.addRow("Splits", split_row)
        self.split_combo.currentIndexChanged.connect(self._update_split_widgets)
        self.link_box = QCheckBox("Link images instead of copying")
        self.lossless_box = QCheckBox("VOC: keep lossless originals (no JPEG re-encoding)")
        self.form.addRow("", self.link_box)
        self.form.addRow("", self.lossless_box)
        self._update_split_widgets()
        self._finish_layout()

    def _default_out(self) -> Path:
        project = self.state.project
        return Path.home() / "export" if project is None else project.root.parent / f"{project.root.name}-export"

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder to put the export in", str(Path(self.out_edit.text()).parent))
        if folder and self.state.project is not None:
            self.out_edit.setText(str(Path(folder) / f"{self.state.project.root.name}-export"))

    def _update_split_widgets(self) -> None:
        new = self.split_combo.currentData() == "new"
        self.ratios_edit.setEnabled(new)
        self.seed_spin.setEnabled(new)

    def options(self) -> ExportOptions:
        return ExportOptions(
            formats=tuple(name for name, box in self.format_boxes.items() if box.isChecked()),
            done_only=self.images_combo.currentData(), unreviewed=self.unreviewed_combo.currentData(),
            split_mode=self.split_combo.currentData(), ratios=self.ratios_edit.text(), seed=self.seed_spin.value(),
            link_images=self.link_box.isChecked(), lossless_images=self.lossless_box.isChecked()).validated()

    def _start(self) -> None:
        project = self.state.project
        if project is None:
            self.status.setText("Open a project first.")
            return
        try:
            options = self.options()
        except SegStudioError as exc:
            self.status.setText(str(exc))
            return
        if not self._save_open_image():
            return
        out = Path(self.out_edit.text()).expanduser()
        self.status.setText(f"Exporting to {out}...")
        self._run(lambda stop: export_dataset(project, out, options, stop), "export")


    def _save_open_image(self) -> bool:
        """Fold the image being painted into labels/ first, so the export has the latest strokes.

        Opened from the File menu, the dialog's parent is the main window, whose session owns
        the autosave; a dialog without one (tests, other hosts) exports what is on disk.
        """
        session = getattr(self.parent(), "session", None)
        if session is None:
            return True
        try:
            session.save()
        except SegStudioError as exc:
            self.status.setText(f"Could not save the open image first, so nothing was exported: {exc}")
            return False
        return True


class ImportDialog(_WorkDialog):
    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(state, "Import dataset", "Import", parent)
        self.format_combo = _combo(*((spec.title, spec.name) for spec in FORMATS.values()))
        self.form.addRow("Format", self.format_combo)
        self.path_edit = QLineEdit()
        self.form.addRow("Dataset folder", _with_browse(self.path_edit, self._browse))
        self.copy_box = QCheckBox("Copy the images into the project")
        self.form.addRow("", self.copy_box)
        self.preview_button = QPushButton("Preview class mapping")
        self.preview_button.clicked.connect(self.preview)
        self.form.addRow("", self.preview_button)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Dataset class", "Project class (empty: drop)", "What happens"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemChanged.connect(self._refresh_actions)
        self.layout_.addWidget(self.table, 1)
        self.problems = QListWidget()
        self.problems.setToolTip("Files that were not imported, and why")
        self.layout_.addWidget(self.problems)
        self.source_names: list[str] = []
        self._finish_layout()
        self.format_combo.currentIndexChanged.connect(self._clear_preview)
        self.path_edit.textChanged.connect(self._clear_preview)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder", self.path_edit.text())
        if folder:
            self.path_edit.setText(folder)
            self.preview()

    def _clear_preview(self) -> None:
        self.source_names = []
        self.table.setRowCount(0)

    def preview(self) -> bool:
        """Fill the mapping table from the dataset's class names; nothing is written."""
        project = self.state.project
        if project is None:
            self.status.setText("Open a project first.")
            return False
        try:
            rows, count = preview_import(project, self.format_combo.currentData(), Path(self.path_edit.text()).expanduser())
        except SegStudioError as exc:
            self.status.setText(str(exc))
            return False
        self.source_names = [row.source_name for row in rows]
        self.table.blockSignals(True)
        self.table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            source = QTableWidgetItem(row.source_name)
            source.setFlags(source.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(index, 0, source)
            self.table.setItem(index, 1, QTableWidgetItem(row.target_name or ""))
            action = QTableWidgetItem(row.action)
            action.setFlags(action.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(index, 2, action)
        self.table.blockSignals(False)
        self.status.setText(f"{count} annotation files. Check the mapping, then Import.")
        return True

    def overrides(self) -> dict[str, str]:
        """The table's targets that differ from the automatic choice."""
        automatic = {row.source_name: row.target_name or "" for row in
                     mapping_table(self.source_names, self.state.project.class_names())}
        chosen = {self.table.item(i, 0).text(): self.table.item(i, 1).text().strip() for i in range(self.table.rowCount())}
        return {name: target for name, target in chosen.items() if automatic.get(name) != target}

    def _refresh_actions(self) -> None:
        if self.state.project is None or not self.source_names:
            return
        rows = mapping_table(self.source_names, self.state.project.class_names(), self.overrides())
        self.table.blockSignals(True)
        for index, row in enumerate(rows):
            self.table.item(index, 2).setText(row.action)
        self.table.blockSignals(False)

    def _start(self) -> None:
        project = self.state.project
        if project is None or (not self.source_names and not self.preview()):
            return
        path, fmt, overrides = Path(self.path_edit.text()).expanduser(), self.format_combo.currentData(), self.overrides()
        copy = self.copy_box.isChecked()
        self.problems.clear()
        self._run(lambda stop: import_dataset(project, fmt, path, overrides=overrides, copy_images=copy, stop=stop),
                  "import")

    def _on_event(self, event) -> None:
        super()._on_event(event)
        if isinstance(event, FileProblem):
            self.problems.addItem(str(event))

    def _on_finished(self) -> None:
        super()._on_finished()
        self.state.classes_changed.emit()
        self.state.images_changed.emit()


def _with_browse(edit: QLineEdit, on_browse) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    browse = QPushButton("Browse...")
    browse.clicked.connect(on_browse)
    row.addWidget(browse)
    return row


def _combo(*items: tuple[str, object]) -> QComboBox:
    combo = QComboBox()
    for text, data in items:
        combo.addItem(text, data)
    return combo
