"""The person controls the review: done is undoable across the move to the next image, images go
back to new or in progress or are skipped with a reason, D is next image (labelme), and the
window shows done / total, the class being painted and the pixel value under the cursor."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QInputDialog, QMenu

from gui_helpers import IGNORE, at, key, settle, stroke
from segstudio.core.project import Project, Source, Status

CTRL = Qt.KeyboardModifier.ControlModifier


def _propose_first(project_root):
    with Project.open(project_root) as project:
        first = project.images()[0]
        label = np.full((first.height, first.width), IGNORE, np.uint8)
        label[:20] = 1
        project.write_masks(first.id, label, np.where(label == 1, Source.PROPOSAL, Source.NONE).astype(np.uint8))
    return first


def test_done_then_ctrl_z_on_the_next_image_takes_the_done_back(window, project_root, qtbot):
    first = _propose_first(project_root)
    assert window.open_project(project_root)
    settle(qtbot, window)
    key(qtbot, window, Qt.Key.Key_Return, CTRL)
    settle(qtbot, window)
    assert window.state.image_id != first.id and window.review.counter.text() == "1 / 3 done"
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert window.state.image_id == first.id  # back on the image, its proposals proposals again
    assert window.state.project.image(first.id).status == Status.NEW
    assert (window.state.document.source[:20] == Source.PROPOSAL).all()
    assert window.review.counter.text() == "0 / 3 done"
    key(qtbot, window, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)  # redo
    assert window.state.project.image(first.id).status == Status.DONE


def test_d_is_next_image_and_never_marks_done(opened, qtbot):
    window = opened
    first = window.state.image_id
    key(qtbot, window, Qt.Key.Key_D)
    settle(qtbot, window)
    assert window.state.image_id != first
    assert window.state.project.image(first).status == Status.NEW
    key(qtbot, window, Qt.Key.Key_D, Qt.KeyboardModifier.ShiftModifier)
    settle(qtbot, window)
    assert window.state.image_id == first


def right_click(widget, pos) -> None:
    """What the platform sends on a right-click (QTest's clicks go to the widget, not through it)."""
    QApplication.sendEvent(widget, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos)))


def _answer_next_input_dialog(text: str) -> None:
    def answer():
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QInputDialog) and w.isVisible())
        dialog.setTextValue(text)
        dialog.accept()

    QTimer.singleShot(50, answer)


def _skip_open_image(qtbot, window, reason: str) -> int:
    """Skip with the reason typed into the dialog; returns the skipped image's id."""
    skipped = window.state.image_id
    _answer_next_input_dialog(reason)
    window.actions.skip.trigger()
    settle(qtbot, window)
    return skipped


def test_skip_asks_a_reason_and_set_back_from_the_canvas_menu(opened, qtbot):
    window = opened
    first = _skip_open_image(qtbot, window, "blurred")
    assert window.state.project.image(first).status == Status.SKIPPED
    assert window.session.workspace.skip_reason(first) == "blurred"
    assert window.state.image_id != first  # on to the next unreviewed image
    window.go_to(first)
    settle(qtbot, window)
    right_click(window.canvas, at(window, 20, 20))
    menu = window.context_menu
    qtbot.waitUntil(menu.isVisible)
    titles = [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]
    assert "Set back to in progress" in titles and "Mark done" in titles and "Undo" in titles
    next(a for a in menu.actions() if a.text().replace("&", "") == "Set back to in progress").trigger()
    menu.close()
    assert window.state.project.image(first).status == Status.IN_PROGRESS
    window.activateWindow()  # the closed menu had the keyboard
    qtbot.waitUntil(window.isActiveWindow)
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert window.state.project.image(first).status == Status.SKIPPED


def test_the_image_list_menu_opens_an_image_and_names_the_skip_reason(opened, qtbot):
    window = opened
    first = _skip_open_image(qtbot, window, "duplicate")
    view = window.image_list.view
    row = next(i for i, r in enumerate(window.image_list.model.records) if r.id == first)
    rect = view.visualRect(window.image_list.model.index(row))
    right_click(view.viewport(), rect.center())
    menu: QMenu = window.context_menu
    texts = [a.text() for a in menu.actions()]
    assert "Skipped: duplicate" in texts
    next(a for a in menu.actions() if a.text().startswith("Open ")).trigger()
    menu.close()
    settle(qtbot, window)
    assert window.state.image_id == first


def test_the_status_bar_shows_the_class_being_painted_and_the_pixel_value(opened, qtbot):
    window = opened
    assert "foreground" in window.review.current_class.name.text()
    key(qtbot, window, Qt.Key.Key_3)
    assert "other" in window.review.current_class.name.text()
    qtbot.mouseMove(window.canvas, at(window, 60, 30))  # the bright square of the test image
    r, g, b = window.session.image.raw[30, 60][:3]
    assert f"value {r}, {g}, {b}" in window.status.position.text()
    window.brush_size.setValue(3)
    stroke(qtbot, window, [(10, 10), (12, 10)])
    assert window.state.document.label[10, 11] == 2
    # Qt may fold a move that follows a release into it: move away first, then onto the painted pixel.
    qtbot.mouseMove(window.canvas, at(window, 40, 50))
    qtbot.mouseMove(window.canvas, at(window, 11, 10))
    qtbot.waitUntil(lambda: window.status.class_under.text() == "other", timeout=5_000)


def test_the_uncertainty_map_is_a_white_veil_with_a_legend(opened, qtbot):
    window = opened
    image_id = window.state.image_id
    record = window.state.project.image(image_id)
    values = np.zeros((record.height, record.width), np.uint8)
    values[:, : record.width // 2] = 255  # unsure on the left half
    window.state.project.write_uncertainty_map(image_id, values)
    assert window.canvas.legend.isHidden()
    key(qtbot, window, Qt.Key.Key_U)
    assert window.canvas.legend.isVisible() and "uncertainty" in window.canvas.legend.text()
    shot = window.canvas.grab().toImage()
    unsure = shot.pixelColor(at(window, 5, 40))
    sure = shot.pixelColor(at(window, record.width - 30, 40))
    assert unsure.red() == unsure.green() == unsure.blue() or unsure.saturation() < 40  # no class hue
    assert unsure.lightness() > sure.lightness() + 60
    key(qtbot, window, Qt.Key.Key_U)
    assert window.canvas.legend.isHidden()
