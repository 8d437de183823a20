"""The instant tier's training data from a project: exactly the pixels a person reviewed.

Same rule as the network's training set (core/project/reviewed.py: sources 2 and 3, the rest
ignored), read image by image so a generator over a large project holds one image at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from segstudio.core.imageio import read_image
from segstudio.core.project.reviewed import is_reviewed, reviewed_target


def reviewed_samples(project, image_ids: Iterable[int]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(image_id, raw image as stored, target) for each image with reviewed pixels; the target is in
    the project's label dtype with its ignore value (255, or 65535 for uint16 labels) elsewhere."""
    for image_id in image_ids:
        source = project.read_source(image_id)
        if not is_reviewed(source):
            continue
        target = reviewed_target(project.read_label(image_id), source, project.ignore_value)
        yield image_id, read_image(project.image(image_id).path).raw, target
