"""Which patches each training step sees: new and changed images first, then a class-balanced
replay of everything else, in epochs of a fixed number of steps whatever the project size.

- Fresh images: an image built or rebuilt in the cache (a person marked it done, or painted on
  it) gets `fresh_patches` priority draws; up to `fresh_share` of every batch goes to fresh
  images, newest first, so a new annotation is in the very next batch.
- Rare classes: with probability `rare_class_probability` a replay patch first picks a class
  uniformly among the classes present, then an image holding it, then a crop centred on one
  of that class's pixels: a class found in 2 images of 1,000 still gets its share.
- High-loss regions: every image is cut into cells of `region` pixels; after each step the
  trainer reports each patch's loss at its centre cell (`observe`) and the cell keeps a moving
  average. Up to `hard_share` of the replay patches of a batch are centred in a cell drawn with
  probability proportional to that estimate, so the model looks again where it was wrong;
  the rest replay as above (cells never seen are found by those). A changed image forgets its
  cells' estimates (its labels changed). Memory: one float per cell seen.
- Determinism: the plan of step s in epoch e of round r comes from numpy
  Generator(seed, rank, r, e, s); a patch's own randomness from the seed in its plan.

The sampler yields batches of PatchPlan lazily: with the DataLoader in the training thread
(num_workers 0) a batch is planned just before it is loaded, after the latest refresh.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
from torch.utils.data import Sampler

from segstudio.core.training.cache import CachedImage


@dataclass(frozen=True)
class PatchPlan:
    image: CachedImage
    focus_class: int  # -1: any labelled pixel (or anywhere), the augmentation's own rule
    seed: tuple[int, ...]
    centre: tuple[int, int] | None = None  # a high-loss cell's centre (y, x): the crop goes around it


def steps_per_epoch(train_images: int, batch_size: int, patches_per_image: int, minimum: int, maximum: int) -> int:
    """One pass over the images' patches, but never fewer than `minimum` nor more than `maximum`
    steps: validation and the keep decision come at a steady pace on a project of any size."""
    wanted = math.ceil(train_images * patches_per_image / batch_size)
    return max(minimum, min(maximum, wanted))


class PrioritySampler(Sampler):
    """Batches of PatchPlan for one rank; see the module docstring."""

    def __init__(self, batch_size: int, *, seed: int = 0, rank: int = 0, fresh_share: float = 0.5,
                 fresh_patches: int = 16, rare_class_probability: float = 0.5, hard_share: float = 0.25,
                 region: int = 128, ensure=None):
        self.batch_size = batch_size
        self.hard_share, self.region = hard_share, max(1, region)
        self.ensure = ensure  # called with each planned image (TrainingCache.ensure: files on disk)
        self.regions = RegionLosses()
        self.seed, self.rank = seed, rank
        self.fresh_share, self.fresh_patches = fresh_share, fresh_patches
        self.rare_class_probability = rare_class_probability
        self.images: dict[int, CachedImage] = {}
        self.fresh: dict[int, int] = {}  # image id -> priority draws left, newest last
        self.steps, self.round, self.epoch = 1, 0, 0
        self._by_class: list[tuple[int, list[int]]] = []

    # ---------------------------------------------------------------- state
    def start_round(self, images: Sequence[CachedImage], steps: int, round_index: int) -> None:
        self.images = {image.image_id: image for image in images}
        self.fresh = {i: n for i, n in self.fresh.items() if i in self.images}
        self.steps, self.round = steps, round_index
        self._index_classes()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def add_fresh(self, images: Sequence[CachedImage]) -> None:
        """New or changed training images: replayed from now on, and drawn first for a while."""
        for image in images:
            self.images[image.image_id] = image
            self.fresh.pop(image.image_id, None)
            self.fresh[image.image_id] = self.fresh_patches
            self.regions.forget(image.image_id)
        if images:
            self._index_classes()

    def remove(self, image_ids: Sequence[int]) -> None:
        for image_id in image_ids:
            self.images.pop(image_id, None)
            self.fresh.pop(image_id, None)
            self.regions.forget(image_id)
        self._index_classes()

    def observe(self, image_ids: Sequence[int], centres: Sequence[tuple[int, int]], losses: Sequence[float]) -> None:
        """Each patch's loss of the last step, at the cell of its centre (high-loss regions)."""
        for image_id, (y, x), loss in zip(image_ids, centres, losses):
            image = self.images.get(int(image_id))
            if image is None or not math.isfinite(loss):
                continue
            rows, cols = self._cells(image)
            cy = min(rows - 1, max(0, int(y) // self.region))
            cx = min(cols - 1, max(0, int(x) // self.region))
            self.regions.observe(int(image_id), cy * cols + cx, float(loss))

    def _cells(self, image: CachedImage) -> tuple[int, int]:
        return math.ceil(image.shape[0] / self.region), math.ceil(image.shape[1] / self.region)

    def _index_classes(self) -> None:
        """(class id, ids of the images that hold it) for each class present (class-balanced draws)."""
        width = max((len(image.class_counts) for image in self.images.values()), default=0)
        holders = [(c, [i for i, image in self.images.items() if image.class_counts[c] > 0]) for c in range(width)]
        self._by_class = [(c, ids) for c, ids in holders if ids]

    # -------------------------------------------------------------- drawing
    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[list[PatchPlan]]:
        for step in range(self.steps):
            yield self.plan_batch(step)

    def plan_batch(self, step: int) -> list[PatchPlan]:
        if not self.images:
            raise ValueError("no reviewed images to train on")
        rng = np.random.default_rng([self.seed, self.rank, self.round, self.epoch, step])
        plans = [self._fresh_plan(rng) for _ in range(self._fresh_slots())]
        hard = int(round((self.batch_size - len(plans)) * self.hard_share)) if len(self.regions) else 0
        plans.extend(self._hard_plans(rng, hard))
        ids = sorted(self.images)
        while len(plans) < self.batch_size:
            plans.append(self._replay_plan(rng, ids))
        if self.ensure is not None:
            plans = [replace(plan, image=self.ensure(plan.image)) for plan in plans]
        return plans

    def _hard_plans(self, rng: np.random.Generator, count: int) -> list[PatchPlan]:
        """`count` patches centred in cells drawn in proportion to their loss estimate."""
        plans = []
        for image_id, cell in self.regions.draw(rng, count):
            image = self.images.get(image_id)
            if image is None:
                continue
            cols = self._cells(image)[1]
            cy, cx = divmod(cell, cols)
            y = min(image.shape[0] - 1, cy * self.region + int(rng.integers(self.region)))
            x = min(image.shape[1] - 1, cx * self.region + int(rng.integers(self.region)))
            plans.append(PatchPlan(image, -1, _seed(rng), (y, x)))
        return plans

    def _fresh_slots(self) -> int:
        if not self.fresh:
            return 0
        return min(sum(self.fresh.values()), max(1, int(round(self.batch_size * self.fresh_share))))

    def _fresh_plan(self, rng: np.random.Generator) -> PatchPlan:
        """Newest fresh image first; a fresh image with draws left stays at the front."""
        image_id = next(reversed(self.fresh))
        self.fresh[image_id] -= 1
        if self.fresh[image_id] <= 0:
            del self.fresh[image_id]
        else:  # rotate: the next fresh slot goes to the next newest image
            self.fresh = {image_id: self.fresh.pop(image_id), **self.fresh}
        image = self.images[image_id]
        present = np.flatnonzero(image.class_counts)
        focus = int(rng.choice(present)) if len(present) and rng.random() < self.rare_class_probability else -1
        return PatchPlan(image, focus, _seed(rng))

    def _replay_plan(self, rng: np.random.Generator, ids: list[int]) -> PatchPlan:
        if self._by_class and rng.random() < self.rare_class_probability:
            class_id, holders = self._by_class[int(rng.integers(len(self._by_class)))]
            return PatchPlan(self.images[holders[int(rng.integers(len(holders)))]], class_id, _seed(rng))
        return PatchPlan(self.images[ids[int(rng.integers(len(ids)))]], -1, _seed(rng))


class RegionLosses:
    """A moving average of the loss per (image, cell), in growable arrays (cheap to draw from)."""

    DECAY = 0.5  # weight of the older estimate when a new loss arrives

    def __init__(self):
        self.index: dict[tuple[int, int], int] = {}
        self.rows_of: dict[int, list[int]] = {}  # image id -> its rows
        self.keys = np.zeros((0, 2), np.int64)
        self.values = np.zeros(0, np.float64)

    def __len__(self) -> int:
        return int(np.count_nonzero(self.values > 0))

    def observe(self, image_id: int, cell: int, loss: float) -> None:
        row = self.index.get((image_id, cell))
        if row is None:
            row = self._new_row(image_id, cell)
            self.values[row] = loss
        else:
            self.values[row] = self.DECAY * self.values[row] + (1 - self.DECAY) * loss

    def forget(self, image_id: int) -> None:
        self.values[self.rows_of.get(image_id, [])] = 0.0  # rows stay (reused when seen again); weight 0 is never drawn

    def draw(self, rng: np.random.Generator, count: int) -> list[tuple[int, int]]:
        if count <= 0:
            return []
        total = float(self.values.sum())
        if total <= 0:
            return []
        rows = rng.choice(len(self.values), size=count, p=self.values / total)
        return [(int(self.keys[r, 0]), int(self.keys[r, 1])) for r in rows]

    def estimate(self, image_id: int, cell: int) -> float | None:
        row = self.index.get((image_id, cell))
        return None if row is None else float(self.values[row])

    def _new_row(self, image_id: int, cell: int) -> int:
        row = len(self.index)
        if row >= len(self.values):
            grow = max(64, len(self.values))
            self.keys = np.concatenate([self.keys, np.zeros((grow, 2), np.int64)])
            self.values = np.concatenate([self.values, np.zeros(grow)])
        self.keys[row] = (image_id, cell)
        self.index[(image_id, cell)] = row
        self.rows_of.setdefault(image_id, []).append(row)
        return row


def _seed(rng: np.random.Generator) -> tuple[int, ...]:
    return tuple(int(v) for v in rng.integers(0, 2**31, 2))
