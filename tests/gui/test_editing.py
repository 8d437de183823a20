"""Editing through the real window: mouse strokes and keys on the canvas change the real mask."""

from __future__ import annotations

import numpy as np
from gui_helpers import IGNORE, at, key, stroke
from PySide6.QtCore import Qt


def test_paint_erase_undo_redo_with_mouse_and_keys(opened, qtbot):
    window = opened
    doc = window.state.document
    key(qtbot, window, Qt.Key.Key_B)
    window.brush_size.setValue(3)
    assert window.state.current_class == 1
    assert not window.actions.undo.isEnabled()
    stroke(qtbot, window, [(10, 20), (20, 20), (30, 20)])
    assert window.actions.undo.isEnabled() and not window.actions.redo.isEnabled()
    assert (doc.label[20, 10:31] == 1).all() and (doc.source[20, 10:31] == 3).all()
    assert doc.label[30, 20] == IGNORE

    key(qtbot, window, Qt.Key.Key_E)
    stroke(qtbot, window, [(10, 20), (30, 20)])
    assert (doc.label[20, 10:31] == IGNORE).all()

    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (doc.label[20, 10:31] == 1).all()
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (doc.label == IGNORE).all()
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert (doc.label[20, 10:31] == 1).all()
    key(qtbot, window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert (doc.label[20, 10:31] == IGNORE).all()
    assert window.history.count() == 3  # "as opened", brush, eraser


def test_number_keys_pick_the_class_that_paints(opened, qtbot):
    window = opened
    key(qtbot, window, Qt.Key.Key_3)
    assert window.state.current_class == 2
    assert window.class_panel.list.currentRow() == 2
    window.brush_size.setValue(1)
    stroke(qtbot, window, [(5, 5), (6, 5)])
    assert window.state.document.label[5, 5] == 2
    key(qtbot, window, Qt.Key.Key_1)
    assert window.state.current_class == 0


def test_fill_covers_the_connected_unlabelled_area(opened, qtbot):
    window = opened
    key(qtbot, window, Qt.Key.Key_G)
    qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, pos=at(window, 3, 3))
    assert (window.state.document.label == 1).all()


def test_polygon_fills_inside_its_corners(opened, qtbot):
    window = opened
    key(qtbot, window, Qt.Key.Key_P)
    corners = [(10, 10), (40, 10), (40, 40), (10, 40)]
    for corner in corners:
        qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, pos=at(window, *corner))
    qtbot.keyClick(window.canvas, Qt.Key.Key_Return)
    label = window.state.document.label
    assert label[25, 25] == 1 and label[11, 11] == 1
    assert label[5, 5] == IGNORE and label[45, 45] == IGNORE


def test_wand_takes_the_bright_square_only(opened, qtbot):
    window = opened
    key(qtbot, window, Qt.Key.Key_W)
    qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, pos=at(window, 60, 30))
    label = window.state.document.label
    assert (label[8:56, 48:88] == 1).all()  # the yellow square of the test image
    assert (label[:, :40] == IGNORE).all()


def test_alt_click_picks_the_class_under_the_cursor(opened, qtbot):
    window = opened
    key(qtbot, window, Qt.Key.Key_3)
    window.brush_size.setValue(5)
    stroke(qtbot, window, [(20, 20), (22, 20)])
    key(qtbot, window, Qt.Key.Key_1)
    qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier, pos=at(window, 21, 20))
    assert window.state.current_class == 2


def test_brush_size_keys_and_canvas_wheel_zoom(opened, qtbot):
    window = opened
    window.brush_size.setValue(16)
    key(qtbot, window, Qt.Key.Key_BracketRight)
    assert window.brush_size.value() == 20
    key(qtbot, window, Qt.Key.Key_BracketLeft)
    key(qtbot, window, Qt.Key.Key_BracketLeft)
    assert window.brush_size.value() == 12
    scale = window.canvas.scale
    window.canvas.zoom_about(window.canvas.rect().center().toPointF(), 2.0)
    assert window.canvas.scale == np.float64(scale * 2)
    key(qtbot, window, Qt.Key.Key_F)
    assert window.canvas.scale == scale


def test_lasso_fills_the_dragged_outline(opened, qtbot):
    window = opened
    key(qtbot, window, Qt.Key.Key_L)
    stroke(qtbot, window, [(5, 5), (30, 5), (30, 30), (5, 30)])
    label = window.state.document.label
    assert label[15, 15] == 1 and label[40, 40] == IGNORE


def test_grabcut_box_cuts_out_the_object(opened, qtbot):
    window = opened
    key(qtbot, window, Qt.Key.Key_C)
    stroke(qtbot, window, [(42, 3), (70, 30), (93, 61)])
    label = window.state.document.label
    square = label[8:56, 48:88] == 1
    assert square.mean() > 0.9  # the bright square
    assert (label[:, :40] == IGNORE).all()


def test_accept_tool_and_accept_all_review_proposals(opened, qtbot):
    window = opened
    doc = window.state.document
    proposal = np.full(doc.shape, IGNORE, np.uint8)
    proposal[5:20, 5:20] = 1
    proposal[40:60, 60:90] = 2
    doc.apply_proposal(proposal)
    assert (doc.source[5:20, 5:20] == 1).all()
    key(qtbot, window, Qt.Key.Key_A)
    qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, pos=at(window, 10, 10))
    assert (doc.source[5:20, 5:20] == 2).all() and (doc.source[40:60, 60:90] == 1).all()
    key(qtbot, window, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    assert (doc.source[40:60, 60:90] == 2).all()
    key(qtbot, window, Qt.Key.Key_Delete, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert (doc.label == IGNORE).all() and (doc.source == 0).all()
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (doc.source[40:60, 60:90] == 2).all()


def test_clicking_a_history_step_goes_back_and_forth(opened, qtbot):
    window = opened
    window.brush_size.setValue(1)
    for y in (5, 10, 15):
        stroke(qtbot, window, [(5, y), (20, y)])
    label = window.state.document.label
    history = window.history
    assert [history.item(row).text() for row in range(history.count())] == ["(as opened)", "1. brush", "2. brush", "3. brush"]
    history.itemClicked.emit(history.item(1))
    assert label[5, 10] == 1 and label[10, 10] == IGNORE and label[15, 10] == IGNORE
    history.itemClicked.emit(history.item(3))
    assert label[15, 10] == 1


def test_pen_pressure_scales_the_brush(opened, qtbot):
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QPointingDevice, QTabletEvent
    from PySide6.QtWidgets import QApplication

    window = opened
    canvas = window.canvas
    window.brush_size.setValue(21)

    def pen(kind, x, y, pressure):
        pos = QPointF(at(window, x, y))
        button = Qt.MouseButton.NoButton if kind == QEvent.Type.TabletMove else Qt.MouseButton.LeftButton
        buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.TabletRelease else Qt.MouseButton.LeftButton
        event = QTabletEvent(kind, QPointingDevice.primaryPointingDevice(), pos, QPointF(canvas.mapToGlobal(pos)),
                             pressure, 0.0, 0.0, 0.0, 0.0, 0.0, Qt.KeyboardModifier.NoModifier, button, buttons)
        QApplication.sendEvent(canvas, event)

    for y, pressure in ((15, 1.0), (45, 0.25)):
        pen(QEvent.Type.TabletPress, 20, y, pressure)
        pen(QEvent.Type.TabletMove, 60, y, pressure)
        pen(QEvent.Type.TabletRelease, 60, y, pressure)
    column = window.state.document.label[:, 40]
    hard = int((column[:30] == 1).sum())
    light = int((column[30:] == 1).sum())
    assert hard == 21 and light < hard / 2


def test_switching_tool_mid_stroke_keeps_the_stroke_and_esc_drops_a_polygon(opened, qtbot):
    window = opened
    doc = window.state.document
    window.brush_size.setValue(3)
    qtbot.mousePress(window.canvas, Qt.MouseButton.LeftButton, pos=at(window, 10, 10))
    qtbot.mouseMove(window.canvas, at(window, 30, 10))
    key(qtbot, window, Qt.Key.Key_P)  # the button is still down
    qtbot.mouseRelease(window.canvas, Qt.MouseButton.LeftButton, pos=at(window, 30, 10))
    assert (doc.label[10, 10:31] == 1).all() and doc.can_undo
    for corner in ((40, 20), (60, 20), (60, 40)):
        qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, pos=at(window, *corner))
    key(qtbot, window, Qt.Key.Key_Escape)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Return)
    assert doc.label[30, 55] == IGNORE  # nothing left to close


def test_the_history_view_follows_the_documents_capped_undo_history(opened, qtbot):
    window = opened
    window.brush_size.setValue(1)
    document = window.state.document
    history = window.history

    def rows():
        return [history.item(row).text() for row in range(history.count())]

    stroke(qtbot, window, [(5, 5), (20, 5)])
    document.undo_limit_bytes = int(document.undo_bytes * 2.5)  # room for two such strokes
    for y in (10, 15):
        stroke(qtbot, window, [(5, y), (20, y)])
    assert rows() == ["(older steps dropped: undo memory is full)", "1. brush", "2. brush"]
    history.itemClicked.emit(history.item(0))  # back as far as the document can go
    assert document.label[5, 10] == 1 and document.label[10, 10] == IGNORE and not document.can_undo
    assert history.currentRow() == 0
    history.itemClicked.emit(history.item(2))
    assert document.label[15, 10] == 1 and history.currentRow() == 2

    key(qtbot, window, Qt.Key.Key_Delete, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert (document.label == IGNORE).all() and not document.can_undo  # too big to keep: history cleared
    assert rows() == ["(older steps dropped: undo memory is full)"]


def test_grabcut_that_finds_nothing_says_so_in_the_message_bar(opened, qtbot):
    from segstudio.core.tools.grabcut import FOUND_NOTHING

    window = opened
    key(qtbot, window, Qt.Key.Key_C)
    stroke(qtbot, window, [(5, 10), (20, 30), (35, 50)])  # the flat dark half: nothing to cut
    assert window.message_bar.text() == FOUND_NOTHING and window.message_bar.kind == "info"
    assert (window.state.document.label == IGNORE).all() and not window.actions.undo.isEnabled()
    stroke(qtbot, window, [(42, 3), (70, 30), (93, 61)])  # the bright square: found, the notice goes
    assert window.message_bar.text() == "" and (window.state.document.label == 1).any()
