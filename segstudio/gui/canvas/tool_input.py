"""Mouse input on the canvas -> core `ToolEvent`s for the active tool, and the tool's preview.

All editing rules live in `segstudio.core.tools`; this class only converts positions to image
coordinates, keeps the tool's settings (`ToolContext`) in step with the window, and draws the
brush circle and the polygon or box being drawn.
"""

from __future__ import annotations

import traceback

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen, QPolygonF, QTabletEvent

from segstudio.core.tools import ToolContext, ToolEvent, create_tool
from segstudio.gui.state import AppState

BRUSH_TOOLS = ("brush", "eraser")
SNAP_PIXELS = 8  # screen pixels within which a click closes a polygon on its first vertex
PREVIEW_PEN = QColor(255, 255, 255)
PREVIEW_SHADOW = QColor(0, 0, 0)


def _modifiers(event: QMouseEvent | QTabletEvent) -> frozenset[str]:
    mods = event.modifiers()
    names = (("shift", Qt.KeyboardModifier.ShiftModifier), ("ctrl", Qt.KeyboardModifier.ControlModifier), ("alt", Qt.KeyboardModifier.AltModifier))
    return frozenset(name for name, flag in names if mods & flag)


class ToolInput(QObject):
    class_picked = Signal(int)
    notice = Signal(str)  # why a tool did nothing (GrabCut found no object); "" takes it back

    def __init__(self, state: AppState, canvas, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.canvas = canvas
        self.ctx = ToolContext(on_pick=self.class_picked.emit)
        self.tool_name = "brush"
        self._tools: dict = {}
        self._hover: QPointF | None = None
        self._pressed = False
        self._notice_shown = False
        self.snap_pixels = SNAP_PIXELS  # the Settings dialog's "polygon closes within"
        self.brush_size = 16
        self.set_brush_size(self.brush_size)

    @property
    def tool(self):
        if self.tool_name not in self._tools:
            self._tools[self.tool_name] = create_tool(self.tool_name)
        return self._tools[self.tool_name]

    def set_tool(self, name: str) -> None:
        """Switch tools; a stroke under way is kept as its own step, a shape being drawn is dropped."""
        if name == self.tool_name:
            return
        document = self.state.document
        if document is not None and document.in_step:
            document.end_step()
        if self.tool_name in self._tools:
            self.tool.reset()
        self._pressed = False
        self.tool_name = name
        self.canvas.update()

    def set_brush_size(self, size: int) -> None:
        """Brush diameter in image pixels (a size of 1 paints single pixels)."""
        self.brush_size = max(1, int(size))
        self.ctx.radius = (self.brush_size - 1) / 2
        self._update_circle()

    def reset(self, image=None) -> None:
        """A new document: forget shapes in progress; `image` (RGB array) feeds wand and GrabCut."""
        for tool in self._tools.values():
            tool.reset()
        self._pressed = False
        self.ctx.image = image
        self.canvas.update()

    # ----- events ----------------------------------------------------------------------------
    def mouse(self, canvas, kind: str, event: QMouseEvent | QTabletEvent, pressure: float = 1.0) -> None:
        """A mouse or pen event on the canvas, as a tool event at its image position."""
        old_circle = self._circle_rect()
        self._hover = event.position()
        if kind == "press":
            if event.button() != Qt.MouseButton.LeftButton:
                return
            self._pressed = True
        elif kind == "release":
            if event.button() != Qt.MouseButton.LeftButton or not self._pressed:
                return
            self._pressed = False
        x, y = canvas.to_image(event.position())
        had_preview = self.tool.preview() is not None
        self._send(ToolEvent(kind, x, y, _modifiers(event), pressure))
        if had_preview or self.tool.preview() is not None:
            canvas.update()
        elif self.tool_name in BRUSH_TOOLS:
            canvas.update(old_circle)
            canvas.update(self._circle_rect())

    def _send(self, event: ToolEvent) -> None:
        document = self.state.document
        if document is None:
            return
        self.ctx.class_id = self.state.current_class
        self.ctx.snap_distance = self.snap_pixels / self.canvas.scale
        try:
            self.tool.handle(document, event, self.ctx)
            self._say(self.tool.notice, event.kind)
        except Exception as exc:  # noqa: BLE001 - a failing tool is reported; the session goes on
            traceback.print_exc()
            if document.in_step:
                document.cancel_step()
            self.tool.reset()
            self.state.error.emit(f"The {self.tool_name} tool failed: {exc}")

    def _say(self, notice: str, kind: str) -> None:
        """A tool's notice goes to the window; the next finished gesture without one takes it back."""
        if notice or (self._notice_shown and kind == "release"):
            self._notice_shown = bool(notice)
            self.notice.emit(notice)

    def finish(self) -> None:
        """Enter: close the polygon being drawn (like a double-click)."""
        if self.tool.preview() is not None and self._hover is not None:
            x, y = self.canvas.to_image(self._hover)
            self._send(ToolEvent("double", x, y))
            self.canvas.update()

    def cancel(self, canvas) -> None:
        """Esc or a tool switch: drop the shape or stroke in progress."""
        if self.tool_name in self._tools:
            self._send(ToolEvent("cancel", 0.0, 0.0))
            self.tool.reset()
        self._pressed = False
        canvas.update()

    def leave(self, canvas) -> None:
        old = self._circle_rect()
        self._hover = None
        canvas.update(old)

    # ----- preview ---------------------------------------------------------------------------
    def _circle_rect(self):
        if self._hover is None or self.tool_name not in BRUSH_TOOLS:
            return QRectF().toRect()
        r = self.brush_size / 2 * self.canvas.scale + 2
        return QRectF(self._hover.x() - r, self._hover.y() - r, 2 * r, 2 * r).toAlignedRect()

    def _update_circle(self) -> None:
        if self._hover is not None:
            self.canvas.update()

    def paint_preview(self, painter: QPainter, canvas) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.tool_name in BRUSH_TOOLS and self._hover is not None and canvas.has_content:
            r = self.brush_size / 2 * canvas.scale
            for color, width in ((PREVIEW_SHADOW, 3), (PREVIEW_PEN, 1)):
                painter.setPen(QPen(color, width))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(self._hover, r, r)
        preview = self.tool.preview() if self.tool_name in self._tools else None
        if preview is None:
            return
        points = [canvas.to_widget(x, y) for x, y in preview.points]
        for color, width in ((PREVIEW_SHADOW, 3), (PREVIEW_PEN, 1)):
            painter.setPen(QPen(color, width, Qt.PenStyle.SolidLine if width > 1 else Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            if preview.kind == "box" and len(points) == 2:
                painter.drawRect(QRectF(points[0], points[1]).normalized())
            elif preview.closed:
                painter.drawPolygon(QPolygonF(points))
            else:
                painter.drawPolyline(QPolygonF(points))
