"""Fixtures shared by the instant tier's test modules."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segstudio.bench.instant import scribble_target
from segstudio.resources_path import resource_path


@pytest.fixture(scope="session")
def nuclei():
    """A real microscopy crop (the bundled BBBC007 demo) with its full mask, and scribbles on it."""
    demo = resource_path("demo")
    image = cv2.imread(str(demo / "images" / "A9_p5d.png"), cv2.IMREAD_UNCHANGED)[:200, :200]
    truth = cv2.imread(str(demo / "masks" / "A9_p5d.png"), cv2.IMREAD_UNCHANGED)[:200, :200]
    scribbles = scribble_target(truth, np.random.default_rng(0), dabs=20, radius=2)
    return image, truth, scribbles
