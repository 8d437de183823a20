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
