"""The instant tier: a per-pixel forest on the filter bank, trained in seconds on reviewed pixels.

`InstantModel.fit` takes (image, target) or (ImageFeatures, target) pairs; targets hold class
ids and an ignore value (255 for uint8 targets, 65535 for uint16) wherever nobody has reviewed,
so a few scribbles are already a training set. The live refresh passes the open image's cached
`ImageFeatures` to both `fit` and `predict_proba`, so it pays only for the forest. Classes nobody
has labelled yet keep their place in the output with probability 0. A model may carry a second,
auto-context forest (core/instant/context.py) that reads the first one's smoothed probabilities.
A model may also read a network's class probabilities as K more planes after the filter bank
(`network_planes`, the ladder's third kind: core/proposers.HybridProposer); those planes come in
beside the image (`planes=`) or already appended to its ImageFeatures.
"""

from __future__ import annotations

import copy
import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segstudio.core.errors import ModelError
from segstudio.core.imageio.channels import match_channels
from segstudio.core.instant.context import context_at, context_box, context_count
from segstudio.core.instant.features import (
    FEATURE_SIGMAS, ImageFeatures, as_hwc, box_features, feature_names, feature_tiles, image_features,
    normalise_by_data, tile_boxes,
)
from segstudio.core.instant.forest import ForestParams, grow_trees, predict_fractions
from segstudio.core.instant.prior import apply_prior, prior_weights
from segstudio.core.instant.sampling import BalancedSampler
from segstudio.core.labels import unlabelled_value

DEFAULT_MAX_PIXELS = 20_000  # rows a fit learns from: bounds the live refresh's retrain
PREDICT_TILE = 1024
CONTEXT_BAND_BYTES = 1 << 27  # rows the auto-context forest reads at once
# Each pixel's trees vote alone, so the proposals come speckled: single wrong pixels and ragged
# edges that a person erases stroke by stroke. Smoothing the class probabilities a little before
# the vote lets neighbours settle them. `bench hitl --model instant`, effort 11-20 without -> with:
# nuclei 0.058 -> 0.044, brain-tumour 0.031 -> 0.022, spacenet 0.205 -> 0.150 (held-out mIoU
# within 0.001 or better). Sigma 1.5 helped brain-tumour more but from 2 on nuclei (small objects)
# got worse; a class 1 pixel wide can no longer win the vote (2-3 px boundaries kept their IoU).
PROBABILITY_SIGMA = 1.0


class InstantModel:
    def __init__(self, class_names: list[str], trees: list, *, channels: int, sigmas: tuple[float, ...],
                 params: ForestParams, present: list[int], labelled: list[int], sampled: list[int],
                 seed: int = 0, created_at: str | None = None, prior_power: float = 0.0,
                 probability_sigma: float = 0.0, context_trees: list | None = None, context_sigmas=(),
                 network_planes: int = 0, network_version: str | None = None):
        self.class_names = list(class_names)
        self.trees = trees
        self.channels = channels
        self.sigmas = tuple(float(s) for s in sigmas)
        self.params = params
        self.present = list(present)  # class ids the forest has seen, in its output order
        self.labelled = list(labelled)  # reviewed pixels per class at training time
        self.sampled = list(sampled)  # of which the forest learnt from
        self.prior_power = float(prior_power)  # proposals keep prior ** power (core/instant/prior.py)
        self.probability_sigma = float(probability_sigma)  # smoothing before the vote (0: none)
        self.context_trees = context_trees  # the auto-context forest (None: one stage)
        self.context_sigmas = tuple(float(s) for s in context_sigmas) if context_trees is not None else ()
        self.network_planes = int(network_planes)  # a network's class probabilities after the filter bank
        self.network_version = network_version if network_planes else None  # the project version they come from
        self.seed = seed
        self.created_at = created_at or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_features(self) -> int:
        """Features per pixel the first forest reads: the filter bank, then any network planes."""
        return len(feature_names(self.channels, self.sigmas)) + self.network_planes

    @property
    def num_context_features(self) -> int:
        """What the auto-context forest reads besides the filter bank (0 without one)."""
        return context_count(self.num_classes, self.context_sigmas)

    @classmethod
    def fit(cls, samples: Iterable[tuple[np.ndarray | ImageFeatures, np.ndarray]], class_names: list[str], *,
            max_pixels: int = DEFAULT_MAX_PIXELS, seed: int = 0, params: ForestParams | None = None,
            channels: int | None = None, sigmas=FEATURE_SIGMAS, start: ReviewedRows | None = None,
            threads: int | None = None, labelled: np.ndarray | None = None,
            prior_power: float = 0.0, probability_sigma: float = PROBABILITY_SIGMA, context_sigmas=(),
            network_planes: int = 0, network_version: str | None = None) -> InstantModel:
        """Learn from every reviewed pixel of the samples (balanced, at most `max_pixels` rows).

        `channels` fixes the input channels (default: the first sample's); later images are
        matched to it the way networks match them. `start` (from `collect_rows`) holds rows
        already gathered from other images: a live refresh gathers the other reviewed images
        once and passes only the open image here. `labelled` gives the reviewed pixels per class
        when the samples are themselves a sample (the instant tier's per-image draws): the
        proposals keep `prior_power` of that class prior (core/instant/prior.py).
        `probability_sigma`: the smoothing before the vote (0 for none, as ilastik votes).
        `context_sigmas` (not with `start`): also grow an auto-context forest on the whole samples.
        `network_planes`: the samples are ImageFeatures that end with that many class-probability
        planes of network `network_version`.
        """
        if context_sigmas:
            samples = list(samples)
        rows = collect_rows(samples, class_names, max_pixels=max_pixels, seed=seed, channels=channels,
                            sigmas=sigmas, start=start)
        training = rows.sampler.rows_for_training()
        params = params or ForestParams()
        expected = len(feature_names(rows.channels, rows.sigmas)) + network_planes
        if training.features.shape[1] != expected:
            raise ModelError(f"the training rows have {training.features.shape[1]} features, expected {expected}")
        trees = grow_trees(training.features, training.labels, training.weights, params, seed, threads)
        model = cls(class_names, trees, channels=rows.channels, sigmas=rows.sigmas, params=params,
                    present=sorted(set(training.labels.tolist())),
                    labelled=(training.labelled if labelled is None else np.asarray(labelled, np.int64)).tolist(),
                    sampled=training.sampled.tolist(), seed=seed, prior_power=prior_power,
                    probability_sigma=probability_sigma, network_planes=network_planes,
                    network_version=network_version)
        if context_sigmas:
            if start is not None:
                raise ModelError("auto-context needs every training image whole, not rows gathered before")
            model._grow_context_on_images(samples, context_sigmas, max_pixels, threads)
        return model

    def grow_context(self, rows: np.ndarray, labels: np.ndarray, sigmas, *, threads: int | None = None) -> None:
        """Add the auto-context forest, learnt from (N, filter features + `context_at` features)
        rows of reviewed pixels, balanced between classes as the first forest was."""
        sigmas = tuple(float(s) for s in sigmas)
        if rows.shape[1] != self.num_features + context_count(self.num_classes, sigmas):
            raise ModelError(f"auto-context rows have {rows.shape[1]} features, expected "
                             f"{self.num_features + context_count(self.num_classes, sigmas)}")
        sampler = BalancedSampler(self.num_classes, max(1, len(labels)), self.seed)
        sampler.add(np.asarray(labels)[:, None], unlabelled_value(np.asarray(labels).dtype), lambda index: rows[index])
        self._grow_context_from(sampler, sigmas, threads)

    def _grow_context_on_images(self, samples, sigmas, max_pixels: int, threads: int | None) -> None:
        sampler = BalancedSampler(self.num_classes, max_pixels, self.seed + 1)
        for image_or_features, target in samples:
            features = self._as_features(image_or_features)
            first = self.first_stage_proba(features, threads=threads)
            width = features.shape[1]

            def gather(index: np.ndarray, values=features.values, first=first) -> np.ndarray:
                ys, xs = np.divmod(index, width)
                return np.concatenate([values[ys, xs], context_at(first, ys, xs, sigmas)], axis=1)

            sampler.add(np.asarray(target), unlabelled_value(np.asarray(target).dtype), gather)
        self._grow_context_from(sampler, sigmas, threads)

    def _grow_context_from(self, sampler: BalancedSampler, sigmas, threads: int | None) -> None:
        training = sampler.rows_for_training()
        if sorted(set(training.labels.tolist())) != self.present:
            raise ModelError("the auto-context rows hold other classes than the first forest learnt")
        self.context_trees = grow_trees(training.features, training.labels, training.weights, self.params,
                                        self.seed + 1, threads)
        self.context_sigmas = tuple(float(s) for s in sigmas)

    def predict_proba(self, image_or_features: np.ndarray | ImageFeatures, *, threads: int | None = None,
                      first_stage: np.ndarray | None = None, planes: np.ndarray | None = None) -> np.ndarray:
        """(num_classes, H, W) float32 class probabilities; raw images go through in tiles.
        `first_stage`: this model's `first_stage_proba` of these very features, when the caller
        has it already (the live refresh took the open image's context from it). `planes`: the
        (H, W, network_planes) network planes of a raw image, for a model that reads them (an
        array, or anything sliced [rows, cols] into one, such as proposers.ProposalPlanes)."""
        source = self._source(image_or_features, planes)
        if self.context_trees is None:
            proba = self._forest_pass(source, threads, planes=planes)
        else:
            if first_stage is None:
                first_stage = self._forest_pass(source, threads, prior=False, planes=planes)
            proba = self._forest_pass(source, threads, context=first_stage, planes=planes)
        return _smoothed(proba, self.probability_sigma)

    def first_stage_proba(self, features: ImageFeatures, *, threads: int | None = None) -> np.ndarray:
        """The first forest's (num_classes, H, W) class fractions as it learnt them, balanced: no
        prior, no smoothing. What auto-context reads: the prior's power changes as the tier learns,
        and context cached under one power would mislead the second forest under another (on
        spacenet, contexts cached with the building class suppressed made held-out mIoU fall from
        0.48 to 0.28 once the power moved)."""
        self._check_features(features)
        return self._forest_pass(features, threads, prior=False)

    def predict(self, image_or_features: np.ndarray | ImageFeatures, *, threads: int | None = None,
                planes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Class map (uint8, uint16 beyond 256 classes) and confidence (the winning probability)."""
        proba = self.predict_proba(image_or_features, threads=threads, planes=planes)
        dtype = np.uint8 if self.num_classes <= 256 else np.uint16
        return proba.argmax(axis=0).astype(dtype), proba.max(axis=0)

    def save(self, folder: Path) -> None:
        from segstudio.core.instant.storage import save_model

        save_model(self, Path(folder))

    @classmethod
    def load(cls, folder: Path) -> InstantModel:
        from segstudio.core.instant.storage import load_model

        return load_model(cls, Path(folder))

    def _source(self, image_or_features: np.ndarray | ImageFeatures,
                planes: np.ndarray | None = None) -> ImageFeatures | np.ndarray:
        """Features to predict from, or the normalised image when it is filtered tile by tile.
        A two-stage model reads each tile twice, so an image of one tile is filtered once, whole."""
        if isinstance(image_or_features, ImageFeatures):
            self._check_features(image_or_features)
            return image_or_features
        self._check_planes(as_hwc(image_or_features).shape[:2], planes)
        if self.context_trees is not None and max(as_hwc(image_or_features).shape[:2]) <= PREDICT_TILE:
            return with_planes(self._as_features(image_or_features), None if planes is None else planes[:, :])
        return normalise_by_data(match_channels(as_hwc(image_or_features), self.channels))

    def _check_planes(self, shape: tuple[int, int], planes: np.ndarray | None) -> None:
        if not self.network_planes:
            if planes is not None:
                raise ModelError("this instant model reads no network planes")
            return
        if planes is None:
            raise ModelError(f"this instant model reads network {self.network_version}'s class probabilities "
                             "beside the image: propose through its proposer")
        if planes.shape != (*shape, self.network_planes):
            raise ModelError(f"network planes {planes.shape} do not fit a {shape} image of "
                             f"{self.network_planes} classes")

    def _as_features(self, image_or_features: np.ndarray | ImageFeatures) -> ImageFeatures:
        if isinstance(image_or_features, ImageFeatures):
            return image_or_features
        return image_features(image_or_features, channels=self.channels, sigmas=self.sigmas, tile=PREDICT_TILE)

    def _forest_pass(self, source: ImageFeatures | np.ndarray, threads: int | None,
                     context: np.ndarray | None = None, prior: bool = True,
                     planes: np.ndarray | None = None) -> np.ndarray:
        """(num_classes, H, W) probabilities of the first forest (with the `prior` correction);
        with `context` (`first_stage_proba`), of the auto-context forest, which reads it smoothed.
        `planes` are appended to each tile of a raw `source` (ImageFeatures hold theirs)."""
        if isinstance(source, ImageFeatures):
            boxes = [((0, source.shape[0], 0, source.shape[1]), source.values)]
        else:
            boxes = feature_tiles(source, sigmas=self.sigmas, tile=PREDICT_TILE)
            if planes is not None:
                boxes = ((box, np.concatenate([values, planes[box[0]:box[1], box[2]:box[3]]], axis=2))
                         for box, values in boxes)
        height, width = source.shape[:2]
        out = np.zeros((self.num_classes, height, width), np.float32)
        weights = prior_weights(self.labelled, self.present, self.prior_power) if prior else None
        for box, values in boxes:
            for band in ([box] if context is None else _bands(box, values.shape[-1] + self.num_context_features)):
                y0, y1, x0, x1 = band
                rows = values[y0 - box[0]:y1 - box[0]].reshape(-1, values.shape[-1])
                if context is None:
                    fractions = self.fractions(rows, threads)
                else:
                    extra = context_box(context, band, self.context_sigmas)
                    rows = np.concatenate([rows, extra.reshape(-1, extra.shape[-1])], axis=1)
                    fractions = predict_fractions(self.context_trees, rows, threads)
                fractions = apply_prior(fractions, weights)
                out[self.present, y0:y1, x0:x1] = fractions.T.reshape(len(self.present), y1 - y0, x1 - x0)
        return out

    def fractions(self, rows: np.ndarray, threads: int | None = None) -> np.ndarray:
        """(N, present classes) the first forest's mean leaf class fractions of (N, F) feature rows,
        before the prior (what the prior calibration scores)."""
        return predict_fractions(self.trees, rows, threads)

    def _check_features(self, features: ImageFeatures) -> None:
        if features.channels != self.channels or tuple(features.sigmas) != self.sigmas \
                or features.values.shape[-1] != self.num_features:
            raise ModelError(f"these features ({features.channels} channels, sigmas {features.sigmas}, "
                             f"{features.values.shape[-1]} in all) are not the ones this model uses ({self.channels} "
                             f"channels, sigmas {self.sigmas}, {self.num_features} in all)")


def with_planes(features: ImageFeatures, planes: np.ndarray | None) -> ImageFeatures:
    """The features with (H, W, K) planes appended after the filter bank (None: as they are)."""
    if planes is None:
        return features
    return ImageFeatures(np.concatenate([features.values, planes.astype(np.float32, copy=False)], axis=2),
                         features.channels, features.sigmas)


def _bands(box: tuple[int, int, int, int], features: int) -> list[tuple[int, int, int, int]]:
    """The box cut into full-width bands whose rows of `features` float32 fit CONTEXT_BAND_BYTES:
    the auto-context forest's rows are copied together, and a 2k x 2k open image would need 1 GB."""
    y0, y1, x0, x1 = box
    height = max(1, CONTEXT_BAND_BYTES // max(1, (x1 - x0) * features * 4))
    return [(top, min(top + height, y1), x0, x1) for top in range(y0, y1, height)]


def _smoothed(probabilities: np.ndarray, sigma: float) -> np.ndarray:
    """Each class plane blurred by `sigma`, in place (whole planes: no tile seams)."""
    if sigma > 0:
        for plane in probabilities:
            cv2.GaussianBlur(plane, (0, 0), sigma, dst=plane, borderType=cv2.BORDER_REFLECT_101)
    return probabilities


@dataclass
class ReviewedRows:
    """Balanced feature rows gathered from some images; `fit(..., start=...)` continues from a copy."""

    sampler: BalancedSampler
    channels: int | None
    sigmas: tuple[float, ...]


def collect_rows(samples: Iterable[tuple[np.ndarray | ImageFeatures, np.ndarray]], class_names: list[str], *,
                 max_pixels: int = DEFAULT_MAX_PIXELS, seed: int = 0, channels: int | None = None,
                 sigmas=FEATURE_SIGMAS, start: ReviewedRows | None = None) -> ReviewedRows:
    """The reviewed pixels' feature rows of the samples, added to a copy of `start` if given."""
    if not class_names:
        raise ModelError("an instant model needs at least one class")
    if start is not None:
        if start.sampler.num_classes != len(class_names) or start.sigmas != tuple(float(s) for s in sigmas):
            raise ModelError("the rows gathered before were for other classes or feature scales")
        rows = ReviewedRows(copy.deepcopy(start.sampler), start.channels, start.sigmas)
    else:
        rows = ReviewedRows(BalancedSampler(len(class_names), max_pixels, seed), channels, tuple(float(s) for s in sigmas))
    for image_or_features, target in samples:
        if rows.channels is None:
            rows.channels = image_or_features.channels if isinstance(image_or_features, ImageFeatures) \
                else as_hwc(image_or_features).shape[2]
        target = np.asarray(target)
        _check_target(target, image_or_features)
        gather = _gatherer(image_or_features, rows.channels, rows.sigmas)
        rows.sampler.add(target, unlabelled_value(target.dtype), gather)
    return rows


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
