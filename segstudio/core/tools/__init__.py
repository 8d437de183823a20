"""The tool registry: one small spec per tool, in the order a toolbar shows them.

    tool = create_tool("brush")
    box = tool.handle(doc, ToolEvent("press", x, y), ctx)   # box to repaint, or None
    tool.notice                                             # why nothing happened, for the person, or ""
    shape = tool.preview()                                  # in-progress outline or box, or None
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from segstudio.core.tools.base import Tool, ToolContext, ToolEvent, ToolPreview, pick_class
from segstudio.core.tools.paint import BrushTool, EraserTool, PickerTool
from segstudio.core.tools.grabcut import GrabCutTool
from segstudio.core.tools.regions import AcceptTool, FillTool, WandTool
from segstudio.core.tools.shapes import LassoTool, PolygonTool


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    factory: Callable[[], Tool]
    needs_image: bool = False  # reads ToolContext.image (the display image)


TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec("brush", "Brush", "Paint the current class; Shift+click draws a straight line", BrushTool),
        ToolSpec("eraser", "Eraser", "Set pixels back to unlabelled", EraserTool),
        ToolSpec("fill", "Fill", "Fill the connected area under the click with the current class", FillTool),
        ToolSpec("polygon", "Polygon", "Click vertices; double-click or click the first one to fill (Ctrl erases)", PolygonTool),
        ToolSpec("lasso", "Lasso", "Drag an outline; release to fill it (Ctrl erases)", LassoTool),
        ToolSpec("picker", "Class picker", "Click to select the class under the cursor (Alt+click with any tool)", PickerTool),
        ToolSpec("wand", "Magic wand", "Click to fill similar colours; drag away to widen the tolerance", WandTool, True),
        ToolSpec("grabcut", "GrabCut", "Drag a box around an object to cut it out with the current class", GrabCutTool, True),
        ToolSpec("accept", "Accept proposals", "Click a proposal or drag a box to accept the proposals in it", AcceptTool),
    )
}


def create_tool(name: str) -> Tool:
    try:
        return TOOLS[name].factory()
    except KeyError:
        raise ValueError(f"unknown tool {name!r}; known tools: {', '.join(TOOLS)}") from None


__all__ = ["TOOLS", "Tool", "ToolContext", "ToolEvent", "ToolPreview", "ToolSpec", "create_tool", "pick_class"]
