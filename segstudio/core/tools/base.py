"""What every tool shares: the plain event it is driven by, its settings, and its preview.

The canvas turns Qt mouse and tablet events into `ToolEvent`s and calls `tool.handle(doc, event,
ctx)`; everything a tool does to the mask happens in the core, so tools are tested without a
screen. A press, its moves and its release make one undoable step. Alt + press picks the class
under the cursor with any tool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

import numpy as np

from segstudio.core import edits
from segstudio.core.document import MaskDocument
from segstudio.core.geometry import BBox

EventKind = Literal["press", "move", "release", "double", "cancel"]
EVENT_KINDS = frozenset({"press", "move", "release", "double", "cancel"})
MODIFIERS = frozenset({"shift", "ctrl", "alt"})


@dataclass(frozen=True)
class ToolEvent:
    """A pointer event in image coordinates (pixel (row i, col j) covers [j, j+1) x [i, i+1))."""

    kind: EventKind
    x: float
    y: float
    modifiers: frozenset[str] = frozenset()
    pressure: float = 1.0
    button: str = "left"

    def __post_init__(self):
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown tool event kind {self.kind!r}")
        unknown = set(self.modifiers) - MODIFIERS
        if unknown:
            raise ValueError(f"unknown modifiers {sorted(unknown)}")

    @property
    def point(self) -> edits.Point:
        return (self.x, self.y)


@dataclass
class ToolContext:
    """The settings a tool reads; the GUI owns one and updates it as the person changes them.

    `image` is the picture shown (uint8, H x W x 1 grey or H x W x 3 RGB) for the wand and GrabCut; `snap_distance`
    is how close (in image pixels, so the GUI scales it with zoom) a click must come to a
    polygon's first vertex to close it; `on_pick` is called with the class a pick found.
    """

    class_id: int = 0
    radius: float = 8.0
    tolerance: float = 12.0
    image: np.ndarray | None = None
    snap_distance: float = 6.0
    on_pick: Callable[[int], None] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ToolPreview:
    """An in-progress shape the canvas draws over the image: a path, closed or not, or a box."""

    kind: Literal["path", "box"]
    points: tuple[edits.Point, ...]
    closed: bool = False


def pick_class(doc: MaskDocument, x: float, y: float) -> int | None:
    """The class under (x, y), or None over unlabelled pixels and outside the image."""
    if not edits.inside(doc.shape, x, y):
        return None
    value = int(doc.label[edits.pixel_of(x, y)])
    return None if value == doc.unlabelled else value


class Tool:
    """Base class: routes alt-picks and cancels; subclasses implement `on_event`."""

    name: ClassVar[str] = ""
    # Qt sends press, release, double, release for a double-click; tools that give the double
    # no meaning of its own see it as the press it also is.
    handles_double: ClassVar[bool] = False

    def __init__(self) -> None:
        self.picked: int | None = None
        self.notice = ""  # why the last event did nothing the person expected, said to them; or ""
        self._picking = False

    def handle(self, doc: MaskDocument, event: ToolEvent, ctx: ToolContext) -> BBox | None:
        """Apply one event; returns the box to repaint (the document also tells its listeners)."""
        self.notice = ""
        if event.kind == "double" and not self.handles_double:
            event = replace(event, kind="press")
        if event.kind == "press" and "alt" in event.modifiers:
            self._picking = True
        if self._picking:
            if event.kind in ("press", "move"):
                self.pick(doc, event, ctx)
            else:
                self._picking = False
            return None
        if event.kind == "cancel":
            self.reset()
            return doc.cancel_step()
        return self.on_event(doc, event, ctx)

    def pick(self, doc: MaskDocument, event: ToolEvent, ctx: ToolContext) -> None:
        picked = pick_class(doc, event.x, event.y)
        if picked is None:
            return
        self.picked = picked
        if ctx.on_pick is not None:
            ctx.on_pick(picked)

    def on_event(self, doc: MaskDocument, event: ToolEvent, ctx: ToolContext) -> BBox | None:
        raise NotImplementedError

    def preview(self) -> ToolPreview | None:
        """The shape being drawn, if any, for the canvas to show."""
        return None

    def reset(self) -> None:
        """Forget any shape in progress (after a cancel or a switch to another tool)."""


def require_image(ctx: ToolContext, doc: MaskDocument) -> np.ndarray | None:
    """The display image for colour-based tools, checked against the mask's size."""
    if ctx.image is None:
        return None
    if ctx.image.shape[:2] != doc.shape:
        raise ValueError(f"display image {ctx.image.shape[:2]} does not match the mask {doc.shape}")
    return ctx.image
