"""Small decisions of the window: which colour a class gets, which brush size follows, what lies
under the cursor. Which image comes next is the workspace's (segstudio.core.workspace.review)."""

from __future__ import annotations

from pathlib import Path

from segstudio.gui.canvas.colorize import Palette
from segstudio.gui.state import AppState

BRUSH_SIZES = (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 200, 256, 320, 400, 500)
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp);;All files (*)"


def is_project(path: Path) -> bool:
    from segstudio.core.project import Project

    return path.is_dir() and Project.is_project(path)


def next_brush_size(size: int, step: int) -> int:
    """The next size on a roughly geometric ladder, so [ and ] feel the same at 3 px and 300 px."""
    if step > 0:
        return next((s for s in BRUSH_SIZES if s > size), BRUSH_SIZES[-1])
    return next((s for s in reversed(BRUSH_SIZES) if s < size), BRUSH_SIZES[0])


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


def pixel_value(raw, xy: tuple[int, int] | None) -> str:
    """The stored value of the image at (x, y): '1234' for grey (16-bit included), '12, 34, 56' for colour."""
    if raw is None or xy is None or not (0 <= xy[1] < raw.shape[0] and 0 <= xy[0] < raw.shape[1]):
        return ""
    values = raw[xy[1], xy[0]].reshape(-1)
    shown = [f"{v:.4g}" if raw.dtype.kind == "f" else str(int(v)) for v in values]
    return ", ".join(shown)
