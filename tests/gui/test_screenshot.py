"""A grab of the real window shows the mask's class colours exactly where the mask says."""

from __future__ import annotations

import numpy as np
import pytest
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
