"""Outline tools: polygon (click the vertices) and lasso (drag the outline).

Both fill the enclosed pixels with the current class as one step; with Ctrl held when the
shape is closed they erase it instead, to cut a wrong part out of a proposal.
"""

from __future__ import annotations

import math

from segstudio.core import edits
from segstudio.core.document import MaskDocument
from segstudio.core.geometry import BBox
from segstudio.core.tools.base import Tool, ToolContext, ToolEvent, ToolPreview


def close_shape(doc: MaskDocument, name: str, points: list[edits.Point], event: ToolEvent, ctx: ToolContext) -> BBox | None:
    with doc.step(name):
        region = edits.polygon(doc.shape, points)
        if "ctrl" in event.modifiers:
            return doc.erase_region(region)
        return doc.fill_region(region, ctx.class_id)


class PolygonTool(Tool):
    """Each press adds a vertex; a double-click, or a press near the first vertex, closes it."""

    name = "polygon"
    handles_double = True

    def __init__(self) -> None:
        super().__init__()
        self._vertices: list[edits.Point] = []
        self._hover: edits.Point | None = None

    def on_event(self, doc: MaskDocument, event: ToolEvent, ctx: ToolContext) -> BBox | None:
        point = event.point
        if event.kind == "move":
            self._hover = point
        elif event.kind == "press":
            if len(self._vertices) >= 3 and math.dist(point, self._vertices[0]) <= ctx.snap_distance:
                return self._close(doc, event, ctx)
            if not self._vertices or math.dist(point, self._vertices[-1]) > 1e-6:
                self._vertices.append(point)
        elif event.kind == "double" and len(self._vertices) >= 3:
            return self._close(doc, event, ctx)
        return None

    def _close(self, doc: MaskDocument, event: ToolEvent, ctx: ToolContext) -> BBox | None:
        vertices = self._vertices
        self.reset()
        return close_shape(doc, self.name, vertices, event, ctx)

    def preview(self) -> ToolPreview | None:
        if not self._vertices:
            return None
        points = self._vertices + ([self._hover] if self._hover is not None else [])
        return ToolPreview("path", tuple(points))

    def reset(self) -> None:
        self._vertices = []
        self._hover = None


class LassoTool(Tool):
    """Press, drag the outline, release: the enclosed pixels are filled."""

    name = "lasso"

    def __init__(self) -> None:
        super().__init__()
        self._path: list[edits.Point] = []

    def on_event(self, doc: MaskDocument, event: ToolEvent, ctx: ToolContext) -> BBox | None:
        if event.kind == "press":
            self._path = [event.point]
        elif not self._path:
            return None
        elif event.kind == "move":
            if math.dist(event.point, self._path[-1]) >= 0.5:
                self._path.append(event.point)
        elif event.kind == "release":
            path = self._path + [event.point]
            self.reset()
            return close_shape(doc, self.name, path, event, ctx)
        return None

    def preview(self) -> ToolPreview | None:
        return ToolPreview("path", tuple(self._path), closed=True) if self._path else None

    def reset(self) -> None:
        self._path = []
