"""Live refresh: while a person paints, the open image's unreviewed pixels are proposed again.

As in ilastik's live update, the instant tier retrains on every reviewed pixel of the project
plus the open image's current reviewed pixels (the strokes just made), and re-proposes the
open image from its cached feature stack, so the next stroke acts on a better proposal. The
caller (the window's LiveRefresh, the benchmark) runs `refresh` off the GUI thread on copies of
the masks, and applies the result to the document's unreviewed pixels only
(MaskDocument.apply_proposal), so nothing a person painted or accepted can change.

On an image the network proposed, the refresh does not throw the network's proposal away: the
refreshed instant tier and the network vote together (the mean of their class probabilities), so
what the network saw in the whole image stays where the strokes say nothing against it. When the
hybrid proposes, the session runs on the hybrid tier, whose features carry the network's planes.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from segstudio.core.instant_tier import InstantTier, sample_features
from segstudio.core.labels import unlabelled_value
from segstudio.core.progress import Progress, StopFlag

LIVE_FEATURE_BYTES = 1 << 30  # the open image's cached feature stack; bigger images get no live refresh
# On an image the network proposed, the live refresh starts once the person has made this many
# strokes there: that proposal needed work, and the instant tier learns from those very strokes.
# Without it, the ladder's hand-over to a network with the better held-out score cost strokes:
# on spacenet images 17-20 the network's proposals took 74, 40, 90, 84 strokes where the instant
# tier with live refresh took 39, 28, 55, 81 (bench hitl).
HANDOVER_STROKES = 5
# The network's share of the vote in a refresh of an image it proposed. Measured on spacenet
# (bench hitl, ladder; the network proposes images 15-20): replacing its proposal by the instant
# tier's took 250 strokes there, the even vote 222, the instant tier alone 214, while held-out
# mIoU stayed the network's 0.538 (the instant tier's 0.498).
NETWORK_VOTE = 0.5


def refreshes_open_image(kind: str | None, strokes: int, *, pinned: bool = False) -> bool:
    """Whether the live refresh runs on the open image: `kind` of the proposing model (None: no
    model yet), `strokes` made on the image so far. A network a person pinned is never overridden.
    A hybrid refreshes like the instant classifier it is (its tier reads the network itself)."""
    if kind in (None, "instant", "hybrid"):
        return True
    return not pinned and strokes >= HANDOVER_STROKES


@dataclass
class LiveResult:
    image_id: int
    prediction: object  # segstudio.core.prediction.Prediction
    train_pixels: int
    retrain_s: float
    propose_s: float
    network_voted: bool = False  # the network that proposed the image voted with the instant tier
    hybrid: bool = False  # the refreshed classifier read the network's planes (the hybrid tier)


class LiveSession:
    """The live refresh of one open image: its feature stack is computed once and reused."""

    def __init__(self, tier: InstantTier, image_id: int, raw: np.ndarray, *, network=None):
        """`network`: the network Proposer that proposed this image, when one did (its vote joins
        every refresh); None when the instant tier proposes."""
        self.tier = tier
        self.image_id = image_id
        self.raw = raw
        same_classes = network is not None and list(network.class_names) == list(tier.class_names)
        self.network = network if same_classes else None
        self._features = None  # ImageFeatures, computed on the first refresh
        self._network_votes = None  # (K, H, W) the network's class probabilities, on the first refresh

    @staticmethod
    def supports(shape: tuple[int, ...], channels: int) -> bool:
        """Whether the feature stack of an image this size fits the live memory budget."""
        from segstudio.core.instant.features import feature_names

        return shape[0] * shape[1] * len(feature_names(channels)) * 4 <= LIVE_FEATURE_BYTES

    def features(self):
        if self._features is None:
            self._features = self.tier.features(self.raw)
        return self._features

    def refresh(self, project, label: np.ndarray, source: np.ndarray, *, stop: StopFlag | None = None
                ) -> Generator[Progress, None, LiveResult | None]:
        """Retrain on the project's reviewed pixels + this image's, and predict this image.

        `label` and `source` are the open document's arrays (copies: this runs off the GUI
        thread). Returns None when stopped or when nothing is reviewed anywhere yet.
        """
        from segstudio.core.project.reviewed import reviewed_target
        from segstudio.core.proposers import prediction_from_probabilities
        from segstudio.core.training.policy import candidate_image_ids

        started = time.perf_counter()
        others = [i for i in candidate_image_ids(project) if i != self.image_id]
        yield from self.tier.refresh_samples(project, others, stop=stop)
        yield Progress(0, 2, "live refresh: features")
        features = self.features()
        if stop is not None and stop.is_set():
            return None
        ignore = unlabelled_value(label.dtype)
        target = reviewed_target(label, source, ignore)
        extra = sample_features(features, target, ignore, self.tier.samples_per_image, self.tier.seed + self.image_id)
        yield Progress(1, 2, "live refresh: training")
        model = self.tier.fit(others, [extra] if extra.labels.size else [])
        if model is None or (stop is not None and stop.is_set()):
            return None
        retrained = time.perf_counter()
        probabilities = model.predict_proba(features, first_stage=extra.first_stage)
        if self.network is not None:
            votes = yield from self._network_probabilities(stop)
            if votes is None:
                return None
            probabilities = NETWORK_VOTE * votes + (1.0 - NETWORK_VOTE) * probabilities
        prediction = prediction_from_probabilities(probabilities)
        done = time.perf_counter()
        return LiveResult(self.image_id, prediction, int(extra.labels.size), retrained - started, done - retrained,
                          network_voted=self.network is not None, hybrid=self.tier.network is not None)

    def _network_probabilities(self, stop: StopFlag | None):
        """The network's class probabilities on the open image, predicted once per session."""
        from segstudio.core.proposers import proposal_probabilities

        if self._network_votes is None:
            prediction = yield from self.network.predict(self.raw, stop=stop)
            if prediction is None:
                return None
            self._network_votes = proposal_probabilities(prediction, len(self.tier.class_names))
        return self._network_votes
