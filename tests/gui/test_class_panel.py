"""The classes panel: hiding a class hides its colour, reordering moves the number keys."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from gui_helpers import key, stroke


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
    """Fill in and accept the modal dialog that is about to open (QInputDialog, QColorDialog)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialog

    def respond():
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QDialog):
            QTimer.singleShot(20, respond)
            return
        fill(dialog)
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
