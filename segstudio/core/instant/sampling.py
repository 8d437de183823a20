"""Which labelled pixels the forest learns from: a seeded, class-balanced sample in one pass.

A person's labels can reach millions of pixels while a live refresh has a second or two, so
training uses at most `max_pixels` of them. Each labelled pixel draws a random key; per class the
smallest keys are kept (a uniform sample, whatever the order the images come in), and only the
kept pixels' features are ever gathered, so memory stays bounded by classes x max_pixels rows.
At the end the budget is shared between classes as evenly as their pixels allow (a class with
few pixels gives its share to the others) and sample weights even out what is left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from segstudio.core.errors import ModelError


@dataclass
class TrainingRows:
    features: np.ndarray  # (N, F) float32
    labels: np.ndarray  # (N,) int32 class ids
    weights: np.ndarray  # (N,) float64: every present class weighs the same in total
    labelled: np.ndarray  # (num_classes,) int64 labelled pixels seen per class, before sampling
    sampled: np.ndarray  # (num_classes,) int64 rows kept per class


class BalancedSampler:
    """Feed it (target, gather) per image with `add`; `rows()` gives the balanced sample."""

    def __init__(self, num_classes: int, max_pixels: int, seed: int):
        if max_pixels < 1:
            raise ValueError("max_pixels must be at least 1")
        self.num_classes = num_classes
        self.max_pixels = int(max_pixels)
        self.rng = np.random.default_rng(seed)
        self.keys: list[np.ndarray] = [np.empty(0)] * num_classes
        self.rows: list[np.ndarray | None] = [None] * num_classes
        self.labelled = np.zeros(num_classes, np.int64)

    def add(self, target: np.ndarray, ignore: int, gather: Callable[[np.ndarray], np.ndarray]) -> None:
        """Offer one image's labelled pixels; `gather(flat_indices)` returns their (n, F) features."""
        flat = target.ravel()
        labelled = np.flatnonzero(flat != ignore)
        classes = flat[labelled].astype(np.int64)
        if len(classes) and classes.max() >= self.num_classes:
            raise ModelError(f"the labels hold class id {classes.max()} but the model has {self.num_classes} classes")
        keys = self.rng.random(len(labelled))
        chosen = []
        for c in np.unique(classes):
            mine = np.flatnonzero(classes == c)
            self.labelled[c] += len(mine)
            union = np.concatenate([self.keys[c], keys[mine]])
            if len(union) > self.max_pixels:
                mine = mine[keys[mine] <= np.partition(union, self.max_pixels - 1)[self.max_pixels - 1]]
            chosen.append((c, mine))
        if not chosen or not sum(len(mine) for _, mine in chosen):
            return
        gathered = gather(labelled[np.concatenate([mine for _, mine in chosen])])
        start = 0
        for c, mine in chosen:
            rows = gathered[start:start + len(mine)]
            start += len(mine)
            self.keys[c], self.rows[c] = self._smallest(np.concatenate([self.keys[c], keys[mine]]),
                                                         rows if self.rows[c] is None else np.concatenate([self.rows[c], rows]),
                                                         self.max_pixels)

    def rows_for_training(self) -> TrainingRows:
        available = np.array([len(k) for k in self.keys], np.int64)
        if not available.any():
            raise ModelError("there are no reviewed pixels to learn from yet")
        quotas = share_budget(available, self.max_pixels)
        parts = [(c, self._smallest(self.keys[c], self.rows[c], quotas[c])[1]) for c in range(self.num_classes) if quotas[c]]
        labels = np.concatenate([np.full(len(rows), c, np.int32) for c, rows in parts])
        present = len(parts)
        weights = np.concatenate([np.full(len(rows), len(labels) / (present * len(rows))) for _, rows in parts])
        return TrainingRows(np.concatenate([rows for _, rows in parts]), labels, weights, self.labelled.copy(), quotas)

    @staticmethod
    def _smallest(keys: np.ndarray, rows: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        if len(keys) <= count:
            return keys, rows
        keep = np.argsort(keys, kind="stable")[:count]
        return keys[keep], rows[keep]


def share_budget(available: np.ndarray, budget: int) -> np.ndarray:
    """Rows per class: as equal as possible, never more than a class has, summing to at most `budget`."""
    quotas = np.zeros(len(available), np.int64)
    remaining, open_classes = int(budget), [c for c in np.argsort(available, kind="stable") if available[c]]
    while open_classes:
        share = remaining // len(open_classes)
        c = open_classes.pop(0)
        quotas[c] = min(int(available[c]), share if open_classes else remaining)
        remaining -= quotas[c]
    return quotas
