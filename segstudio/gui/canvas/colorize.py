"""Turn label, source and heat-map arrays into ARGB32 premultiplied pixels for QImage.

Pure NumPy (no Qt) so the colour rules are easy to test. Pixels are uint32 values 0xAARRGGBB
(Qt's Format_ARGB32_Premultiplied), the format the raster paint engine blends fastest; a
lookup table per (class, source) makes colouring one `take` per tile.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from segstudio.core.labels import IGNORE

PROPOSAL = 1  # source value of an unreviewed model proposal
STRIPE_PERIOD = 8  # pixels from one diagonal hatch stripe of unreviewed proposals to the next
STRIPE_WIDTH = 3  # pixels of full colour in each period
PROPOSAL_ALPHA = 0.2  # between the stripes proposals are much lighter than reviewed pixels


def _premultiplied(rgb: tuple[int, int, int], alpha: float) -> int:
    """One ARGB32 premultiplied pixel as the uint32 whose little-endian bytes are B, G, R, A."""
    a = round(255 * alpha)
    r, g, b = (round(int(c) * a / 255) for c in rgb)
    return b | g << 8 | r << 16 | a << 24


class Palette:
    """Colour lookup for (class id, source) pairs; hidden classes and IGNORE stay transparent.

    Two tables indexed by `class_id * 4 + source`: `solid` for stripe pixels and `light` for
    the rest. They differ only for unreviewed proposals, which so look hatched while reviewed
    pixels look flat.
    """

    def __init__(self, colors: Sequence[tuple[int, int, int]], hidden: Sequence[int] = (), opacity: float = 1.0):
        size = 256 if len(colors) < 256 else 65536
        self.colors = [tuple(int(c) for c in rgb) for rgb in colors]
        self.hidden = tuple(hidden)
        self.opacity = float(opacity)
        self.solid = np.zeros(size * 4, dtype=np.uint32)
        self.light = np.zeros(size * 4, dtype=np.uint32)
        hidden_ids = set(hidden)
        for class_id, rgb in enumerate(self.colors):
            if class_id == IGNORE or class_id in hidden_ids:
                continue
            full = _premultiplied(rgb, self.opacity)
            self.solid[class_id * 4 : class_id * 4 + 4] = full
            self.light[class_id * 4 : class_id * 4 + 4] = full
            self.light[class_id * 4 + PROPOSAL] = _premultiplied(rgb, PROPOSAL_ALPHA * self.opacity)

    def with_opacity(self, opacity: float) -> Palette:
        """The same colours at another mask opacity (baked into the pixels: Qt's scaled drawing
        with a painter opacity is several times slower than plain alpha blending)."""
        return self if opacity == self.opacity else Palette(self.colors, self.hidden, opacity)

    def colorize(self, label: np.ndarray, source: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
        """ARGB32 premultiplied pixels (h, w) uint32 for a label patch whose top-left pixel is `origin` (y, x).

        The hatch is laid on the grid of the patch's own pyramid level, so its stripes keep
        about the same width on screen at every zoom.
        """
        index = (label.astype(np.uint16 if label.dtype == np.uint8 else np.uint32) << 2) | source
        pixels = self.light.take(index)
        proposals = source == PROPOSAL
        if not proposals.any():
            return pixels
        h, w = label.shape
        ys = np.arange(h) + origin[0]
        xs = np.arange(w) + origin[1]
        stripes = (ys[:, None] + xs[None, :]) % STRIPE_PERIOD < STRIPE_WIDTH
        mask = proposals & stripes
        pixels[mask] = self.solid.take(index[mask])
        return pixels


def outline_mask(label: np.ndarray) -> np.ndarray:
    """True where a pixel's class differs from one of its 4 neighbours (the region borders)."""
    edge = np.zeros(label.shape, dtype=bool)
    diff_y = label[1:, :] != label[:-1, :]
    diff_x = label[:, 1:] != label[:, :-1]
    edge[1:, :] |= diff_y
    edge[:-1, :] |= diff_y
    edge[:, 1:] |= diff_x
    edge[:, :-1] |= diff_x
    return edge


HEATMAP_RGB = (255, 255, 255)  # a white veil: no class hue, so the map never reads as a label
HEATMAP_MAX_ALPHA = 0.75


def heatmap_argb32(values: np.ndarray, max_alpha: float = HEATMAP_MAX_ALPHA) -> np.ndarray:
    """A white veil whose opacity grows with the value: certain pixels stay see-through.

    (An inferno map was used before; its oranges looked like class colours.)
    """
    alpha = (np.ascontiguousarray(values, dtype=np.uint8).astype(np.float32) * max_alpha).astype(np.uint8)
    out = np.empty(values.shape + (4,), dtype=np.uint8)
    out[..., :3] = (np.uint16(HEATMAP_RGB[0]) * alpha[..., None] // 255).astype(np.uint8)  # premultiplied grey
    out[..., 3] = alpha
    return out.view(np.uint32)[..., 0]
