"""Helpers of the GUI tests: test images and real mouse/key input on the canvas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QPoint, Qt

IGNORE = 255


def make_image(path: Path, width: int = 96, height: int = 64, seed: int = 0) -> Path:
    """A picture with a flat dark left half and a bright right square (wand/fill targets)."""
    rng = np.random.default_rng(seed)
    pixels = np.full((height, width, 3), 40, np.uint8)
    pixels[:, :, 2] = 60
    pixels[8 : height - 8, width // 2 : width - 8] = (220, 200, 40)
    pixels[0:4, 0:4] = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)  # makes each file unique
    Image.fromarray(pixels).save(path)
    return path


def at(window, x: float, y: float) -> QPoint:
    """Widget position of the centre of image pixel (x, y)."""
    return window.canvas.widget_point((x + 0.5, y + 0.5))


def stroke(qtbot, window, points) -> None:
    canvas = window.canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at(window, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(canvas, at(window, *point))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at(window, *points[-1]))


def key(qtbot, window, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(window.canvas, key, modifier)


def settle(qtbot, window) -> None:
    """Wait until the image being read in the background (if any) is on the canvas."""
    qtbot.waitUntil(lambda: window.session.loading is None, timeout=15_000)


def wait_for_masks(qtbot, window, image_id: int, check, *, source: bool = False) -> None:
    """Wait until the autosaver's thread has folded an image's edits into labels/ (or sources/)
    so that `check(array)` holds."""
    project = window.state.project
    read = project.read_source if source else project.read_label
    qtbot.waitUntil(lambda: bool(check(read(image_id))), timeout=10_000)
