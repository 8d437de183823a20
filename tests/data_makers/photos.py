"""Real photographs for the format tests: scikit-image's bundled images (public domain/CC0)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def photo(height: int = 120, width: int = 160, which: str = "astronaut", top: int = 0) -> np.ndarray:
    """An RGB crop of one of scikit-image's bundled photos (no download)."""
    import skimage.data

    pixels = getattr(skimage.data, which)()
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    return np.ascontiguousarray(pixels[top: top + height, :width, :3])


def save_photo(path: Path, height: int = 120, width: int = 160, which: str = "astronaut", top: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(photo(height, width, which, top))
    image.save(path, quality=95) if path.suffix.lower() in (".jpg", ".jpeg") else image.save(path)
    return path
