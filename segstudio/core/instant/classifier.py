"""The instant tier: a per-pixel forest on the filter bank, trained in seconds on reviewed pixels.

`InstantModel.fit` takes (image, target) or (ImageFeatures, target) pairs; targets hold class
ids and an ignore value (255 for uint8 targets, 65535 for uint16) wherever nobody has reviewed,
so a few scribbles are already a training set. The live refresh passes the open image's cached
`ImageFeatures` to both `fit` and `predict_proba`, so it pays only for the forest. Classes nobody
has labelled yet keep their place in the output with probability 0.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from segstudio.core.errors import ModelError
from segstudio.core.imageio.channels import match_channels
from segstudio.core.instant.features import (
    FEATURE_SIGMAS, ImageFeatures, as_hwc, box_features, feature_names, feature_tiles, normalise_by_data,
    tile_boxes,
)
from segstudio.core.instant.forest import ForestParams, grow_trees, predict_fractions
from segstudio.core.instant.sampling import BalancedSampler

DEFAULT_MAX_PIXELS = 30_000
PREDICT_TILE = 1024


class InstantModel:
    def __init__(self, class_names: list[str], trees: list, *, channels: int, sigmas: tuple[float, ...],
                 params: ForestParams, present: list[int], labelled: list[int], sampled: list[int],
                 seed: int = 0, created_at: str | None = None):
        self.class_names = list(class_names)
        self.trees = trees
        self.channels = channels
        self.sigmas = tuple(float(s) for s in sigmas)
        self.params = params
        self.present = list(present)  # class ids the forest has seen, in its output order
        self.labelled = list(labelled)  # reviewed pixels per class at training time
        self.sampled = list(sampled)  # of which the forest learnt from
        self.seed = seed
        self.created_at = created_at or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_features(self) -> int:
        return len(feature_names(self.channels, self.sigmas))

    @classmethod
    def fit(cls, samples: Iterable[tuple[np.ndarray | ImageFeatures, np.ndarray]], class_names: list[str], *,
            max_pixels: int = DEFAULT_MAX_PIXELS, seed: int = 0, params: ForestParams | None = None,
            channels: int | None = None, sigmas=FEATURE_SIGMAS, threads: int | None = None) -> InstantModel:
        """Learn from every reviewed pixel of the samples (balanced, at most `max_pixels` rows).

        `channels` fixes the input channels (default: the first sample's); later images are
        matched to it the way networks match them.
        """
        if not class_names:
            raise ModelError("an instant model needs at least one class")
        params = params or ForestParams()
        sampler = BalancedSampler(len(class_names), max_pixels, seed)
        for image_or_features, target in samples:
            if channels is None:
                channels = image_or_features.channels if isinstance(image_or_features, ImageFeatures) \
                    else as_hwc(image_or_features).shape[2]
            target = np.asarray(target)
            _check_target(target, image_or_features)
            gather = _gatherer(image_or_features, channels, sigmas)
            sampler.add(target, 255 if target.dtype == np.uint8 else 65535, gather)
        rows = sampler.rows_for_training()
        trees = grow_trees(rows.features, rows.labels, rows.weights, params, seed, threads)
        return cls(class_names, trees, channels=channels, sigmas=sigmas, params=params,
                   present=sorted(set(rows.labels.tolist())), labelled=rows.labelled.tolist(),
                   sampled=rows.sampled.tolist(), seed=seed)

    def predict_proba(self, image_or_features: np.ndarray | ImageFeatures, *, threads: int | None = None) -> np.ndarray:
        """(num_classes, H, W) float32 class probabilities; raw images go through in tiles."""
        if isinstance(image_or_features, ImageFeatures):
            self._check_features(image_or_features)
            height, width = image_or_features.shape
            out = np.zeros((self.num_classes, height, width), np.float32)
            self._fill(out, (0, height, 0, width), image_or_features.values, threads)
            return out
        normalised = normalise_by_data(match_channels(as_hwc(image_or_features), self.channels))
        out = np.zeros((self.num_classes, *normalised.shape[:2]), np.float32)
        for box, values in feature_tiles(normalised, sigmas=self.sigmas, tile=PREDICT_TILE):
            self._fill(out, box, values, threads)
        return out

    def predict(self, image_or_features: np.ndarray | ImageFeatures, *,
                threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Class map (uint8, uint16 beyond 256 classes) and confidence (the winning probability)."""
        proba = self.predict_proba(image_or_features, threads=threads)
        dtype = np.uint8 if self.num_classes <= 256 else np.uint16
        return proba.argmax(axis=0).astype(dtype), proba.max(axis=0)

    def save(self, folder: Path) -> None:
        from segstudio.core.instant.storage import save_model

        save_model(self, Path(folder))

    @classmethod
    def load(cls, folder: Path) -> InstantModel:
        from segstudio.core.instant.storage import load_model

        return load_model(cls, Path(folder))

    def _fill(self, out: np.ndarray, box: tuple[int, int, int, int], values: np.ndarray, threads: int | None) -> None:
        y0, y1, x0, x1 = box
        fractions = predict_fractions(self.trees, values.reshape(-1, values.shape[-1]), threads)
        out[self.present, y0:y1, x0:x1] = fractions.T.reshape(len(self.present), y1 - y0, x1 - x0)

    def _check_features(self, features: ImageFeatures) -> None:
        if features.channels != self.channels or tuple(features.sigmas) != self.sigmas \
                or features.values.shape[-1] != self.num_features:
            raise ModelError(f"these features ({features.channels} channels, sigmas {features.sigmas}) are not the "
                             f"ones this model uses ({self.channels} channels, sigmas {self.sigmas})")


def _check_target(target: np.ndarray, image_or_features) -> None:
    shape = image_or_features.shape if isinstance(image_or_features, ImageFeatures) else as_hwc(image_or_features).shape[:2]
    if target.shape != tuple(shape):
        raise ModelError(f"the target is {target.shape} but its image is {tuple(shape)}")
    if target.dtype not in (np.uint8, np.uint16):
        raise ModelError(f"targets must be uint8 or uint16 class ids, not {target.dtype}")


def _gatherer(image_or_features, channels: int, sigmas):
    """A function from flat pixel indices to their feature rows (features computed tile by tile)."""
    if isinstance(image_or_features, ImageFeatures):
        if image_or_features.channels != channels or tuple(image_or_features.sigmas) != tuple(float(s) for s in sigmas):
            raise ModelError("the cached features were computed with other channels or scales than this model's")
        values = image_or_features.values
        return lambda indices: values.reshape(-1, values.shape[-1])[indices]

    def gather(indices: np.ndarray) -> np.ndarray:
        normalised = normalise_by_data(match_channels(as_hwc(image_or_features), channels))
        width = normalised.shape[1]
        ys, xs = np.divmod(indices, width)
        rows = np.empty((len(indices), len(feature_names(channels, sigmas))), np.float32)
        for box in tile_boxes(normalised.shape[:2], PREDICT_TILE):
            y0, y1, x0, x1 = box
            inside = np.flatnonzero((ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1))
            if len(inside):
                values = box_features(normalised, box, sigmas=sigmas)
                rows[inside] = values[ys[inside] - y0, xs[inside] - x0]
        return rows

    return gather
