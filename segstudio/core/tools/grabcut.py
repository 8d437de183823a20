"""GrabCut: drag a box around an object; OpenCV's GrabCut finds it and it takes the current class.

When it finds nothing (a flat box, a box with no background around the object, a click instead
of a drag) the mask is left alone and the tool says why in `notice`, which the window shows:
a tool that silently does nothing looks broken.
"""

from __future__ import annotations

from segstudio.core import edits
from segstudio.core.document import MaskDocument
from segstudio.core.geometry import BBox
from segstudio.core.tools.base import ToolContext, require_image
from segstudio.core.tools.regions import BoxDragTool

FOUND_NOTHING = ("GrabCut found no object in the box. Drag the box a little larger than the object, with some "
                 "background inside it on every side; on an even area there is nothing to cut.")
CLICKED = "GrabCut needs a box: press, drag around the object and release."


class GrabCutTool(BoxDragTool):
    """Drag a box around an object: OpenCV's GrabCut finds it, and it takes the current class."""

    name = "grabcut"

    def box(self, doc: MaskDocument, box: BBox, ctx: ToolContext) -> BBox | None:
        image = require_image(ctx, doc)
        if image is None:
            return None
        region = edits.grabcut(image, box)
        if region is None:
            self.notice = FOUND_NOTHING
            return None
        with doc.step(self.name):
            return doc.fill_region(region, ctx.class_id)

    def click(self, doc: MaskDocument, point: edits.Point, ctx: ToolContext) -> BBox | None:
        self.notice = CLICKED
        return None
