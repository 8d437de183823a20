"""The classes panel: hiding a class hides its colour, reordering moves the number keys."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from gui_helpers import IGNORE, key, stroke


def test_hiding_a_class_shows_the_photo_under_it(opened, qtbot):
    window = opened
    window.brush_size.setValue(9)
    stroke(qtbot, window, [(20, 20), (24, 20)])
    image = window.session.image.display

    def pixel():
        color = window.canvas.grab().toImage().pixelColor(window.canvas.widget_point((22.5, 20.5)))
        return np.array([color.red(), color.green(), color.blue()], float)

    assert np.abs(pixel() - image[20, 22]).max() > 20
    window.class_panel.list.item(1).setCheckState(Qt.CheckState.Unchecked)
    np.testing.assert_allclose(pixel(), image[20, 22], atol=3)
    assert window.state.document.label[20, 22] == 1  # hidden, not removed


def test_moving_a_class_down_renumbers_the_keys(opened, qtbot):
    window = opened
    key(qtbot, window, Qt.Key.Key_1)  # background
    qtbot.mouseClick(window.class_panel.buttons["down"], Qt.MouseButton.LeftButton)
    assert [c.name for c in window.state.project.classes()] == ["foreground", "background", "other"]
    key(qtbot, window, Qt.Key.Key_1)
    assert window.state.current_class == 1  # foreground is in the first row now
    key(qtbot, window, Qt.Key.Key_2)
    assert window.state.current_class == 0


def answer_next_dialog(qtbot, fill) -> None:
    """Fill in and accept the modal dialog that is about to open (QInputDialog, QColorDialog, QMessageBox)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialog

    def respond():
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QDialog):
            QTimer.singleShot(20, respond)
            return
        fill(dialog)
        if dialog.isVisible():  # a message box closes itself once a button is clicked
            dialog.accept()

    QTimer.singleShot(0, respond)


def test_add_rename_and_recolour_through_their_dialogs(opened, qtbot):
    from PySide6.QtGui import QColor

    panel = opened.class_panel
    project = opened.state.project
    answer_next_dialog(qtbot, lambda dialog: dialog.setTextValue("tumour"))
    qtbot.mouseClick(panel.buttons["add"], Qt.MouseButton.LeftButton)
    assert project.class_names()[-1] == "tumour" and panel.list.count() == 4

    panel.list.setCurrentRow(3)
    answer_next_dialog(qtbot, lambda dialog: dialog.setTextValue("lesion"))
    qtbot.mouseClick(panel.buttons["rename"], Qt.MouseButton.LeftButton)
    assert project.class_names()[-1] == "lesion" and "lesion" in panel.list.item(3).text()

    answer_next_dialog(qtbot, lambda dialog: dialog.setCurrentColor(QColor(10, 20, 30)))
    qtbot.mouseClick(panel.buttons["color"], Qt.MouseButton.LeftButton)
    assert project.classes()[3].color == (10, 20, 30)
    key(qtbot, opened, Qt.Key.Key_4)
    opened.brush_size.setValue(5)
    stroke(qtbot, opened, [(20, 20), (22, 20)])
    color = opened.canvas.grab().toImage().pixelColor(opened.canvas.widget_point((21.5, 20.5)))
    image = opened.session.image.display[20, 21]
    expected = image * 0.5 + np.array([10, 20, 30]) * 0.5
    np.testing.assert_allclose([color.red(), color.green(), color.blue()], expected, atol=4)


def click_in_next_message_box(qtbot, button_text: str, seen: list[str]) -> None:
    """Click a button of the message box about to open; its texts go into `seen`."""
    from PySide6.QtWidgets import QAbstractButton

    def click(box):
        seen.append(f"{box.text()} {box.informativeText()}")
        button = next(b for b in box.findChildren(QAbstractButton) if b.text().replace("&", "") == button_text)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    answer_next_dialog(qtbot, click)


def test_removing_a_class_asks_with_the_pixel_count_then_folds_and_renumbers(opened, qtbot):
    window = opened
    panel = window.class_panel
    document = window.state.document
    window.brush_size.setValue(3)
    stroke(qtbot, window, [(10, 10), (30, 10)])  # foreground, still only in memory or the journal
    key(qtbot, window, Qt.Key.Key_3)
    stroke(qtbot, window, [(10, 30), (30, 30)])  # other
    foreground = int(np.count_nonzero(document.label == 1))

    panel.list.setCurrentRow(1)
    seen: list[str] = []
    click_in_next_message_box(qtbot, "Cancel", seen)
    qtbot.mouseClick(panel.buttons["remove"], Qt.MouseButton.LeftButton)
    assert f"{foreground} labelled pixels (proposals included) on 1 image will become unlabelled" in seen[0]
    assert window.state.project.class_names() == ["background", "foreground", "other"]

    click_in_next_message_box(qtbot, "Remove class", seen)
    qtbot.mouseClick(panel.buttons["remove"], Qt.MouseButton.LeftButton)
    project = window.state.project
    assert project.class_names() == ["background", "other"]
    for label in (window.state.document.label, project.read_label(window.state.image_id)):
        assert (label[10, 10:31] == IGNORE).all() and (label[30, 10:31] == 1).all()  # other is id 1 now
    assert not any(path.suffix == ".unusable" for path in project.journal_dir.iterdir())
    assert window.state.current_class == 1 and panel.list.count() == 2
    assert not panel.buttons["remove"].isEnabled()  # two classes are the minimum
    stroke(qtbot, window, [(10, 50), (30, 50)])
    assert (window.state.document.label[50, 10:31] == 1).all()  # painting goes on with the new ids
