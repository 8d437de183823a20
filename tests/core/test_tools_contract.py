"""The contract every registered tool keeps, checked on each of them with the same gestures."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.core.document import MaskDocument
from segstudio.core.geometry import BBox
from segstudio.core.tools import TOOLS, ToolContext, ToolEvent, ToolPreview, create_tool
from tests.data_makers.scenes import SIZE
from tests.data_makers.scenes import disc_scene

GESTURES = {
    "click": [("press", 60, 40), ("release", 60, 40)],
    "drag": [("press", 30, 15), ("move", 50, 30), ("move", 80, 60), ("release", 85, 65)],
    # Three clicks, the last one a double-click, in the order Qt reports them.
    "clicks": [("press", 20, 20), ("release", 20, 20), ("press", 60, 20), ("release", 60, 20),
               ("press", 60, 60), ("release", 60, 60), ("double", 60, 60), ("release", 60, 60)],
}


def document() -> MaskDocument:
    label = np.full((SIZE, SIZE), 255, np.uint8)
    label[:, :50] = 1
    source = np.zeros((SIZE, SIZE), np.uint8)
    source[:, :50] = 1
    return MaskDocument(1, label, source)


@pytest.fixture(params=list(TOOLS))
def name(request):
    return request.param


@pytest.mark.parametrize("gesture", list(GESTURES))
def test_each_press_to_release_is_at_most_one_undoable_step(name, gesture):
    doc, tool = document(), create_tool(name)
    ctx = ToolContext(class_id=2, radius=4, image=disc_scene())
    before = doc.label.copy(), doc.source.copy()
    presses = 0
    for kind, x, y in GESTURES[gesture]:
        box = tool.handle(doc, ToolEvent(kind, x, y), ctx)
        presses += kind in ("press", "double")
        assert box is None or isinstance(box, BBox)
        preview = tool.preview()
        assert preview is None or isinstance(preview, ToolPreview)
        if kind == "release":
            assert not doc.in_step  # nothing left open between gestures
    steps = 0
    while doc.can_undo:
        doc.undo()
        steps += 1
    assert steps <= presses
    assert np.array_equal(doc.label, before[0]) and np.array_equal(doc.source, before[1])


def test_cancel_mid_gesture_leaves_the_mask_as_it_was(name):
    doc, tool = document(), create_tool(name)
    ctx = ToolContext(class_id=2, radius=4, image=disc_scene())
    before = doc.label.copy(), doc.source.copy()
    for kind, x, y in [("press", 30, 15), ("move", 50, 30), ("move", 80, 60)]:
        tool.handle(doc, ToolEvent(kind, x, y), ctx)
    tool.handle(doc, ToolEvent("cancel", 80, 60), ctx)
    assert tool.preview() is None and not doc.in_step and not doc.can_undo
    assert np.array_equal(doc.label, before[0]) and np.array_equal(doc.source, before[1])


def test_events_outside_the_image_are_harmless(name):
    doc, tool = document(), create_tool(name)
    ctx = ToolContext(class_id=2, radius=4, image=disc_scene())
    for kind, x, y in [("press", -50, -50), ("move", -10, 200), ("release", 500, -3), ("double", -1, -1)]:
        tool.handle(doc, ToolEvent(kind, x, y), ctx)
    tool.handle(doc, ToolEvent("cancel", 0, 0), ctx)
    assert not doc.in_step


def test_spec_describes_the_tool(name):
    spec = TOOLS[name]
    assert spec.name == name == create_tool(name).name
    assert spec.title and spec.description
