"""Opening one image of a project for editing: its pixels and both of its masks, side by side.

The three files decode in parallel threads (OpenCV, Pillow and tifffile release the GIL while
decoding), so on two or more cores the open takes about as long as the image alone.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from segstudio.core.imageio import LoadedImage, read_image


@dataclass
class OpenedImage:
    image_id: int
    image: LoadedImage
    label: np.ndarray
    source: np.ndarray


def open_for_editing(project, image_id: int) -> OpenedImage:
    """The image (upright, display and raw) and its label and source maps.

    Raises what read_image and the project raise (ImageReadError, ProjectError), after all
    three reads have finished.
    """
    record = project.image(image_id)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="segstudio-open") as pool:
        label = pool.submit(project.read_label, image_id)
        source = pool.submit(project.read_source, image_id)
        image = read_image(record.path)
        return OpenedImage(image_id, image, label.result(), source.result())
