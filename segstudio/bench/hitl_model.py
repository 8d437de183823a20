"""The model side of the human-in-the-loop benchmark, as the app runs it.

`--model network`: the project's best network proposes and the app's trainer learns after each
image. `--model instant`: the instant pixel classifier proposes, retrains on every reviewed pixel
after each image, and refreshes the open image's unreviewed pixels while the annotator paints
(every `refresh_every` strokes, as the app does after a stroke). `--model ladder` (what the app
does): both learn, and once a network exists so does the hybrid (the instant tier reading the best
network's class probabilities); the ladder (core/ladder.py) scores them test-then-train on every
reviewed image and the best one proposes; the live refresh runs while an instant classifier (plain
or hybrid) is the one proposing, and on an image the network proposed from its fifth stroke, where
the refreshed instant tier and the network vote together (core/live.py).
`--model hybrid`: the third kind alone: instant + network proposes as soon as a network exists
(the instant tier before), whatever the scores.
`--model ilastik` is the anchor a user would pick instead: the instant arm with ilastik's own
classifier (a random forest of 100 fully grown trees) on the same features, samples and refresh,
voting pixel by pixel as ilastik does (no smoothing before the vote; the tier's class-prior
correction stays).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from segstudio.core.instant.classifier import PROBABILITY_SIGMA
from segstudio.core.instant.context import CONTEXT_SIGMAS
from segstudio.core.instant.forest import ForestParams
from segstudio.core.metrics import MetricAccumulator
from segstudio.core.progress import drive
from segstudio.core.training.augment import AugmentConfig
from segstudio.core.training.config import TrainConfig

MODES = ("ladder", "instant", "network", "hybrid", "ilastik")


def instant_forest(options) -> ForestParams | None:
    """The forest the instant arm grows: --forest, ilastik's for --model ilastik, else the tier's default."""
    from segstudio.bench.instant import ANCHOR, FORESTS

    name = options.forest or (ANCHOR if options.model == "ilastik" else None)
    return FORESTS[name] if name else None


class Learner:
    def __init__(self, project, options, class_names: list[str], heldout: list[tuple[Path, np.ndarray]]):
        from segstudio.core.device import pick_device
        from segstudio.core.instant_tier import InstantTier

        self.project = project
        self.options = options
        self.mode = "instant" if options.model == "ilastik" else options.model
        self.num_classes = len(class_names)
        self.heldout = heldout
        self.device = pick_device(options.device)
        # the anchor is ilastik's pixel classification: one forest, each pixel voting alone; it keeps
        # the tier's class-prior correction
        ilastik = options.model == "ilastik"
        self.tier = InstantTier(class_names, seed=options.seed, params=instant_forest(options),
                                probability_sigma=0.0 if ilastik else PROBABILITY_SIGMA,
                                context_sigmas=() if ilastik else CONTEXT_SIGMAS)
        self.instant = None  # the newest InstantModel (trained on every reviewed image)
        self.instant_version: str | None = None
        self.hybrid_tier = InstantTier(class_names, seed=options.seed) if self.mode in ("ladder", "hybrid") else None
        self.hybrid = None  # the newest HybridProposer (the instant tier on the best network's planes)
        self._network = None
        self._trainer = None  # the network's training run, continued after every image
        self._raw_cache: dict[Path, np.ndarray] = {}
        self.retrain_seconds = 0.0
        self.propose_seconds = 0.0
        self.refresh_seconds: list[float] = []  # each live refresh, retrain plus re-proposal

    # ------------------------------------------------------------------ models
    def _raw(self, path: Path) -> np.ndarray:
        from segstudio.core.imageio import read_image

        if path not in self._raw_cache:
            self._raw_cache = {path: read_image(path).raw, **{k: v for k, v in list(self._raw_cache.items())[-12:]}}
        return self._raw_cache[path]

    def network(self):
        """The project's best network (reloaded only when a new version was kept), or None."""
        from segstudio.core.ladder import best_network
        from segstudio.core.proposers import load_proposer

        record = best_network(self.project)
        if record is None:
            return None
        if self._network is None or self._network.version != record.version:
            self._network = load_proposer(record.path, record.arch, version=record.version, device=self.device)
        return self._network

    def proposing_kind(self) -> str | None:
        from segstudio.core.ladder import choose_kind

        if self.mode == "instant":
            return "instant" if self.instant is not None else None
        if self.mode == "network":
            return "network" if self.network() is not None else None
        if self.mode == "hybrid":
            return "hybrid" if self.hybrid is not None else "instant" if self.instant is not None else None
        kind = choose_kind(self.project)
        if (kind == "network" and self.network() is None) or (kind == "hybrid" and self.hybrid is None):
            kind = "instant"
        return kind if (kind != "instant" or self.instant is not None) else None

    def _class_map(self, kind: str, path: Path) -> np.ndarray:
        if kind == "instant":
            return self.instant.predict(self._raw(path))[0]
        if kind == "hybrid":
            return drive(self.hybrid.predict(self._raw(path))).class_map
        from segstudio.core.inference import predict

        return drive(predict(self.network().bundle, self._raw(path), device=self.device)).class_map

    def _version(self, kind: str) -> str:
        return {"instant": self.instant_version, "hybrid": self.hybrid and self.hybrid.version,
                "network": self.network() and self.network().version}[kind] or ""

    def propose(self, path: Path) -> tuple[np.ndarray, str | None]:
        """(class map, 'kind version') or (all-unlabelled map, None) before the first model."""
        started = time.perf_counter()
        kind = self.proposing_kind()
        if kind is None:
            raw = self._raw(path)
            return np.full(raw.shape[:2], 255, np.uint8), None
        class_map = self._class_map(kind, path)
        self.propose_seconds += time.perf_counter() - started
        return class_map, f"{kind[0]}{self._version(kind)}"

    # ------------------------------------------------------------- live refresh
    def refresher(self, image_id: int, path: Path):
        """A function (label, painted) -> new proposal for the annotator, or None when not refreshing.

        It is the app's live refresh (core/live.py) on the same image and strokes.
        """
        if self.options.refresh_every <= 0 or self.mode == "network":
            return None
        from segstudio.core.live import LiveSession, refreshes_open_image

        kind = self.proposing_kind()
        session = LiveSession(self.hybrid_tier if kind == "hybrid" else self.tier, image_id, self._raw(path),
                              network=self.network() if kind == "network" else None)
        calls = 0

        def refresh(label: np.ndarray, painted: np.ndarray) -> np.ndarray:
            nonlocal calls
            calls += 1  # the annotator calls every refresh_every strokes
            if not refreshes_open_image(kind, calls * self.options.refresh_every):
                return label
            source = np.where(painted, 3, 0).astype(np.uint8)
            result = drive(session.refresh(self.project, label, source))
            if result is None:
                return label
            self.retrain_seconds += result.retrain_s
            self.propose_seconds += result.propose_s
            self.refresh_seconds.append(result.retrain_s + result.propose_s)
            return result.prediction.class_map

        return refresh

    # ---------------------------------------------------------------- learning
    def observe(self, image_id: int, path: Path, truth: np.ndarray, proposed: tuple[str, np.ndarray] | None) -> None:
        """Ladder mode: score every kind on the reviewed image before any learns from it."""
        from segstudio.core.ladder import observe

        if self.mode != "ladder":
            return
        available = {"instant": self.instant is not None, "network": self.network() is not None,
                     "hybrid": self.hybrid is not None}
        predictions = {}
        for kind in (kind for kind, exists in available.items() if exists):
            if proposed is not None and proposed[0] == kind:
                class_map = proposed[1]
            else:
                class_map = self._class_map(kind, path)
            predictions[kind] = (self._version(kind), class_map)
        if predictions:
            observe(self.project, image_id, truth, predictions)

    def train(self, seed: int):
        """After an image is done: retrain the instant tier and/or run the network's budget."""
        if self.mode in ("ladder", "instant", "hybrid"):
            started = time.perf_counter()
            ids = self._reviewed_ids()
            drive(self.tier.refresh_samples(self.project, ids))
            self.instant = self.tier.fit(ids)
            self.instant_version = f"{len(ids):04d}"
            self._train_hybrid(ids)
            self.retrain_seconds += time.perf_counter() - started
        if self.mode in ("ladder", "network", "hybrid"):
            yield from self._train_network(seed)

    def _train_hybrid(self, ids: list[int]) -> None:
        """Ladder and hybrid modes, once a network exists: the instant tier on the best network's planes
        (every reviewed image featured again when that network changed), as the app's round does."""
        from segstudio.core.proposers import HybridProposer

        network = self.network() if self.hybrid_tier is not None else None
        if network is None:
            return
        self.hybrid_tier.use_network(network)  # the same version keeps the cached samples
        drive(self.hybrid_tier.refresh_samples(self.project, ids))
        model = self.hybrid_tier.fit(ids)
        self.hybrid = None if model is None else HybridProposer(model, network, version=f"{len(ids):04d}")

    def _train_network(self, seed: int):
        """`budget` more steps of one continuous training run, as the app trains in the background.

        The run lives across images (its generator is paused while the annotator works), so the
        network keeps its weights, optimiser and round between images and new annotations join it
        the way they join the app's trainer. Restarting a short run per image instead would
        warm-start every time from the stored best, and once no short run beat that best the
        proposals never changed again.
        """
        from segstudio.core.training.events import StepEvent
        from segstudio.core.training.trainer import train

        if self._trainer is None:
            options = self.options
            config = TrainConfig(
                arch=options.arch, model_options={"width": options.width, "depth": options.depth},
                max_steps=None, patience=10_000, continuous=True, batch_size=options.batch_size, lr=options.lr,
                patches_per_image=1, min_steps_per_epoch=max(1, options.budget // 3), schedule_epochs=3,
                augment=AugmentConfig(patch=options.patch), seed=seed, device=options.device,
                threads=options.threads,
            )
            self._trainer = train(self.project, config)
        steps = 0
        while steps < self.options.budget:
            try:
                event = next(self._trainer)
            except StopIteration:  # a continuous run ends only when stopped; start again if it did
                self._trainer = None
                return
            steps += isinstance(event, StepEvent)
            yield event

    def close(self) -> None:
        """End the network's training run (its generator holds the data loader)."""
        if self._trainer is not None:
            self._trainer.close()
            self._trainer = None

    def _reviewed_ids(self) -> list[int]:
        from segstudio.core.training.policy import candidate_image_ids

        return candidate_image_ids(self.project)

    def take_seconds(self) -> tuple[float, float, list[float]]:
        """(retrain, propose) seconds and each live refresh's seconds since the last call."""
        seconds = (round(self.retrain_seconds, 3), round(self.propose_seconds, 3),
                   [round(value, 3) for value in self.refresh_seconds])
        self.retrain_seconds = self.propose_seconds = 0.0
        self.refresh_seconds = []
        return seconds

    def heldout_miou(self) -> float | None:
        kind = self.proposing_kind()
        if kind is None:
            return None
        accumulator = MetricAccumulator(self.num_classes, boundary_tolerance=None)
        for path, truth in self.heldout:
            accumulator.add(truth, self._class_map(kind, path))
        miou = accumulator.scores().miou
        return None if math.isnan(miou) else round(miou, 4)
