"""Losses for partially labelled masks: cross-entropy with an ignore index, per-pixel weights,
class balancing (frequency weights, focal or Dice terms).

Only reviewed pixels carry a label; every other pixel is 255 and contributes nothing, neither
to the loss nor to its normalisation, so an image labelled with a few scribbles trains as well
as a fully painted one.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from segstudio.core.labels import IGNORE
from segstudio.core.training.config import LOSS_KINDS

LossKind = Literal["ce", "ce+dice", "focal"]


def class_weights_from_counts(pixel_counts: np.ndarray, *, max_ratio: float = 10.0) -> np.ndarray:
    """Inverse square-root frequency weights, mean 1 over the classes that occur.

    The square root keeps rare classes from dominating; the weights are clipped so the largest
    is at most `max_ratio` times the smallest. Classes without pixels get weight 1 (unused).
    """
    counts = np.asarray(pixel_counts, dtype=np.float64)
    present = counts > 0
    weights = np.ones_like(counts)
    if present.any():
        raw = 1.0 / np.sqrt(counts[present] / counts[present].sum())
        raw = np.clip(raw, raw.min(), raw.min() * max_ratio)
        weights[present] = raw / raw.mean()
    return weights.astype(np.float32)


class SegmentationLoss(nn.Module):
    """CE (optionally focal) over labelled pixels, times pixel weights, plus an optional soft Dice."""

    def __init__(self, num_classes: int, kind: LossKind = "ce", *, class_weights: torch.Tensor | None = None,
                 focal_gamma: float = 2.0, dice_weight: float = 1.0, ignore_index: int = IGNORE):
        super().__init__()
        if kind not in LOSS_KINDS:
            raise ValueError(f"unknown loss {kind!r}; choose one of {', '.join(LOSS_KINDS)}")
        self.num_classes = num_classes
        self.kind = kind
        self.focal_gamma = focal_gamma
        self.dice_weight = dice_weight
        self.ignore_index = ignore_index
        self.last_per_sample: list[float] = []  # the last call's loss per batch item (no gradient)
        self.register_buffer("class_weights", class_weights if class_weights is not None else torch.ones(num_classes))

    def forward(self, logits: torch.Tensor, target: torch.Tensor, pixel_weight: torch.Tensor | None = None) -> torch.Tensor:
        logits = logits.float()
        valid = target != self.ignore_index
        safe_target = torch.where(valid, target, torch.zeros_like(target))
        log_probs = F.log_softmax(logits, dim=1)
        picked = log_probs.gather(1, safe_target.unsqueeze(1)).squeeze(1)  # log p of the true class
        weight = self.class_weights[safe_target] * valid
        if pixel_weight is not None:
            weight = weight * pixel_weight
        per_pixel = -picked
        if self.kind == "focal":
            per_pixel = per_pixel * (1.0 - picked.exp()).clamp(min=0).pow(self.focal_gamma)
        weighted = per_pixel * weight
        with torch.no_grad():  # each patch's own loss, for the sampler's high-loss regions
            per_sample = weighted.sum(dim=(1, 2)) / weight.sum(dim=(1, 2)).clamp(min=1e-6)
            self.last_per_sample = per_sample.tolist()
        total_weight = weight.sum()
        if total_weight <= 0:
            return logits.sum() * 0.0  # nothing labelled in this batch: a zero that keeps the graph
        loss = weighted.sum() / total_weight
        if self.kind == "ce+dice":
            loss = loss + self.dice_weight * self._dice(log_probs.exp(), safe_target, valid)
        return loss

    def _dice(self, probs: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """1 - mean soft Dice over the classes present in the labelled pixels of the batch."""
        one_hot = F.one_hot(target, self.num_classes).permute(0, 3, 1, 2).to(probs.dtype)
        mask = valid.unsqueeze(1).to(probs.dtype)
        probs, one_hot = probs * mask, one_hot * mask
        intersection = (probs * one_hot).sum(dim=(0, 2, 3))
        denominator = probs.sum(dim=(0, 2, 3)) + one_hot.sum(dim=(0, 2, 3))
        present = one_hot.sum(dim=(0, 2, 3)) > 0
        dice = (2 * intersection + 1.0) / (denominator + 1.0)
        return 1.0 - dice[present].mean() if present.any() else probs.sum() * 0.0
