"""Contrast limits and pixel values of 16-bit images, driven by real keys and mouse moves:
automatic by default, typed limits hold for every image of the project, its thumbnails
and the next session, and "Automatic" goes back."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from gui_helpers import at, make_image, settle
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from segstudio.core.imageio import read_image
from segstudio.gui.contrast_dialog import ContrastDialog

WIDTH, HEIGHT = 96, 64


def ramp(offset: int = 0) -> np.ndarray:
    """16-bit grey rising 42 per column: x 0 is 1000 (+ offset), x 95 is 4990."""
    return np.tile((1000 + offset + 42 * np.arange(WIDTH)).astype(np.uint16), (HEIGHT, 1))


@pytest.fixture
def grey16(window, tmp_path, qtbot):
    from segstudio.core.project import Project

    folder = tmp_path / "images"
    folder.mkdir()
    tifffile.imwrite(folder / "a_grey.tif", ramp())
    tifffile.imwrite(folder / "b_grey.tif", ramp(offset=7))
    make_image(folder / "c_photo.png")
    with Project.create(tmp_path / "project", ["background", "cell"]) as project:
        project.add_images([folder])
    assert window.open_project(tmp_path / "project")
    settle(qtbot, window)
    qtbot.waitUntil(lambda: window.contrast.button.isVisible())
    QApplication.processEvents()  # the status bar's new button resizes the canvas: lay out first
    window.canvas.fit()
    assert window.session.image.path.name == "a_grey.tif"
    return window


def shown(window, x: int, y: int = 30) -> int:
    """The grey level the canvas paints for image pixel (x, y)."""
    return window.canvas.grab().toImage().pixelColor(at(window, x, y)).red()


def open_dialog(window, qtbot) -> ContrastDialog:
    qtbot.keyClick(window.canvas, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dialog = window.findChild(ContrastDialog)
    qtbot.waitUntil(lambda: dialog is not None and dialog.isVisible())
    return dialog


def type_value(qtbot, box, value: int) -> None:
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, str(value))
    qtbot.keyClick(box, Qt.Key.Key_Tab)


def test_the_status_bar_says_the_16_bit_value_under_the_cursor(grey16, qtbot):
    qtbot.mouseMove(grey16.canvas, at(grey16, 35, 20))
    assert grey16.status.position.text() == "x 35  y 20  value 2470"
    assert grey16.contrast.button.isVisible() and grey16.contrast.button.text().startswith("Contrast auto 10")


def test_typed_limits_hold_for_every_image_and_automatic_goes_back(grey16, qtbot):
    window = grey16
    assert shown(window, 10) > 0 and shown(window, 80) < 255  # automatic: the ramp's own percentiles
    dialog = open_dialog(window, qtbot)
    assert dialog.minimum.value() == pytest.approx(1000, abs=50) and not dialog.automatic.isEnabled()
    type_value(qtbot, dialog.minimum, 2000)
    type_value(qtbot, dialog.maximum, 3000)
    qtbot.waitUntil(lambda: shown(window, 80) == 255)
    assert shown(window, 10) == 0 and abs(shown(window, 35) - round(470 * 255 / 1000)) <= 1
    assert window.contrast.button.text() == "Contrast 2000  \u2013  3000"
    assert window.tools.ctx.image[30, 10, 0] == 0  # the wand and GrabCut see what the person sees
    assert window.session.image.display[30, 10, 0] > 0  # the pixels a model reads are untouched

    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    window.activateWindow()  # offscreen, closing the dialog may leave no window active
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window.canvas, Qt.Key.Key_D)  # the next image, shown with the same limits
    settle(qtbot, window)
    assert window.session.image.path.name == "b_grey.tif" and shown(window, 10) == 0 and shown(window, 80) == 255

    dialog = open_dialog(window, qtbot)
    qtbot.mouseClick(dialog.automatic, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: shown(window, 10) > 0)
    assert window.contrast.limits is None and not dialog.automatic.isEnabled()
    assert QSettings().value(f"display_limits/{window.state.project.root}") is None


def test_limits_are_remembered_per_project_and_used_by_thumbnails(grey16, qtbot):
    window, root = grey16, grey16.state.project.root
    model = window.image_list.model
    dialog = open_dialog(window, qtbot)
    type_value(qtbot, dialog.minimum, 2000)
    type_value(qtbot, dialog.maximum, 3000)
    qtbot.waitUntil(lambda: shown(window, 80) == 255)

    def thumbnail_left_edge() -> int:  # the thumbnail's left column is the ramp's low end
        pixmap = model.data(model.index(0), Qt.ItemDataRole.DecorationRole)
        return pixmap.toImage().pixelColor(2, 24).red()

    first = model.records[0].id
    qtbot.waitUntil(lambda: first in model._thumbs and thumbnail_left_edge() == 0)
    window.session.close_project()
    assert window.open_project(root)
    settle(qtbot, window)
    assert window.contrast.limits == (2000.0, 3000.0) and shown(window, 10) == 0


def test_an_8_bit_colour_photo_is_shown_as_stored(grey16, qtbot):
    window = grey16
    photo = next(r.id for r in window.state.project.images() if r.name == "c_photo.png")
    window.go_to(photo)
    settle(qtbot, window)
    assert not window.contrast.button.isVisible()
    dialog = open_dialog(window, qtbot)
    assert not dialog.minimum.isEnabled() and "shown as stored" in dialog.mode.text()
    expected = read_image(window.session.image.path).display
    assert window.canvas.grab().toImage().pixelColor(at(window, 60, 30)).getRgb()[:3] == tuple(expected[30, 60])



