"""A small synthetic display image with one obvious object, for colour-based tools."""

from __future__ import annotations

import cv2
import numpy as np

SIZE = 96
DISC_CENTRE = (60, 40)  # (x, y)
DISC_RADIUS = 20


def disc_scene(seed: int = 0) -> np.ndarray:
    """SIZE x SIZE RGB uint8: a dark, noisy background and a bright noisy disc."""
    rng = np.random.default_rng(seed)
    image = rng.integers(20, 40, (SIZE, SIZE, 3)).astype(np.uint8)
    cv2.circle(image, DISC_CENTRE, DISC_RADIUS, (220, 200, 60), -1)
    noisy = image[..., 1].astype(int) + rng.integers(-5, 5, (SIZE, SIZE))
    image[..., 1] = np.clip(noisy, 0, 255).astype(np.uint8)
    return image


def disc_mask() -> np.ndarray:
    """Where the disc of `disc_scene` is."""
    mask = np.zeros((SIZE, SIZE), np.uint8)
    cv2.circle(mask, DISC_CENTRE, DISC_RADIUS, 1, -1)
    return mask.astype(bool)
