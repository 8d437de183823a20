"""Region tools: fill, magic wand and accept-proposals (GrabCut, a box tool too, is in grabcut.py).

They find a region (a connected label area, a colour range of the image, GrabCut's foreground,
the proposals in a box) and change it as one undoable step.
"""

from __future__ import annotations

import math

from segstudio.core import edits
from segstudio.core.document import MaskDocument
from segstudio.core.geometry import BBox
from segstudio.core.project.records import Source
from segstudio.core.tools.base import Tool, ToolContext, ToolEvent, ToolPreview, require_image

# How much the wand's colour tolerance grows per image pixel dragged away from the seed.
WAND_GROWTH_PER_PIXEL = 0.5
# A drag shorter than this (image pixels) is a click.
CLICK_DISTANCE = 3.0


class FillTool(Tool):
    """Click: the 4-connected area of the clicked pixel's label takes the current class.

    The fill happens on release, so a cancelled press (Escape while held) changes nothing.
    """

    name = "fill"

    def __init__(self) -> None:
        super().__init__()
        self._pressed: edits.Point | None = None

    def on_event(self, doc: MaskDocument, event: ToolEvent, ctx: ToolContext) -> BBox | None:
        if event.kind == "press":
            self._pressed = event.point
        elif event.kind == "release" and self._pressed is not None:
            point, self._pressed = self._pressed, None
            return doc.flood_fill(*point, ctx.class_id)
        return None

    def reset(self) -> None:
        self._pressed = None


class WandTool(Tool):
    """Click: the connected pixels of similar colour take the current class.

    Dragging away from the click widens the colour tolerance; the region updates live and the
    release keeps it, all as one step.
    """

    name = "wand"

    def __init__(self) -> None:
        super().__init__()
        self._seed: edits.Point | None = None

    def on_event(self, doc: MaskDocument, event: ToolEvent, ctx: ToolContext) -> BBox | None:
        image = require_image(ctx, doc)
        if image is None:
            return None
        if event.kind == "press":
            self._seed = event.point
            doc.begin_step(self.name)
            return self._fill(doc, image, ctx.tolerance, ctx)
        if self._seed is None or event.kind not in ("move", "release"):
            return None
        tolerance = ctx.tolerance + WAND_GROWTH_PER_PIXEL * math.dist(self._seed, event.point)
        reverted = doc.revert_step()
        box = self._fill(doc, image, tolerance, ctx)
        if event.kind == "release":
            self._seed = None
            doc.end_step()
        return box.union(reverted) if box is not None else reverted

    def _fill(self, doc, image, tolerance, ctx) -> BBox | None:
        return doc.fill_region(edits.color_region(image, *self._seed, tolerance), ctx.class_id)

    def reset(self) -> None:
        self._seed = None


class BoxDragTool(Tool):
    """Press, drag, release: a box (previewed while dragging) or, for a short drag, a click."""

    def __init__(self) -> None:
        super().__init__()
        self._start: edits.Point | None = None
        self._end: edits.Point | None = None

    def on_event(self, doc: MaskDocument, event: ToolEvent, ctx: ToolContext) -> BBox | None:
        if event.kind == "press":
            self._start = self._end = event.point
            return None
        if self._start is None:
            return None
        self._end = event.point
        if event.kind != "release":
            return None
        start, end = self._start, self._end
        self.reset()
        if math.dist(start, end) < CLICK_DISTANCE:
            return self.click(doc, start, ctx)
        return self.box(doc, BBox.from_points([start, end]).clip(doc.shape), ctx)

    def click(self, doc: MaskDocument, point: edits.Point, ctx: ToolContext) -> BBox | None:
        return None

    def box(self, doc: MaskDocument, box: BBox, ctx: ToolContext) -> BBox | None:
        raise NotImplementedError

    def preview(self) -> ToolPreview | None:
        if self._start is None or self._end is None:
            return None
        return ToolPreview("box", (self._start, self._end))

    def reset(self) -> None:
        self._start = self._end = None


class AcceptTool(BoxDragTool):
    """Drag a box to accept every proposal in it, or click a proposal to accept that region."""

    name = "accept"

    def box(self, doc: MaskDocument, box: BBox, ctx: ToolContext) -> BBox | None:
        return doc.accept_proposals(box)

    def click(self, doc: MaskDocument, point: edits.Point, ctx: ToolContext) -> BBox | None:
        region = edits.connected_same_value(doc.label, *point, within=doc.source == Source.PROPOSAL)
        if region is None:
            return None
        return doc.accept_proposals(region[0], region[1])
