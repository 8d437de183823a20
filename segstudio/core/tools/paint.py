"""Freehand tools: brush, eraser, and the picker that only reads the mask."""

from __future__ import annotations

from segstudio.core import edits
from segstudio.core.document import MaskDocument
from segstudio.core.geometry import BBox
from segstudio.core.tools.base import Tool, ToolContext, ToolEvent


class BrushTool(Tool):
    """Round brush of the current class; a press, its drag and its release are one step.

    Pen pressure scales the radius. Shift + press draws a straight line from where the previous
    stroke ended.
    """

    name = "brush"

    def __init__(self) -> None:
        super().__init__()
        self._last: edits.Point | None = None
        self._stroke_end: edits.Point | None = None

    def on_event(self, doc: MaskDocument, event: ToolEvent, ctx: ToolContext) -> BBox | None:
        point = event.point
        if event.kind == "press":
            doc.begin_step(self.name)
            start = self._stroke_end if "shift" in event.modifiers and self._stroke_end else point
            self._last = point
            return self.dab(doc, start, point, ctx.radius * event.pressure, ctx)
        if self._last is None:  # a move or release without a press: hovering
            return None
        box = self.dab(doc, self._last, point, ctx.radius * event.pressure, ctx)
        self._last = point
        if event.kind == "release":
            self._last, self._stroke_end = None, point
            doc.end_step()
        return box

    def dab(self, doc: MaskDocument, p0: edits.Point, p1: edits.Point, radius: float, ctx: ToolContext) -> BBox | None:
        return doc.paint_segment(p0, p1, radius, ctx.class_id)

    def reset(self) -> None:
        self._last = None


class EraserTool(BrushTool):
    """Round eraser: pixels go back to unlabelled, with no source."""

    name = "eraser"

    def dab(self, doc: MaskDocument, p0: edits.Point, p1: edits.Point, radius: float, ctx: ToolContext) -> BBox | None:
        return doc.erase_segment(p0, p1, radius)


class PickerTool(Tool):
    """Reads the class under the cursor (`picked`, and `ctx.on_pick`) so the GUI selects it."""

    name = "picker"

    def __init__(self) -> None:
        super().__init__()
        self._held = False

    def on_event(self, doc: MaskDocument, event: ToolEvent, ctx: ToolContext) -> BBox | None:
        if event.kind == "press":
            self._held = True
        if self._held and event.kind in ("press", "move"):
            self.pick(doc, event, ctx)
        if event.kind == "release":
            self._held = False
        return None

    def reset(self) -> None:
        self._held = False
