"""The image list: a Qt model over the project's images, with filters, sorting and thumbnails.

Thumbnails are decoded in a thread pool (a 16k image must not freeze the list) and cached by
image id; until one arrives the row shows its status colour only. Filtering and sorting are
done by the project's own query (`Project.images`), so the list scales with the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QListView, QVBoxLayout, QWidget

from segstudio.gui.canvas import contrast
from segstudio.gui.state import AppState

if TYPE_CHECKING:
    from segstudio.core.project import Project

THUMB = 48
STATUS_COLORS = {
    "new": QColor(150, 150, 150),
    "in_progress": QColor(240, 180, 40),
    "done": QColor(70, 190, 90),
    "skipped": QColor(120, 120, 200),
}
STATUS_TEXT = {"new": "new", "in_progress": "in progress", "done": "done", "skipped": "skipped"}
ImageIdRole = Qt.ItemDataRole.UserRole + 1


def load_thumbnail(path: str, size: int = THUMB) -> QImage:
    """A small RGB preview; PIL's draft mode lets JPEG decoders skip most of the pixels.

    8-bit images are reduced by PIL; 16-bit, float and other deep images go through the
    canvas's own `to_display`, so they are stretched the same way instead of showing grey.
    """
    import numpy as np
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image.draft("RGB", (size, size))
        image = ImageOps.exif_transpose(image)
        deep = image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr", "PA")
        deep = deep or (image.mode in ("L", "LA") and contrast.thumbnail_limits() is not None)
        if not deep:
            image.thumbnail((size, size))
            rgb = np.asarray(image.convert("RGB"))
    if deep:
        rgb = _deep_thumbnail(path, size)
    rgb = np.ascontiguousarray(rgb)
    return QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.shape[1] * 3, QImage.Format.Format_RGB888).copy()


def _deep_thumbnail(path: str, size: int):
    import cv2

    display = contrast.thumbnail_display(path)  # the canvas's limits (canvas/contrast.py)
    scale = size / max(display.shape[:2])
    return cv2.resize(display, (max(1, round(display.shape[1] * scale)), max(1, round(display.shape[0] * scale))),
                      interpolation=cv2.INTER_AREA)


class _ThumbnailSignals(QObject):
    ready = Signal(int, QImage)


class _ThumbnailJob(QRunnable):
    def __init__(self, image_id: int, path: str, signals: _ThumbnailSignals):
        super().__init__()
        self.image_id, self.path, self.signals = image_id, path, signals

    def run(self) -> None:
        try:
            thumb = load_thumbnail(self.path)
        except Exception:  # noqa: BLE001 - a broken file shows an empty tile; opening it explains
            thumb = QImage()
        self.signals.ready.emit(self.image_id, thumb)


class ImageListModel(QAbstractListModel):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.project = None
        self.records: list = []
        self.filters: dict = {"status": None, "split": None, "search": None, "order": "name"}
        self._thumbs: dict[int, QPixmap] = {}
        self._requested: set[int] = set()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _ThumbnailSignals(self)
        self._signals.ready.connect(self._thumbnail_ready)

    def set_project(self, project: Project) -> None:
        self._pool.clear()
        self.project = project
        self._thumbs.clear()
        self._requested.clear()
        self.reload()

    def forget_thumbnails(self) -> None:
        """Thumbnails are made again as rows are drawn (the display limits changed)."""
        self._thumbs.clear()
        self._requested.clear()
        if self.records:
            self.dataChanged.emit(self.index(0), self.index(len(self.records) - 1), [Qt.ItemDataRole.DecorationRole])

    def reload(self) -> None:
        self.beginResetModel()
        if self.project is None:
            self.records = []
        else:
            f = self.filters
            self.records = self.project.images(status=f["status"], split=f["split"], search=f["search"] or None, order=f["order"])
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.records)

    def row_of(self, image_id: int | None) -> int:
        for row, record in enumerate(self.records):
            if record.id == image_id:
                return row
        return -1

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        record = self.records[index.row()]
        status = str(record.status)
        if role == Qt.ItemDataRole.DisplayRole:  # short: the list is narrow, the tooltip says more
            parts = [STATUS_TEXT.get(status, status)]
            if str(record.split) != "unassigned":
                parts.append(str(record.split))
            if record.uncertainty is not None:
                parts.append(f"unsure {record.uncertainty:.2f}")
            if record.label_flag:  # labels a confident model disagrees with (issue 11): out of training
                parts.insert(0, "⚠ check labels")
            return f"{record.name}\n{' · '.join(parts)}"
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(record.id, str(record.path), status)
        if role == Qt.ItemDataRole.ToolTipRole:
            unsure = "" if record.uncertainty is None else f"\nmodel uncertainty {record.uncertainty:.2f} (0 sure, 1 guessing)"
            flag = f"\n{record.label_flag}" if record.label_flag else ""
            return f"{record.path}\n{record.width} x {record.height}, {STATUS_TEXT.get(status, status)}, split {record.split}{unsure}{flag}"
        if role == ImageIdRole:
            return record.id
        return None

    def _decoration(self, image_id: int, path: str, status: str) -> QPixmap:
        if image_id not in self._requested:
            self._requested.add(image_id)
            self._pool.start(_ThumbnailJob(image_id, path, self._signals))
        pixmap = QPixmap(THUMB, THUMB)
        pixmap.fill(QColor(60, 60, 64))
        painter = QPainter(pixmap)
        thumb = self._thumbs.get(image_id)
        if thumb is not None:
            painter.drawPixmap((THUMB - thumb.width()) // 2, (THUMB - thumb.height()) // 2, thumb)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QColor(20, 20, 20))
        painter.setBrush(STATUS_COLORS.get(status, QColor("white")))
        painter.drawEllipse(THUMB - 14, THUMB - 14, 11, 11)
        painter.end()
        return pixmap

    def _thumbnail_ready(self, image_id: int, image: QImage) -> None:
        if image.isNull():
            return
        self._thumbs[image_id] = QPixmap.fromImage(image)
        row = self.row_of(image_id)
        if row >= 0:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class ImageListPanel(QWidget):
    """Filters on top, the list below; choosing a row asks the window to open that image."""

    image_chosen = Signal(int)

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.model = ImageListModel(self)
        self.search = QLineEdit(placeholderText="Search names")
        self.search.setClearButtonEnabled(True)
        self.status_filter = QComboBox()
        for text, value in (("All statuses", None), ("New", "new"), ("In progress", "in_progress"), ("Done", "done"), ("Skipped", "skipped")):
            self.status_filter.addItem(text, value)
        self.split_filter = QComboBox()
        for text, value in (("All splits", None), ("Train", "train"), ("Val", "val"), ("Test", "test"), ("Unassigned", "unassigned")):
            self.split_filter.addItem(text, value)
        self.order = QComboBox()
        for text, value in (("By name", "name"), ("By status", "status"), ("Most uncertain first", "uncertainty")):
            self.order.addItem(text, value)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setIconSize(QSize(THUMB, THUMB))
        self.view.setUniformItemSizes(True)
        self.view.setSelectionMode(QListView.SelectionMode.SingleSelection)
        filters = QHBoxLayout()
        filters.addWidget(self.status_filter)
        filters.addWidget(self.split_filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addLayout(filters)
        layout.addWidget(self.order)
        layout.addWidget(self.view)

        self.search.textChanged.connect(lambda text: self._set_filter("search", text.strip()))
        self.status_filter.currentIndexChanged.connect(lambda: self._set_filter("status", self.status_filter.currentData()))
        self.split_filter.currentIndexChanged.connect(lambda: self._set_filter("split", self.split_filter.currentData()))
        self.order.currentIndexChanged.connect(lambda: self._set_filter("order", self.order.currentData()))
        self.view.clicked.connect(self._clicked)
        self.view.activated.connect(self._clicked)
        state.project_opened.connect(self.model.set_project)
        state.project_closed.connect(lambda: self.model.set_project(None))
        state.images_changed.connect(self.refresh)
        state.image_changed.connect(self._select)

    def _set_filter(self, key: str, value) -> None:
        self.model.filters[key] = value
        self.refresh()

    def refresh(self) -> None:
        self.model.reload()
        self._select(self.state.image_id)

    def _select(self, image_id: int | None) -> None:
        row = self.model.row_of(image_id)
        if row >= 0:
            self.view.setCurrentIndex(self.model.index(row))
        else:
            self.view.clearSelection()

    def _clicked(self, index: QModelIndex) -> None:
        image_id = index.data(ImageIdRole)
        if image_id is not None and image_id != self.state.image_id:
            self.image_chosen.emit(image_id)

    def neighbour(self, step: int, from_id: int | None = None) -> int | None:
        """Id of the image `step` rows away from `from_id` (default: the current image) as listed."""
        records = self.model.records
        if not records:
            return None
        row = self.model.row_of(self.state.image_id if from_id is None else from_id)
        row = 0 if row < 0 else row + step
        return records[row].id if 0 <= row < len(records) else None
