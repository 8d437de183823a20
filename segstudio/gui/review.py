"""Small decisions of the review flow that the window asks about: which image next, which
colour a class gets, which brush size follows, what lies under the cursor."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from segstudio.gui.canvas.colorize import Palette
from segstudio.gui.state import AppState

BRUSH_SIZES = (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 200, 256, 320, 400, 500)
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp);;All files (*)"


def demo_available() -> bool:
    return importlib.util.find_spec("segstudio.commands.demo") is not None


def is_project(path: Path) -> bool:
    from segstudio.core.project import Project

    return path.is_dir() and Project.is_project(path)


def next_brush_size(size: int, step: int) -> int:
    """The next size on a roughly geometric ladder, so [ and ] feel the same at 3 px and 300 px."""
    if step > 0:
        return next((s for s in BRUSH_SIZES if s > size), BRUSH_SIZES[-1])
    return next((s for s in reversed(BRUSH_SIZES) if s < size), BRUSH_SIZES[0])


def next_unreviewed(state: AppState) -> int | None:
    """The next image after the current one (by name, wrapping) that is not done or skipped."""
    if state.project is None:
        return None
    records = state.project.images(status=["new", "in_progress"], order="name")
    ids = [r.id for r in records if r.id != state.image_id]
    if not ids:
        return None
    current = state.project.image(state.image_id).name.lower() if state.image_id is not None else ""
    later = [r.id for r in records if r.id != state.image_id and r.name.lower() > current]
    return later[0] if later else ids[0]


def most_uncertain(state: AppState) -> int | None:
    """The unreviewed image the model is least sure about (images without a score come last)."""
    if state.project is None:
        return None
    records = state.project.images(status=["new", "in_progress"], order="uncertainty")
    return next((r.id for r in records if r.id != state.image_id), None)


def palette(state: AppState, hidden: set[int]) -> Palette:
    classes = sorted(state.project.classes(), key=lambda c: c.id)
    return Palette([c.color for c in classes], hidden=sorted(hidden))


def class_under(document, names: list[str], xy: tuple[int, int] | None) -> str:
    """'nucleus', 'nucleus (proposal)' or 'unlabelled' for the pixel (x, y) of the document."""
    if xy is None or document is None:
        return ""
    value = int(document.label[xy[1], xy[0]])
    name = names[value] if value < len(names) else "unlabelled"
    source = int(document.source[xy[1], xy[0]])
    return f"{name} (proposal)" if source == 1 else name
