"""A grab of the real window shows the mask's class colours exactly where the mask says."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import key, settle
from PySide6.QtCore import QPoint

from segstudio.core.project import Project, Source

BLUE = (0, 0, 255)


def blend(under: np.ndarray, over: tuple[int, int, int], opacity: float) -> np.ndarray:
    return under * (1 - opacity) + np.array(over) * opacity


@pytest.mark.parametrize("zoom", ["fit", 1.0], ids=["magnified", "one-to-one"])
def test_window_grab_shows_overlay_where_the_mask_is(window, project_root, qtbot, zoom):
    with Project.open(project_root) as project:
        first = project.images()[0]
        project.recolor_class(1, BLUE)
        label = np.full((first.height, first.width), 255, np.uint8)
        label[10:30, 5:40] = 1  # reviewed block of class 1
        source = np.where(label == 1, Source.HUMAN, Source.NONE).astype(np.uint8)
        project.write_masks(first.id, label, source)
    assert window.open_project(project_root)
    settle(qtbot, window)
    window.opacity.setValue(60)
    if zoom != "fit":
        window.canvas.set_view(zoom, (first.width / 2, first.height / 2))
    image = window.session.image.display
    shot = window.grab().toImage()
    canvas_origin = window.canvas.mapTo(window, QPoint(0, 0))

    def pixel(x: int, y: int) -> np.ndarray:
        point = window.canvas.widget_point((x + 0.5, y + 0.5)) + canvas_origin
        color = shot.pixelColor(point)
        return np.array([color.red(), color.green(), color.blue()], float)

    for x, y in ((6, 11), (20, 20), (38, 28)):  # inside the block
        np.testing.assert_allclose(pixel(x, y), blend(image[y, x], BLUE, 0.6), atol=6)
    for x, y in ((20, 40), (45, 20), (2, 50)):  # outside: the photo itself
        np.testing.assert_allclose(pixel(x, y), image[y, x], atol=3)


def test_outline_mode_and_uncertainty_map_change_what_is_drawn(window, project_root, qtbot):
    with Project.open(project_root) as project:
        first = project.images()[0]
        label = np.full((first.height, first.width), 255, np.uint8)
        label[10:40, 10:40] = 1
        project.write_masks(first.id, label, np.where(label == 1, Source.HUMAN, Source.NONE).astype(np.uint8))
        heat = np.zeros((first.height, first.width), np.uint8)
        heat[:, 60:] = 255  # the model is unsure about the right part only
        project.write_uncertainty_map(first.id, heat)
    assert window.open_project(project_root)
    settle(qtbot, window)
    image = window.session.image.display

    def pixel(x: int, y: int) -> np.ndarray:
        color = window.canvas.grab().toImage().pixelColor(window.canvas.widget_point((x + 0.5, y + 0.5)))
        return np.array([color.red(), color.green(), color.blue()], float)

    inside, border = (25, 25), (10, 25)
    assert np.abs(pixel(*inside) - image[25, 25]).max() > 20
    key(qtbot, window, "O")  # outline only: the inside shows the photo, the border stays coloured
    np.testing.assert_allclose(pixel(*inside), image[25, 25], atol=3)
    assert np.abs(pixel(*border) - image[25, 10]).max() > 20
    unsure, sure = (80, 30), (45, 50)
    key(qtbot, window, "U")
    assert np.abs(pixel(*unsure) - image[30, 80]).max() > 40
    np.testing.assert_allclose(pixel(*sure), image[50, 45], atol=3)
    key(qtbot, window, "V")  # the mask can be hidden altogether
    np.testing.assert_allclose(pixel(*border), image[25, 10], atol=3)
