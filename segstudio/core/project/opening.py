"""Opening one image of a project for editing: its pixels and both of its masks, side by side.

The files decode in parallel threads (OpenCV, Pillow and tifffile release the GIL while
decoding), so on two or more cores the open takes about as long as the image alone.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from segstudio.core.imageio import LoadedImage, read_image

if TYPE_CHECKING:
    from segstudio.core.project import Project

MasksReader = Callable[[int], tuple[np.ndarray, np.ndarray]]


@dataclass
class OpenedImage:
    image_id: int
    image: LoadedImage
    label: np.ndarray
    source: np.ndarray


def open_for_editing(project: Project, image_id: int, read_masks: MasksReader | None = None) -> OpenedImage:
    """The image (upright, display and raw) and its label and source maps.

    `read_masks(image_id) -> (label, source)` replaces the project's own reads, e.g. an
    Autosaver's `read_masks`, which includes edits still in the journal. Raises what the
    reads raise (ImageReadError, ProjectError), once all of them have finished.
    """
    record = project.image(image_id)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="segstudio-open") as pool:
        if read_masks is None:
            label, source = pool.submit(project.read_label, image_id), pool.submit(project.read_source, image_id)
            image = read_image(record.path)
            return OpenedImage(image_id, image, label.result(), source.result())
        masks = pool.submit(read_masks, image_id)
        image = read_image(record.path)
        return OpenedImage(image_id, image, *masks.result())
