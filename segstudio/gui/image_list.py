"""The image list: a Qt model over the project's images, with filters, sorting and thumbnails.

Thumbnails are decoded in a thread pool (a 16k image must not freeze the list), only for rows
that are painted, and cached by image id; until one arrives the row shows its status colour
only. Filtering and sorting are done by the project's own queries (core/project/listing.py),
and one changed image updates one row, so the list scales with the database (issue 15).
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLineEdit, QTableView, QVBoxLayout, QWidget,
)

from segstudio.core.project.listing import ListFilter, ListRow
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

    8-bit images are reduced by PIL; 16-bit, float and other deep images, and files Pillow
    cannot read (multichannel or zstd TIFFs), go through the canvas's own picture, so they are
    stretched the same way instead of showing grey or nothing.
    """
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    rgb = None
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))
            image = ImageOps.exif_transpose(image)
            deep = image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr", "PA")
            deep = deep or (image.mode in ("L", "LA") and contrast.thumbnail_limits() is not None)
            if not deep:
                image.thumbnail((size, size))
                rgb = np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError):
        pass  # read_image's decoders may still read it; if not, they raise the reason
    if rgb is None:
        rgb = _deep_thumbnail(path, size)
    rgb = np.ascontiguousarray(rgb)
    return QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.shape[1] * 3, QImage.Format.Format_RGB888).copy()


def _deep_thumbnail(path: str, size: int):
    import cv2

    from segstudio.core.imageio import as_rgb

    display = contrast.thumbnail_display(path)  # the canvas's limits (canvas/contrast.py)
    scale = size / max(display.shape[:2])
    return as_rgb(cv2.resize(display, (max(1, round(display.shape[1] * scale)), max(1, round(display.shape[0] * scale))),
                             interpolation=cv2.INTER_AREA))  # grey made RGB at thumbnail size


class _ThumbnailSignals(QObject):
    ready = Signal(int, QImage)


class _ThumbnailJob(QRunnable):
    def __init__(self, image_id: int, path: str, signals: _ThumbnailSignals):
        super().__init__()
        self.setAutoDelete(False)  # the model may take it back from the queue (tryTake)
        self.image_id, self.path, self.signals = image_id, path, signals

    def run(self) -> None:
        try:
            thumb = load_thumbnail(self.path)
        except Exception:  # noqa: BLE001 - a broken file shows an empty tile; opening it explains
            thumb = QImage()
        self.signals.ready.emit(self.image_id, thumb)


class _Rows(Sequence):
    """`model.records`: the listed rows as a sequence, each read (light) when first looked at."""

    def __init__(self, model: ImageListModel):
        self.model = model

    def __len__(self) -> int:
        return len(self.model.ids)

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self.model.row_at(r) for r in range(*row.indices(len(self)))]
        return self.model.row_at(row if row >= 0 else len(self) + row)


class ImageListModel(QAbstractListModel):
    """The listed images of a project of any size (100,000 and more).

    It holds the ids in list order (one SQL column) and reads light rows (`ListRow`) only for
    rows that are shown, CHUNK at a time. `update_image` takes one changed image: its row is
    updated in place (one dataChanged), or removed and inserted where the order puts it
    (bisection with the same sort key as the SQL, `ListFilter.sort_key`). Thumbnails are read
    for rows that are painted, newest request first, and kept for the last THUMB_CACHE images.
    """

    CHUNK = 128
    THUMB_CACHE = 2048
    MAX_QUEUED = 64  # thumbnails waiting to be read; older requests (rows scrolled past) are dropped

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.project = None
        self.ids: list[int] = []
        self.filters: dict = {"status": None, "split": None, "search": None, "order": "name"}
        self.listing = ListFilter()
        self._rows: dict[int, ListRow] = {}
        self._index: dict[int, int] | None = None
        self._thumbs: OrderedDict[int, QPixmap] = OrderedDict()
        self._queued: OrderedDict[int, _ThumbnailJob] = OrderedDict()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _ThumbnailSignals(self)
        self._signals.ready.connect(self._thumbnail_ready)

    @property
    def records(self) -> _Rows:
        return _Rows(self)

    def set_project(self, project: Project) -> None:
        self._pool.clear()
        self._queued.clear()
        self.project = project
        self._thumbs.clear()
        self.reload()

    def forget_thumbnails(self) -> None:
        """Thumbnails are made again as rows are drawn (the display limits changed)."""
        self._thumbs.clear()
        self._queued.clear()
        if self.ids:
            self.dataChanged.emit(self.index(0), self.index(len(self.ids) - 1), [Qt.ItemDataRole.DecorationRole])

    def reload(self) -> None:
        """Read the listed ids again (filters or order changed, images added or removed)."""
        self.beginResetModel()
        f = self.filters
        self.listing = ListFilter.of(f["status"], f["split"], f["search"] or None, f["order"])
        self.ids = [] if self.project is None else self.project.image_ids(self.listing)
        self._rows.clear()
        self._index = None
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.ids)

    def row_of(self, image_id: int | None) -> int:
        if self._index is None:
            self._index = {image_id: row for row, image_id in enumerate(self.ids)}
        return self._index.get(image_id, -1)

    def row_at(self, row: int) -> ListRow:
        image_id = self.ids[row]
        found = self._rows.get(image_id)
        if found is None:
            start = max(0, row - self.CHUNK // 4)
            self._rows.update(self.project.image_rows(i for i in self.ids[start:start + self.CHUNK] if i not in self._rows))
            found = self._rows[image_id]
        return found

    def update_image(self, image_id: int) -> None:
        """One image changed (status, uncertainty, proposal, flag): update its row, or move it."""
        if self.project is None:
            return
        row, new = self.row_of(image_id), self.project.image_row(image_id)
        if new is not None:
            self._rows[image_id] = new
        if row >= 0 and new is not None and self.listing.matches(new) and self._in_order(row, new):
            index = self.index(row)
            self.dataChanged.emit(index, index)
            return
        if row >= 0:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self.ids[row]
            self._rows.pop(image_id, None)
            self._index = None
            self.endRemoveRows()
        if new is not None and self.listing.matches(new):
            key = self.listing.sort_key(new)
            at = bisect.bisect_left(range(len(self.ids)), key, key=lambda r: self.listing.sort_key(self.row_at(r)))
            self.beginInsertRows(QModelIndex(), at, at)
            self.ids.insert(at, image_id)
            self._rows[image_id] = new
            self._index = None
            self.endInsertRows()

    def _in_order(self, row: int, new: ListRow) -> bool:
        """Does `new` still sort between its neighbours (read now, so a cached old value cannot mislead)?"""
        key = self.listing.sort_key(new)
        return ((row == 0 or self.listing.sort_key(self.row_at(row - 1)) <= key)
                and (row == len(self.ids) - 1 or key <= self.listing.sort_key(self.row_at(row + 1))))

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        record = self.row_at(index.row())
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
            return self._decoration(record.id, record.path, status)
        if role == Qt.ItemDataRole.ToolTipRole:
            full = self.project.image(record.id)
            unsure = "" if record.uncertainty is None else f"\nmodel uncertainty {record.uncertainty:.2f} (0 sure, 1 guessing)"
            flag = f"\n{record.label_flag}" if record.label_flag else ""
            return f"{full.path}\n{full.width} x {full.height}, {STATUS_TEXT.get(status, status)}, split {record.split}{unsure}{flag}"
        if role == ImageIdRole:
            return record.id
        return None

    def _decoration(self, image_id: int, path: str, status: str) -> QPixmap:
        thumb = self._thumbs.get(image_id)
        if thumb is not None:
            self._thumbs.move_to_end(image_id)
        else:
            self._request_thumbnail(image_id, path)
        pixmap = QPixmap(THUMB, THUMB)
        pixmap.fill(QColor(60, 60, 64))
        painter = QPainter(pixmap)
        if thumb is not None:
            painter.drawPixmap((THUMB - thumb.width()) // 2, (THUMB - thumb.height()) // 2, thumb)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QColor(20, 20, 20))
        painter.setBrush(STATUS_COLORS.get(status, QColor("white")))
        painter.drawEllipse(THUMB - 14, THUMB - 14, 11, 11)
        painter.end()
        return pixmap

    def _request_thumbnail(self, image_id: int, stored_path: str) -> None:
        if image_id in self._queued:
            return
        job = _ThumbnailJob(image_id, str(self.project.absolute_path(stored_path)), self._signals)
        self._queued[image_id] = job
        self._pool.start(job)
        while len(self._queued) > self.MAX_QUEUED:  # rows scrolled past: asked for again when shown
            _old_id, old = self._queued.popitem(last=False)
            self._pool.tryTake(old)

    def _thumbnail_ready(self, image_id: int, image: QImage) -> None:
        self._queued.pop(image_id, None)
        if image.isNull():
            image = QImage(1, 1, QImage.Format.Format_RGB888)  # a broken file: asked once, shows an empty tile
            image.fill(QColor(60, 60, 64))
        self._thumbs[image_id] = QPixmap.fromImage(image)
        while len(self._thumbs) > self.THUMB_CACHE:
            self._thumbs.popitem(last=False)
        row = self.row_of(image_id)
        if row >= 0:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


def _list_view(model: ImageListModel) -> QTableView:
    """A one-column table that looks like a list. Not a QListView: its layout asks the model for
    every row's index (three Python calls per row, ~1 s at 100,000 images, on every resize or
    status-bar change); a table's fixed-height rows are laid out without asking."""
    view = QTableView()
    view.setModel(model)
    view.setIconSize(QSize(THUMB, THUMB))
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.horizontalHeader().hide()
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    rows = view.verticalHeader()
    rows.hide()
    rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    rows.setDefaultSectionSize(THUMB + 6)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    return view


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
        self.view = _list_view(self.model)
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
        state.image_updated.connect(self.update_image)
        state.image_changed.connect(self._select)

    def _set_filter(self, key: str, value) -> None:
        self.model.filters[key] = value
        self.refresh()

    def refresh(self) -> None:
        self.model.reload()
        self._select(self.state.image_id)

    def update_image(self, image_id: int) -> None:
        self.model.update_image(image_id)
        if self.model.row_of(self.state.image_id) != self.view.currentIndex().row():
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
        ids = self.model.ids
        if not ids:
            return None
        row = self.model.row_of(self.state.image_id if from_id is None else from_id)
        row = 0 if row < 0 else row + step
        return ids[row] if 0 <= row < len(ids) else None
