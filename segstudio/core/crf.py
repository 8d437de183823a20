"""Boundary refinement after DeepLab: mean-field inference in a fully connected CRF, approximated.

Krähenbühl and Koltun's dense CRF pulls each pixel's label towards the labels of pixels that
are near (spatial Gaussian kernel) and near *and alike in colour* (appearance, i.e. bilateral
kernel), with a Potts penalty between different labels. The exact fully connected message
needs a permutohedral lattice; here the appearance message is a sparse bilateral filter: each
pixel listens to a fixed grid of neighbours spread over about two `sigma_xy`, weighted by
distance and colour likeness at full resolution (so edges stay exact). The smoothness message
is a Gaussian blur. A few mean-field iterations.

Whether it helps depends on the model: it sharpens blurry, low-resolution probabilities along
colour edges, and it can erase thin structures a good model already gets right. It is off by
default; see tests/core/test_inference_crf.py for the measurement.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F


BLOCK = 512  # refine big inputs block by block (with a margin) to bound memory


def refine_probabilities(probs: np.ndarray, guide: np.ndarray, *, iterations: int = 5, sigma_xy: float = 24.0,
                         sigma_rgb: float = 12.0, appearance_weight: float = 6.0, sigma_smooth: float = 2.0,
                         smooth_weight: float = 2.0, samples: int = 3) -> np.ndarray:
    """K x H x W probabilities refined with the guide image (H x W or H x W x C, 0..255 floats).

    The appearance kernel looks at (2 * samples + 1)^2 - 1 neighbours spread over +-2 sigma_xy.
    """
    if probs.shape[0] < 2:
        return probs
    guide = np.atleast_3d(guide).astype(np.float32)
    step = max(1, math.ceil(2 * sigma_xy / samples))
    offsets = [(dy * step, dx * step) for dy in range(-samples, samples + 1) for dx in range(-samples, samples + 1)
               if (dy, dx) != (0, 0)]
    margin = samples * step
    height, width = probs.shape[1:]
    out = np.empty_like(probs, dtype=np.float32)
    for y0 in range(0, height, BLOCK):
        for x0 in range(0, width, BLOCK):
            ya, xa = max(0, y0 - margin), max(0, x0 - margin)
            yb, xb = min(height, y0 + BLOCK + margin), min(width, x0 + BLOCK + margin)
            kernel = _AppearanceKernel(guide[ya:yb, xa:xb], offsets, sigma_xy, sigma_rgb)
            refined = _mean_field(probs[:, ya:yb, xa:xb], kernel, iterations, appearance_weight,
                                  sigma_smooth, smooth_weight)
            y1, x1 = min(height, y0 + BLOCK), min(width, x0 + BLOCK)
            out[:, y0:y1, x0:x1] = refined[:, y0 - ya:y1 - ya, x0 - xa:x1 - xa]
    return out


def _mean_field(probs: np.ndarray, kernel: _AppearanceKernel, iterations: int, appearance_weight: float,
                sigma_smooth: float, smooth_weight: float) -> np.ndarray:
    unary = torch.from_numpy(np.log(np.clip(probs, 1e-6, 1.0)).astype(np.float32))
    q = torch.from_numpy(np.ascontiguousarray(probs, dtype=np.float32))
    for _ in range(iterations):
        smooth = torch.from_numpy(np.stack([cv2.GaussianBlur(q[k].numpy(), (0, 0), sigma_smooth)
                                            for k in range(q.shape[0])]))
        q = torch.softmax(unary + appearance_weight * kernel.message(q) + smooth_weight * smooth, dim=0)
    return q.numpy()


class _AppearanceKernel:
    """Normalised bilateral weights towards sparse neighbours at fixed offsets (edge-replicated)."""

    def __init__(self, guide: np.ndarray, offsets: list[tuple[int, int]], sigma_xy: float, sigma_rgb: float):
        features = torch.from_numpy(np.ascontiguousarray(guide.transpose(2, 0, 1)))
        self.pad = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
        padded = _pad(features, self.pad)
        self.offsets = offsets
        self.weights = []
        for offset in offsets:
            neighbour = _shifted(padded, offset, self.pad, features.shape[1:])
            colour = ((neighbour - features) ** 2).sum(dim=0) / (2 * sigma_rgb**2)
            spatial = (offset[0] ** 2 + offset[1] ** 2) / (2 * sigma_xy**2)
            self.weights.append(torch.exp(-(colour + spatial)))
        self.inverse_total = 1.0 / torch.stack(self.weights).sum(dim=0).clamp_min(1e-8)

    def message(self, q: torch.Tensor) -> torch.Tensor:
        padded = _pad(q, self.pad)
        out = torch.zeros_like(q)
        for offset, weight in zip(self.offsets, self.weights):
            out += weight * _shifted(padded, offset, self.pad, q.shape[1:])
        return out * self.inverse_total


def _pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    return F.pad(x[None], [pad] * 4, mode="replicate")[0]


def _shifted(padded: torch.Tensor, offset: tuple[int, int], pad: int, shape: torch.Size) -> torch.Tensor:
    y, x = pad + offset[0], pad + offset[1]
    return padded[:, y:y + shape[0], x:x + shape[1]]
