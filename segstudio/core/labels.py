"""The unlabelled value of label maps, in one place: 255 in uint8 maps, 65535 in uint16 ones.

Label maps are uint8 while a project has at most 254 classes and uint16 beyond (ids 0..65534).
The unlabelled value is also the ignore index of training and metrics and the ignore value of
exported index masks; every module imports it from here.
"""

from __future__ import annotations

import numpy as np

IGNORE = 255
"""Label value of unlabelled pixels in uint8 label maps; the ignore index for training."""

IGNORE_16 = 65535
"""Label value of unlabelled pixels when a project has more than 254 classes (uint16 maps)."""

MAX_UINT8_CLASSES = 254


def unlabelled_value(dtype: np.dtype) -> int:
    """255 in uint8 label maps, 65535 in the uint16 maps of projects with > 254 classes."""
    return IGNORE if np.dtype(dtype) == np.uint8 else IGNORE_16


def ignore_for(num_classes: int) -> int:
    """The unlabelled value for `num_classes` classes: 255 while ids fit in 0..254, else 65535."""
    return IGNORE if num_classes <= MAX_UINT8_CLASSES else IGNORE_16


def convert_labels(label: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A label map in another width (past 254 classes, or back), the unlabelled value mapped
    (255 <-> 65535). The same array when it already has `dtype`."""
    if label.dtype == dtype:
        return label
    converted = label.astype(dtype)
    converted[label == unlabelled_value(label.dtype)] = unlabelled_value(dtype)
    return converted
