"""The canvas widget: draws image, mask and heat-map tiles, zooms, pans, forwards tool input.

The view keeps one transform, widget = image * scale + offset. It picks the pyramid level
whose pixels are closest to screen pixels, draws only the tiles (and only the parts of them)
inside the region Qt asks to repaint, and after an edit repaints only the edited box.
Tool logic lives in the core; `ToolInput` (canvas/tool_input.py) turns mouse events into
`ToolEvent`s and draws the tool's preview (brush circle, polygon, box).
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QTabletEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from segstudio.core.geometry import BBox, union_all
from segstudio.gui.canvas.colorize import Palette
from segstudio.gui.canvas.layers import HeatmapLayer, ImageLayer, LabelLayer
from segstudio.gui.canvas.legend import HeatmapLegend
from segstudio.gui.canvas.prefetch import TilePrefetcher
from segstudio.gui.canvas.tiles import TILE, TileCache

MIN_SCALE = 1 / 256
MAX_SCALE = 64.0
WHEEL_ZOOM_BASE = 1.0015  # per eighth of a degree: one wheel notch (120) zooms about 20%
BACKGROUND = QColor(40, 40, 44)
TABLET_KINDS = {QEvent.Type.TabletPress: "press", QEvent.Type.TabletMove: "move", QEvent.Type.TabletRelease: "release"}
MAGNIFY_FROM = 1.5  # from this many screen pixels per drawn pixel, blend before scaling


class CanvasView(QWidget):
    cursor_moved = Signal(object)  # (x, y) image pixel under the cursor, or None outside
    zoom_changed = Signal(float)
    brush_size_step = Signal(int)  # ctrl+wheel: +1 larger, -1 smaller

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(200, 150)
        self.scale = 1.0
        self.offset = QPointF(0.0, 0.0)
        self.overlay_visible = True
        self.overlay_opacity = 0.5
        self.heatmap_visible = False
        self.wheel_zoom_base = WHEEL_ZOOM_BASE  # the Settings dialog's zoom per wheel notch
        self.tool_input = None  # ToolInput, set by the main window
        self._image: TileCache | None = None
        self._labels: TileCache | None = None
        self._heatmap: TileCache | None = None
        self._label_layer: LabelLayer | None = None
        self._dirty: list[BBox] = []  # mask boxes changed since the last paint
        self._shape: tuple[int, int] | None = None
        self._pan_from: QPointF | None = None
        self._space_down = False
        self._fitted = True
        self.prefetcher = TilePrefetcher(self)
        self.legend = HeatmapLegend(self)

    # ----- content -------------------------------------------------------------------------
    def set_content(self, rgb: np.ndarray, label: np.ndarray, source: np.ndarray, palette: Palette) -> None:
        """Show a new image with its mask; the view is fitted to the window."""
        self._shape = rgb.shape[:2]
        self._image = TileCache(ImageLayer(rgb), QImage.Format.Format_RGB32)
        outline = self._label_layer.outline if self._label_layer is not None else False
        self._label_layer = LabelLayer(label, source, palette.with_opacity(self.overlay_opacity), outline)
        self._labels = TileCache(self._label_layer)
        self._dirty = []
        self._heatmap = None
        self.legend.hide()
        self.fit()

    def set_image(self, rgb: np.ndarray) -> None:
        """Show other pixels of the same image (new display limits): mask, view and zoom stay."""
        if self._shape is not None and rgb.shape[:2] == self._shape:
            self._image = TileCache(ImageLayer(rgb), QImage.Format.Format_RGB32)
            self.update()

    def clear_content(self) -> None:
        self._image = self._labels = self._heatmap = self._label_layer = None
        self.legend.hide()
        self._dirty = []
        self._shape = None
        self.update()

    @property
    def has_content(self) -> bool:
        return self._shape is not None

    def set_heatmap(self, values: np.ndarray | None) -> None:
        self._heatmap = TileCache(HeatmapLayer(values)) if values is not None else None
        self.legend.setVisible(self._heatmap is not None and self.heatmap_visible)
        self.legend.place()
        self.update()

    def set_palette(self, palette: Palette) -> None:
        if self._label_layer is not None:
            self._label_layer.palette = palette.with_opacity(self.overlay_opacity)
            self._labels.clear()
            self.update()

    def set_opacity(self, opacity: float) -> None:
        """Mask opacity 0..1; the visible label tiles are recoloured (a lookup per tile)."""
        self.overlay_opacity = opacity
        if self._label_layer is not None:
            self.set_palette(self._label_layer.palette)

    def set_outline(self, outline: bool) -> None:
        if self._label_layer is not None:
            self._label_layer.outline = outline
            self._labels.clear()
            self.update()

    @property
    def outline(self) -> bool:
        return self._label_layer is not None and self._label_layer.outline

    def mask_changed(self, box: BBox | None) -> None:
        """The document changed inside `box` (level-0 pixels): recolour and repaint just that.

        A brush move reports several small boxes; they are recoloured together when the
        repaint they asked for happens: one by one at full resolution (the union of a long
        diagonal stroke would be a large square), as their union when zoomed out.
        """
        if self._labels is None:
            return
        if box is None:
            self._labels.clear()
            self._dirty = []
            self.update()
            return
        box = box.grow(1).clip(self._shape)  # outlines of the neighbours change too
        if box.is_empty:
            return
        self._dirty.append(box)
        self.update(self.widget_rect(box).adjusted(-2, -2, 2, 2))

    # ----- transform ---------------------------------------------------------------------------
    def to_image(self, pos: QPointF) -> tuple[float, float]:
        return (pos.x() - self.offset.x()) / self.scale, (pos.y() - self.offset.y()) / self.scale

    def to_widget(self, x: float, y: float) -> QPointF:
        return QPointF(x * self.scale + self.offset.x(), y * self.scale + self.offset.y())

    def widget_rect(self, box: BBox) -> QRect:
        top_left = self.to_widget(box.x0, box.y0)
        bottom_right = self.to_widget(box.x1, box.y1)
        return QRectF(top_left, bottom_right).toAlignedRect()

    def fit(self) -> None:
        if self._shape is None:
            return
        height, width = self._shape
        margin = 8
        scale = min((self.width() - 2 * margin) / width, (self.height() - 2 * margin) / height)
        self._set_view(max(MIN_SCALE, scale), QPointF((self.width() - width * scale) / 2, (self.height() - height * scale) / 2))
        self._fitted = True

    def one_to_one(self) -> None:
        self.zoom_about(QPointF(self.width() / 2, self.height() / 2), 1.0 / self.scale)

    def zoom_about(self, anchor: QPointF, factor: float) -> None:
        """Zoom by `factor`, keeping the image point under `anchor` (widget coords) in place."""
        scale = min(MAX_SCALE, max(MIN_SCALE, self.scale * factor))
        x, y = self.to_image(anchor)
        self._set_view(scale, QPointF(anchor.x() - x * scale, anchor.y() - y * scale))

    def set_view(self, scale: float, center: tuple[float, float]) -> None:
        """Show image point `center` in the middle of the widget at `scale` (benchmarks, tests)."""
        scale = min(MAX_SCALE, max(MIN_SCALE, scale))
        self._set_view(scale, QPointF(self.width() / 2 - center[0] * scale, self.height() / 2 - center[1] * scale))

    def pan_by(self, dx: float, dy: float) -> None:
        self._set_view(self.scale, self.offset + QPointF(dx, dy))

    def _set_view(self, scale: float, offset: QPointF) -> None:
        changed = scale != self.scale
        self.scale, self.offset = scale, offset
        self._fitted = False
        self.update()
        if changed:
            self.zoom_changed.emit(scale)

    def level(self) -> int:
        """Pyramid level drawn at the current scale: its pixels are 1 to 2 screen pixels wide."""
        if self._image is None or self.scale >= 1.0:
            return 0
        return min(self._image.levels - 1, math.floor(math.log2(1.0 / self.scale) + 1e-9))

    # ----- painting ----------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        if self._dirty:
            level = self.level()
            # Zoomed out, the union of a move's boxes is only a few level pixels: one pass.
            for box in self._dirty if level == 0 else [union_all(self._dirty)]:
                self._labels.refresh(box, level)
            self._dirty = []
        painter = QPainter(self)
        rect = event.rect()
        painter.fillRect(rect, BACKGROUND)
        if self._shape is None:
            return
        x0, y0 = self.to_image(QPointF(rect.topLeft()))
        x1, y1 = self.to_image(QPointF(rect.bottomRight()) + QPointF(1, 1))
        visible = BBox(math.floor(y0), math.floor(x0), math.ceil(y1), math.ceil(x1)).clip(self._shape)
        if not visible.is_empty:
            level = self.level()
            factor = 1 << level
            level_box = BBox(visible.y0 // factor, visible.x0 // factor, -(-visible.y1 // factor), -(-visible.x1 // factor))
            painter.save()
            painter.translate(self.offset)
            painter.scale(self.scale * factor, self.scale * factor)
            if self.scale * factor >= MAGNIFY_FROM:
                self._draw_magnified(painter, level, level_box)
            else:
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.scale * factor < 1.0)
                self._draw_layers(painter, level, level_box)
            painter.restore()
        if self.tool_input is not None:
            self.tool_input.paint_preview(painter, self)
        self.prefetcher.painted()

    def _view_box(self, level: int, margin: int = 0) -> BBox:
        """The part of pyramid level `level` the widget shows, grown by `margin` level pixels."""
        factor = 1 << level
        x0, y0 = self.to_image(QPointF(0, 0))
        x1, y1 = self.to_image(QPointF(self.width(), self.height()))
        box = BBox(math.floor(y0 / factor), math.floor(x0 / factor), math.ceil(y1 / factor), math.ceil(x1 / factor))
        return box.grow(margin)

    def missing_tiles_near_view(self) -> list:
        """Callables that make each tile of the shown layers within a tile of the view."""
        if self._shape is None:
            return []
        level = self.level()
        caches = [self._image] + ([self._labels] if self.overlay_visible else [])
        if self._heatmap is not None and self.heatmap_visible:
            caches.append(self._heatmap)
        near = self._view_box(level, TILE)
        return [
            (lambda cache=cache, ty=ty, tx=tx: cache.tile(level, ty, tx))
            for cache in caches
            for ty, tx in cache.tiles_in(level, near)
            if not cache.has(level, ty, tx)
        ]

    def _draw_layers(self, painter: QPainter, level: int, box: BBox) -> None:
        self._draw_tiles(painter, self._image, level, box)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        if self._heatmap is not None and self.heatmap_visible:
            self._draw_tiles(painter, self._heatmap, level, box)
        if self.overlay_visible and self._labels is not None:
            self._draw_tiles(painter, self._labels, level, box)

    def _draw_magnified(self, painter: QPainter, level: int, box: BBox) -> None:
        """Zoomed in: blend the layers at image resolution, then scale one opaque image.

        Blending the translucent mask costs per drawn pixel, so doing it before scaling up
        makes a 4x view about as cheap as a 1:1 view.
        """
        composed = QImage(box.width, box.height, QImage.Format.Format_RGB32)
        inner = QPainter(composed)
        inner.translate(-box.x0, -box.y0)
        self._draw_layers(inner, level, box)
        inner.end()
        painter.drawImage(QRectF(box.x0, box.y0, box.width, box.height), composed)

    @staticmethod
    def _draw_tiles(painter: QPainter, cache: TileCache, level: int, box: BBox) -> None:
        for ty, tx in cache.tiles_in(level, box):
            tile_box = cache.tile_box(level, ty, tx)
            part = box.intersect(tile_box)
            source = QRectF(part.x0 - tile_box.x0, part.y0 - tile_box.y0, part.width, part.height)
            target = QRectF(part.x0, part.y0, part.width, part.height)
            painter.drawImage(target, cache.tile(level, ty, tx), source)

    # ----- input -------------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        self.legend.place()
        if self._fitted:
            self.fit()
        super().resizeEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        if not delta:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.brush_size_step.emit(1 if delta > 0 else -1)
        else:
            self.zoom_about(event.position(), self.wheel_zoom_base**delta)
        event.accept()

    def _starts_pan(self, event: QMouseEvent) -> bool:
        return event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space_down
        )

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus()
        if self._starts_pan(event):
            self._pan_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif self.tool_input is not None and self._shape is not None:
            self.tool_input.mouse(self, "press", event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.pan_by(delta.x(), delta.y())
            return
        if self._shape is not None:
            self._report_cursor(event.position())
            if self.tool_input is not None:
                self.tool_input.mouse(self, "move", event)

    def _report_cursor(self, position: QPointF) -> None:
        x, y = self.to_image(position)
        inside = 0 <= x < self._shape[1] and 0 <= y < self._shape[0]
        self.cursor_moved.emit((int(x), int(y)) if inside else None)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.setCursor(Qt.CursorShape.OpenHandCursor if self._space_down else Qt.CursorShape.CrossCursor)
        elif self.tool_input is not None and self._shape is not None:
            self.tool_input.mouse(self, "release", event)

    def tabletEvent(self, event: QTabletEvent) -> None:
        """A pen paints with its pressure; panning and the rest go the mouse way."""
        kind = TABLET_KINDS.get(event.type())
        if kind is None or self.tool_input is None or self._shape is None or self._space_down or self._pan_from is not None:
            event.ignore()  # Qt then sends the matching mouse event
            return
        if kind == "press":
            self.setFocus()
        elif kind == "move":
            self._report_cursor(event.position())
        self.tool_input.mouse(self, kind, event, pressure=event.pressure())
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self.tool_input is not None and self._shape is not None and not self._starts_pan(event):
            self.tool_input.mouse(self, "double", event)

    def leaveEvent(self, event) -> None:
        self.cursor_moved.emit(None)
        if self.tool_input is not None:
            self.tool_input.leave(self)
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        elif event.key() == Qt.Key.Key_Escape and self.tool_input is not None:
            self.tool_input.cancel(self)
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.setCursor(Qt.CursorShape.CrossCursor)
        else:
            super().keyReleaseEvent(event)

    def widget_point(self, image_xy: tuple[float, float]) -> QPoint:
        """Widget position of an image point, rounded (tests and benchmarks aim with it)."""
        return self.to_widget(*image_xy).toPoint()
