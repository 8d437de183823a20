"""Each tool driven by plain ToolEvents, as the canvas drives it."""

from __future__ import annotations

import numpy as np
import pytest

from segstudio.core.document import MaskDocument
from segstudio.core.tools import TOOLS, ToolContext, ToolEvent, create_tool
from tests.data_makers.scenes import SIZE, disc_mask, disc_scene

UNLABELLED = 255


def blank() -> MaskDocument:
    return MaskDocument(3, np.full((SIZE, SIZE), UNLABELLED, np.uint8), np.zeros((SIZE, SIZE), np.uint8))


def drive(tool, doc, ctx, *events):
    boxes = []
    for kind, x, y, *mods in events:
        boxes.append(tool.handle(doc, ToolEvent(kind, x, y, frozenset(mods)), ctx))
    return boxes


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / (a | b).sum()


def test_brush_stroke_is_one_step_and_returns_repaint_boxes():
    doc, tool, ctx = blank(), create_tool("brush"), ToolContext(class_id=2, radius=3)
    boxes = drive(tool, doc, ctx, ("press", 10, 10), ("move", 30, 12), ("move", 50, 40), ("release", 50, 40))
    assert all(box is not None for box in boxes)
    assert doc.label[10, 10] == 2 and doc.label[12, 30] == 2 and doc.label[40, 50] == 2
    assert (doc.source[doc.label == 2] == 3).all()
    doc.undo()
    assert (doc.label == UNLABELLED).all() and not doc.can_undo


def test_brush_hover_without_press_paints_nothing():
    doc, tool = blank(), create_tool("brush")
    drive(tool, doc, ToolContext(class_id=1), ("move", 10, 10), ("release", 20, 20))
    assert (doc.label == UNLABELLED).all()


def test_brush_pressure_scales_the_radius():
    doc, tool = blank(), create_tool("brush")
    tool.handle(doc, ToolEvent("press", 40.5, 40.5, pressure=0.25), ToolContext(class_id=1, radius=8))
    tool.handle(doc, ToolEvent("release", 40.5, 40.5, pressure=0.25), ToolContext(class_id=1, radius=8))
    rows = np.nonzero((doc.label == 1).any(axis=1))[0]
    assert rows.max() - rows.min() + 1 == 5  # radius 2: 5 pixels wide


def test_shift_click_joins_the_previous_stroke_with_a_straight_line():
    doc, tool, ctx = blank(), create_tool("brush"), ToolContext(class_id=1, radius=0)
    drive(tool, doc, ctx, ("press", 10.5, 10.5), ("release", 10.5, 10.5))
    drive(tool, doc, ctx, ("press", 80.5, 10.5, "shift"), ("release", 80.5, 10.5))
    assert (doc.label[10, 10:81] == 1).all()


def test_eraser_unlabels():
    doc, ctx = blank(), ToolContext(class_id=1, radius=4)
    drive(create_tool("brush"), doc, ctx, ("press", 10, 50), ("release", 80, 50))
    drive(create_tool("eraser"), doc, ctx, ("press", 45, 30), ("move", 45, 70), ("release", 45, 70))
    assert doc.label[50, 20] == 1 and doc.label[50, 45] == UNLABELLED and doc.source[50, 45] == 0


def test_fill_fills_the_connected_area():
    doc, ctx = blank(), ToolContext(class_id=1, radius=1)
    drive(create_tool("brush"), doc, ctx, ("press", 48, 0), ("release", 48, 95))  # a wall down the middle
    drive(create_tool("fill"), doc, ToolContext(class_id=4), ("press", 5, 5), ("release", 5, 5))
    assert (doc.label[:, :45] == 4).all() and (doc.label[:, 52:] == UNLABELLED).all()


def test_polygon_closes_on_the_first_vertex_and_on_double_click():
    doc, tool, ctx = blank(), create_tool("polygon"), ToolContext(class_id=3, snap_distance=4)
    drive(tool, doc, ctx, ("press", 10.5, 10.5), ("release", 10.5, 10.5), ("press", 30.5, 10.5), ("move", 30, 30))
    assert tool.preview().points == ((10.5, 10.5), (30.5, 10.5), (30, 30))
    drive(tool, doc, ctx, ("press", 30.5, 30.5), ("press", 10.5, 30.5), ("press", 12, 12))
    assert tool.preview() is None
    assert (doc.label[10:31, 10:31] == 3).all() and (doc.label == 3).sum() == 21 * 21
    drive(tool, doc, ctx, ("press", 50.5, 50.5), ("press", 70.5, 50.5), ("press", 60.5, 70.5), ("double", 60.5, 70.5))
    assert doc.label[55, 60] == 3 and doc.label[50, 50] == 3


def test_polygon_with_ctrl_cuts_a_hole():
    doc = blank()
    doc.label[:] = 1
    doc.source[:] = 3
    drive(create_tool("polygon"), doc, ToolContext(), ("press", 20, 20), ("press", 40, 20), ("press", 40, 40),
          ("double", 20, 40, "ctrl"))
    assert doc.label[30, 30] == UNLABELLED and doc.label[10, 10] == 1


def test_lasso_fills_the_dragged_outline():
    doc, tool, ctx = blank(), create_tool("lasso"), ToolContext(class_id=2)
    drive(tool, doc, ctx, ("press", 20, 20), ("move", 60, 20), ("move", 60, 60))
    assert tool.preview().closed and len(tool.preview().points) == 3
    drive(tool, doc, ctx, ("release", 20, 60))
    assert doc.label[40, 40] == 2 and doc.label[70, 70] == UNLABELLED and tool.preview() is None


def test_picker_and_alt_click_pick_the_class_under_the_cursor():
    doc = blank()
    doc.label[:, 50:] = 6
    picked = []
    ctx = ToolContext(class_id=0, on_pick=picked.append)
    picker = create_tool("picker")
    drive(picker, doc, ctx, ("press", 60, 5), ("release", 60, 5))
    assert picker.picked == 6 and picked == [6]
    brush = create_tool("brush")
    drive(brush, doc, ctx, ("press", 70, 5, "alt"), ("move", 10, 5), ("release", 10, 5))
    assert picked == [6, 6] and brush.picked == 6 and not doc.can_undo  # picking paints nothing
    drive(picker, doc, ctx, ("press", 10, 5))  # unlabelled: nothing is picked
    assert picked == [6, 6]


def test_wand_selects_the_similar_colour_region():
    doc, tool, ctx = blank(), create_tool("wand"), ToolContext(class_id=5, tolerance=30, image=disc_scene())
    drive(tool, doc, ctx, ("press", 60, 40), ("release", 60, 40))
    assert iou(doc.label == 5, disc_mask()) > 0.95
    assert doc.undo_name == "wand"


def test_wand_drag_widens_the_tolerance_within_one_step():
    doc, tool = blank(), create_tool("wand")
    ctx = ToolContext(class_id=5, tolerance=0, image=disc_scene())
    drive(tool, doc, ctx, ("press", 5, 5))
    small = (doc.label == 5).sum()
    drive(tool, doc, ctx, ("move", 5, 45))
    drive(tool, doc, ctx, ("release", 5, 45))  # tolerance 20: the whole background, not the disc
    background = ~disc_mask()
    assert small < 50 and iou(doc.label == 5, background) > 0.95
    doc.undo()
    assert (doc.label == UNLABELLED).all()


def test_wand_without_an_image_does_nothing_and_a_wrong_size_is_refused():
    doc, tool = blank(), create_tool("wand")
    assert tool.handle(doc, ToolEvent("press", 5, 5), ToolContext()) is None
    with pytest.raises(ValueError, match="does not match"):
        tool.handle(doc, ToolEvent("press", 5, 5), ToolContext(image=np.zeros((10, 10, 3), np.uint8)))


def test_grabcut_cuts_out_the_object_in_the_box():
    doc, tool, ctx = blank(), create_tool("grabcut"), ToolContext(class_id=1, image=disc_scene())
    drive(tool, doc, ctx, ("press", 33, 13), ("move", 70, 50))
    assert tool.preview().kind == "box"
    drive(tool, doc, ctx, ("release", 88, 68))
    assert iou(doc.label == 1, disc_mask()) > 0.85
    assert (doc.source[doc.label == 1] == 3).all() and doc.undo_name == "grabcut"


def test_accept_box_and_click():
    doc = blank()
    doc.label[:, :48] = 1
    doc.label[:, 48:] = 2
    doc.source[:] = 1
    tool = create_tool("accept")
    drive(tool, doc, ToolContext(), ("press", 0, 0), ("release", 20, 20))
    assert (doc.source[:21, :21] == 2).all() and doc.source[30, 30] == 1
    drive(tool, doc, ToolContext(), ("press", 70, 50), ("release", 71, 50))  # a click on class 2
    assert (doc.source[:, 48:] == 2).all() and doc.source[50, 30] == 1
    doc.undo()
    assert (doc.source[:, 48:] == 1).all()


def test_unknown_tool_and_event_are_refused():
    with pytest.raises(ValueError, match="unknown tool"):
        create_tool("airbrush")
    with pytest.raises(ValueError, match="kind"):
        ToolEvent("hover", 0, 0)
    with pytest.raises(ValueError, match="modifiers"):
        ToolEvent("press", 0, 0, frozenset({"meta"}))


def test_registry_lists_every_tool_of_the_contract():
    assert list(TOOLS) == ["brush", "eraser", "fill", "polygon", "lasso", "picker", "wand", "grabcut", "accept"]


def test_grabcut_that_finds_nothing_leaves_the_mask_and_says_why():
    from segstudio.core.tools.grabcut import CLICKED, FOUND_NOTHING

    flat = np.full((SIZE, SIZE, 3), 40, np.uint8)
    doc, tool, ctx = blank(), create_tool("grabcut"), ToolContext(class_id=1, image=flat)
    drive(tool, doc, ctx, ("press", 10, 10), ("release", 60, 50))
    assert tool.notice == FOUND_NOTHING and (doc.label == UNLABELLED).all() and not doc.can_undo
    drive(tool, doc, ctx, ("press", 10, 10), ("release", 11, 10))  # a click, not a box
    assert tool.notice == CLICKED
    ctx.image = disc_scene()
    drive(tool, doc, ctx, ("press", 33, 13), ("release", 88, 68))
    assert tool.notice == "" and (doc.label == 1).any()


@pytest.mark.parametrize("name, events", [
    ("wand", [("press", 60, 40), ("move", 62, 40), ("release", 62, 40)]),
    ("grabcut", [("press", 33, 13), ("release", 88, 68)]),
])
def test_a_grey_picture_gives_what_its_rgb_form_gives(name, events):
    """Grey images reach the tools as H x W x 1 (core.imageio.to_picture), not expanded to RGB."""
    grey = disc_scene().mean(axis=2, keepdims=True).astype(np.uint8)
    grey[::7, ::5] += 9  # some texture for GrabCut's colour model
    results = []
    for image in (grey, np.repeat(grey, 3, axis=2)):
        doc, tool = blank(), create_tool(name)
        drive(tool, doc, ToolContext(class_id=1, tolerance=20, image=image), *events)
        results.append(doc.label.copy())
    assert (results[0] == 1).sum() > 100 and np.array_equal(results[0], results[1])
