"""The instant tier of the ladder: a pixel classifier retrained in seconds on every reviewed pixel.

Each reviewed image contributes a bounded, class-balanced sample of its reviewed pixels (source 2
and 3) as feature vectors. The samples are cached per image and recomputed only when the image's
masks change, so a retrain after a new annotation costs one image's features plus one fit, not a
pass over the project. The open image's painted pixels (not yet in the project's masks) come in as
`extra` samples: that is what makes the live refresh learn from the stroke just made.

Models have two stages (auto-context, core/instant/context.py). Each cached image keeps the
context features of its samples, taken from a first forest that learnt from it and the images
cached before it, so a retrain never has to filter the reviewed images again; the open image's
context comes from the retrained first forest itself.

A tier with a `network` is the ladder's third kind (hybrid): every image's features end with that
network's class probabilities, so the forest learns where to trust the network and where the
strokes say otherwise. Samples are cached with one network's planes; a new network drops them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from segstudio.core.instant.classifier import DEFAULT_MAX_PIXELS, PROBABILITY_SIGMA
from segstudio.core.instant.context import CONTEXT_SIGMAS, MAX_CONTEXT_CLASSES, context_at
from segstudio.core.instant.forest import ForestParams
from segstudio.core.instant.prior import PriorCalibration
from segstudio.core.labels import unlabelled_value
from segstudio.core.progress import Progress, StopFlag, drive

SAMPLES_PER_IMAGE = 6000  # class-balanced: each class present in the image gets an equal share
MAX_SAMPLES = DEFAULT_MAX_PIXELS  # rows the forest learns from; cached images are thinned when there are more
# Two stages of 16 trees cost what one forest of 32 did (the live refresh's 2 s) and were as
# accurate as two of 32 (held-out mIoU within 0.004 on four real sets).
TWO_STAGE_PARAMS = ForestParams(trees=16)
PENDING_CONTEXT_BYTES = 1 << 30  # feature stacks held until their context is computed


@dataclass
class ImageSamples:
    key: tuple  # what the samples were drawn from (mask file stats); a changed key recomputes them
    features: np.ndarray  # (n, F) float32
    labels: np.ndarray  # (n,) uint8/uint16 class ids
    counts: np.ndarray | None = None  # reviewed pixels per class in the whole image (None: the labels are all)
    pixels: tuple[np.ndarray, np.ndarray] | None = None  # (rows, cols) of the samples in their image
    context: np.ndarray | None = None  # (n, S * K) auto-context features, once computed
    image: object = None  # the whole image's ImageFeatures while its context is still to compute
    first_stage: np.ndarray | None = None  # the first forest's fractions on the whole image, for
    # the open image's samples in a live refresh: the proposal that follows reuses them


def balanced_sample(target: np.ndarray, ignore: int, budget: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of up to `budget` labelled pixels, an equal share per class present."""
    labelled = target != ignore
    classes = np.unique(target[labelled])
    if classes.size == 0:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    rng = np.random.default_rng(seed)
    share = max(1, budget // classes.size)
    rows, cols = [], []
    for class_id in classes:
        ys, xs = np.nonzero(target == class_id)
        if ys.size > share:
            pick = rng.choice(ys.size, share, replace=False)
            ys, xs = ys[pick], xs[pick]
        rows.append(ys)
        cols.append(xs)
    return np.concatenate(rows), np.concatenate(cols)


def sample_features(features, target: np.ndarray, ignore: int, budget: int, seed: int) -> ImageSamples:
    """A class-balanced sample of an image's ImageFeatures at its labelled pixels."""
    rows, cols = balanced_sample(target, ignore, budget, seed)
    counts = np.bincount(target[target != ignore].ravel().astype(np.int64))
    return ImageSamples((), np.ascontiguousarray(features.values[rows, cols], np.float32), target[rows, cols], counts,
                        pixels=(rows, cols), image=features)


@dataclass
class InstantTier:
    """Keeps the per-image samples and trains InstantModel versions from them."""

    class_names: list[str]
    samples_per_image: int = SAMPLES_PER_IMAGE
    max_samples: int = MAX_SAMPLES
    seed: int = 0
    channels: int | None = None  # fixed by the first image read: grey 1, colour 3 (alpha dropped)
    params: ForestParams | None = None  # how each forest grows (None: the instant tier's default)
    probability_sigma: float = PROBABILITY_SIGMA  # smoothing before the vote (0: none, as ilastik)
    context_sigmas: tuple = CONTEXT_SIGMAS  # auto-context's scales (empty: one stage, as ilastik)
    cache: dict[int, ImageSamples] = field(default_factory=dict)
    calibration: PriorCalibration = None  # chooses how much class prior the proposals keep
    base_model: object = None  # the last model trained on whole reviewed images only (no live strokes)
    base_ids: set = field(default_factory=set)  # the images it learnt from
    settled: tuple = ()  # (the samples, the first forest) of the last settle_context, for fit to reuse
    network: object = None  # a network Proposer whose class probabilities follow the filter bank (hybrid)

    def __post_init__(self):
        if len(self.class_names) > MAX_CONTEXT_CLASSES:
            self.context_sigmas = ()
        if self.calibration is None:
            self.calibration = PriorCalibration(len(self.class_names))

    @classmethod
    def for_project(cls, project, kind: str = "instant") -> InstantTier:
        """A tier for an open project that goes on with the prior power of its latest model of
        `kind` ("instant" or "hybrid"; a hybrid tier gets its network from `use_network`)."""
        from segstudio.core.instant.storage import saved_prior_power
        from segstudio.core.ladder import latest_of_kind

        names = project.class_names()
        latest = latest_of_kind(project, kind)
        power = saved_prior_power(latest.path) if latest is not None else 0.0
        return cls(names, calibration=PriorCalibration(len(names), power))

    def use_network(self, network) -> None:
        """Read `network`'s class probabilities from now on. Samples cached with another
        network's (or none) are dropped: one model reads one network's planes."""
        if network is self.network:
            return
        same = network is not None and self.network is not None and network.version == self.network.version
        self.network = network
        if not same:
            self.cache.clear()
            self.settled, self.base_model, self.base_ids = (), None, set()

    def features(self, raw: np.ndarray):
        """The ImageFeatures every model of this tier uses (other images matched to its channels),
        ending with the network's class probabilities in a hybrid tier."""
        from segstudio.core.imageio.channels import model_channels
        from segstudio.core.instant.classifier import with_planes
        from segstudio.core.instant.features import image_features
        from segstudio.core.proposers import network_planes

        if self.channels is None:
            self.channels = model_channels(1 if raw.ndim == 2 else raw.shape[2])
        features = image_features(raw, channels=self.channels)
        if self.network is None:
            return features
        prediction = drive(self.network.predict(raw))
        return with_planes(features, network_planes(prediction, len(self.class_names)))

    def refresh_samples(self, project, image_ids: Iterable[int], *, stop: StopFlag | None = None):
        """Bring the sample cache up to date for `image_ids` (a generator of Progress)."""
        from segstudio.core.imageio import read_image
        from segstudio.core.project.reviewed import is_reviewed, reviewed_target

        wanted = list(image_ids)
        for key in set(self.cache) - set(wanted):
            del self.cache[key]
        held = 0  # bytes of feature stacks kept until their samples' context is taken
        for index, image_id in enumerate(wanted):
            if stop is not None and stop.is_set():
                return
            key = mask_key(project, image_id)
            cached = self.cache.get(image_id)
            if cached is not None and cached.key == key:
                continue
            yield Progress(index, len(wanted), "reading reviewed pixels")
            source = project.read_source(image_id)
            if not is_reviewed(source):
                self.cache.pop(image_id, None)
                continue
            target = reviewed_target(project.read_label(image_id), source, project.ignore_value)
            features = self.features(read_image(project.image(image_id).path).raw)
            self.cache_image(image_id, features, target, key)
            held += features.values.nbytes
            if held > PENDING_CONTEXT_BYTES:
                self.settle_context([i for i in wanted if i in self.cache])
                held = 0
        self.settle_context([i for i in wanted if i in self.cache])

    def cache_image(self, image_id: int, features, target: np.ndarray, key: tuple = ()) -> ImageSamples:
        """Cache a class-balanced sample of an image's reviewed pixels (`target`: ignore value
        elsewhere). It holds the image's features until `settle_context` takes its context."""
        samples = sample_features(features, target, unlabelled_value(target.dtype), self.samples_per_image,
                                  self.seed + image_id)
        samples.key = key
        self.cache[image_id] = samples
        return samples

    def settle_context(self, image_ids: list[int]) -> None:
        """Context for the newly cached images among `image_ids`, from a first forest that learnt
        from them and the others; then their feature stacks are let go."""
        waiting = [self.cache[i] for i in image_ids if self.cache[i].image is not None]
        if not waiting:
            return
        first_stage = self._first_stage(image_ids) if self.context_sigmas else None
        self._add_context(waiting, first_stage)

    def _first_stage(self, image_ids: list[int]):
        """A one-stage model of the cached images (the first forest of `fit` without strokes),
        kept with the samples it learnt from: `fit` on the same samples reuses it."""
        features, labels = self.training_set(image_ids)
        model = self._one_stage(features, labels, self.reviewed_pixels(image_ids))
        self.settled = (tuple(self.cache[i] for i in self._chosen_ids(image_ids)), model)
        return model

    def _settled_first_stage(self, ids: list[int]):
        """The first forest `settle_context` grew from exactly these cached samples, else None
        (the same rows, seed and parameters grow the same trees: one fit saved per done image)."""
        if not self.settled:
            return None
        samples, model = self.settled
        self.settled = ()
        if len(samples) != len(ids) or any(s is not self.cache.get(i) for s, i in zip(samples, ids)):
            return None
        model.prior_power = self.calibration.best_power()  # _score_unseen may have moved it since
        return model

    def _one_stage(self, features: np.ndarray, labels: np.ndarray, labelled: np.ndarray):
        """The first forest on these rows, every row in (the caller has thinned them already)."""
        from segstudio.core.instant.classifier import InstantModel
        from segstudio.core.instant.features import FEATURE_SIGMAS, ImageFeatures

        rows = ImageFeatures(features[:, None, :], self.channels, tuple(float(s) for s in FEATURE_SIGMAS))
        return InstantModel.fit([(rows, labels[:, None])], self.class_names, seed=self.seed, params=self._params(),
                                max_pixels=max(1, labels.size), labelled=labelled,
                                prior_power=self.calibration.best_power(), probability_sigma=self.probability_sigma,
                                network_planes=len(self.class_names) if self.network is not None else 0,
                                network_version=None if self.network is None else self.network.version)

    def _add_context(self, parts: list[ImageSamples], first_stage, keep_first_stage: bool = False) -> None:
        """Context features for samples that still hold their image's features (then let go of
        them); without a first stage (one-stage tier) they are only let go. `keep_first_stage`
        keeps the whole image's first-stage fractions on the samples (the open image's)."""
        for part in parts:
            if part.image is None:
                continue
            if first_stage is not None:
                proba = first_stage.first_stage_proba(part.image)
                part.context = context_at(proba, *part.pixels, self.context_sigmas)
                part.first_stage = proba if keep_first_stage else None
            part.image = None

    def _params(self) -> ForestParams:
        return self.params or (TWO_STAGE_PARAMS if self.context_sigmas else ForestParams())

    def training_set(self, image_ids: Iterable[int] | None = None,
                     extra: list[ImageSamples] = ()) -> tuple[np.ndarray, np.ndarray]:
        """Features and labels of the cached images (all, or `image_ids`) plus `extra`, bounded."""
        parts = self.training_parts(image_ids, extra)
        if not parts:
            return np.empty((0, 0), np.float32), np.empty(0, np.uint8)
        return (np.concatenate([p.features for p in parts]), np.concatenate([p.labels for p in parts]))

    def training_parts(self, image_ids: Iterable[int] | None = None,
                       extra: list[ImageSamples] = ()) -> list[ImageSamples]:
        """The samples of the cached images (all, or `image_ids`) and `extra`, thinned to the budget."""
        chosen = [self.cache[i] for i in self._chosen_ids(image_ids)]
        parts = chosen + list(extra)
        total = sum(len(p.labels) for p in parts)
        if total > self.max_samples and chosen:
            # Thin the cached images evenly; the extra samples (the stroke just made) stay whole.
            keep = max(1, (self.max_samples - sum(len(p.labels) for p in extra)) // len(chosen))
            rng = np.random.default_rng(self.seed)
            chosen = [p if len(p.labels) <= keep else _subset(p, rng.choice(len(p.labels), keep, replace=False))
                      for p in chosen]
            parts = chosen + list(extra)
        return parts

    def fit(self, image_ids: Iterable[int] | None = None, extra: list[ImageSamples] = ()):
        """A new InstantModel on the cached samples (+ extra); None when there is nothing to learn."""
        ids = self._chosen_ids(image_ids)  # once: image_ids may be a one-pass iterable
        parts = self.training_parts(ids, extra)
        if not parts or self.channels is None:
            return None
        features, labels = np.concatenate([p.features for p in parts]), np.concatenate([p.labels for p in parts])
        if not extra:
            self._score_unseen(ids)
        # every row goes in: the thinning above already kept the open image's strokes whole
        model = (None if extra else self._settled_first_stage(ids)) or self._one_stage(
            features, labels, self.reviewed_pixels(ids, extra))
        if self.context_sigmas:
            self._add_context([p for p in parts[:len(parts) - len(extra)] if p.context is None], model)
            self._add_context([p for p in extra if p.context is None], model, keep_first_stage=True)
            if all(p.context is not None for p in parts):  # samples cached without one teach one stage
                model.grow_context(np.concatenate([features, np.concatenate([p.context for p in parts])], axis=1),
                                   labels, self.context_sigmas)
        if not extra:
            self.base_model, self.base_ids = model, set(ids)
        return model

    def _score_unseen(self, ids: list[int]) -> None:
        """Test-then-train for the prior power: the last image-level model scores the cached
        images it never learnt from, before the next model learns from them."""
        if self.base_model is None:
            return
        for image_id in ids:
            samples = self.cache[image_id]
            if image_id in self.base_ids or image_id in self.calibration.scored or samples.counts is None:
                continue
            self.calibration.score(image_id, self.base_model.fractions(samples.features), self.base_model.present,
                                   self.base_model.labelled, samples.labels, samples.counts)

    def _chosen_ids(self, image_ids: Iterable[int] | None) -> list[int]:
        wanted = None if image_ids is None else set(image_ids)
        return [i for i in sorted(self.cache) if wanted is None or i in wanted]

    def reviewed_pixels(self, image_ids: Iterable[int] | None = None, extra: list[ImageSamples] = ()) -> np.ndarray:
        """Reviewed pixels per class behind the samples: the class prior the proposals keep."""
        total = np.zeros(len(self.class_names), np.int64)
        for part in [self.cache[i] for i in self._chosen_ids(image_ids)] + list(extra):
            counts = part.counts if part.counts is not None else np.bincount(part.labels.astype(np.int64))
            total[:len(counts)] += counts[:len(total)]
        return total


def _subset(samples: ImageSamples, index: np.ndarray) -> ImageSamples:
    return ImageSamples(samples.key, samples.features[index], samples.labels[index], samples.counts,
                        None if samples.pixels is None else (samples.pixels[0][index], samples.pixels[1][index]),
                        None if samples.context is None else samples.context[index], samples.image)


def mask_key(project, image_id: int) -> tuple:
    """Changes whenever the image's masks are rewritten (file stats; nothing is decoded)."""
    key = []
    for folder in (project.labels_dir, project.sources_dir):
        try:
            stat = (folder / f"{image_id}.png").stat()
            key.append((stat.st_mtime_ns, stat.st_size))
        except FileNotFoundError:
            key.append(None)
    return tuple(key)
