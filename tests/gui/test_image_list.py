"""The image list: thumbnails arrive from the background, filters and sorting use the project."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from gui_helpers import key, settle
from segstudio.core.project import Status
from segstudio.gui.image_list import ImageIdRole


def names(panel) -> list[str]:
    return [record.name for record in panel.model.records]


def test_thumbnails_load_in_the_background(opened, qtbot):
    model = opened.image_list.model
    for row in range(model.rowCount()):
        model.data(model.index(row), Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: len(model._thumbs) == 3, timeout=10_000)
    assert all(not pixmap.isNull() for pixmap in model._thumbs.values())


def test_search_filters_and_sorting(opened, qtbot):
    panel = opened.image_list
    project = opened.state.project
    first, second, third = project.images()
    project.set_status(second.id, Status.DONE)
    project.set_uncertainty(first.id, 0.2)
    project.set_uncertainty(third.id, 0.9)
    opened.state.images_changed.emit()

    qtbot.keyClicks(panel.search, "second")
    assert names(panel) == ["b_second.png"]
    panel.search.clear()
    panel.status_filter.setCurrentIndex(panel.status_filter.findData("done"))
    assert names(panel) == ["b_second.png"]
    panel.status_filter.setCurrentIndex(0)
    panel.order.setCurrentIndex(panel.order.findData("uncertainty"))
    assert names(panel) == ["c_third.png", "a_first.png", "b_second.png"]
    assert "0.90" in panel.model.data(panel.model.index(0))

    key(qtbot, opened, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)  # next most uncertain
    settle(qtbot, opened)
    assert opened.state.image_id == third.id
    assert panel.view.currentIndex().data(ImageIdRole) == third.id


def test_clicking_a_row_opens_that_image(opened, qtbot):
    panel = opened.image_list
    rect = panel.view.visualRect(panel.model.index(2))
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    settle(qtbot, opened)
    assert opened.state.image_id == panel.model.records[2].id


def test_a_16_bit_thumbnail_is_stretched_like_the_canvas(tmp_path):
    """Regression: dim 16-bit microscopy images gave blank grey squares in the list."""
    from PIL import Image

    from segstudio.gui.image_list import load_thumbnail

    values = np.zeros((64, 96), np.uint16)
    values[16:48, 24:72] = 3000  # a dim object on a black field: 5% of the 16-bit range
    path = tmp_path / "dim16.png"
    Image.fromarray(values).save(path)
    thumb = load_thumbnail(str(path))
    pixels = np.array([[thumb.pixelColor(x, y).red() for x in range(thumb.width())] for y in range(thumb.height())])
    assert thumb.width() == 48 and pixels.max() - pixels.min() > 200


def test_a_tiff_pillow_cannot_open_still_gets_its_thumbnail(tmp_path):
    """Regression: two-channel (and zstd, float64) TIFFs showed an empty tile: Pillow cannot
    identify them, while the canvas opens them through tifffile."""
    import tifffile

    from segstudio.gui.image_list import load_thumbnail

    stains = np.zeros((64, 96, 2), np.uint16)
    stains[16:48, 24:72, 0] = 3000
    path = tmp_path / "two_stains.tif"
    tifffile.imwrite(path, stains, photometric="minisblack", planarconfig="contig")
    thumb = load_thumbnail(str(path))
    assert not thumb.isNull() and thumb.width() == 48
    assert thumb.pixelColor(24, 16).red() > 200 and thumb.pixelColor(2, 2).red() < 30
