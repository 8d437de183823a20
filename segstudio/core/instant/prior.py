"""How much of the class prior the instant tier's proposals keep, chosen by test-then-train.

The forest learns from class-balanced samples, so it proposes a class covering 1 % of the pixels
as readily as one covering 90 %: every doubtful pixel can go to the rare class, and the person
erases the excess stroke by stroke. Multiplying the forest's class fractions by prior ** power
(prior: the reviewed pixels per class) restores the prior; power 1 is Bayes' rule. Forest
fractions are not calibrated probabilities (they shrink towards the middle), so power 1 often
over-corrects and drops the rare class altogether, and the best power differs between data sets.

So the tier chooses it from evidence: before it learns from a newly reviewed image, the model
that has not seen it scores that image's samples at every power in POWERS (each sample weighted
by how many reviewed pixels of its class it stands for, so the counts are the whole image's),
and the power with the best mIoU over the last WINDOW scored images is the one the next models
use. Until there is evidence the power is 0, plain balanced training. The power moves only when
another one beats it by MARGIN: with a rare class in a few images, neighbouring powers trade the
lead image by image, and each flip moved every proposal (held-out mIoU up and down by 0.07 on
brain-tumour) without a real gain.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from segstudio.core.compare import batched_miou

POWERS = (0.0, 0.25, 0.5, 0.75, 1.0)
WINDOW = 12  # scored images that choose the power (the most recent)
MARGIN = 0.01  # pooled mIoU another power must gain over the current one to replace it


def prior_weights(labelled: list[int] | np.ndarray, present: list[int], power: float) -> np.ndarray | None:
    """Per present class, the factor its fractions are multiplied by (None: no correction)."""
    counts = np.maximum(np.asarray(labelled, np.float64)[list(present)], 1.0)
    if power <= 0 or len(counts) < 2:
        return None
    return ((counts / counts.sum()) ** power).astype(np.float32)


def apply_prior(fractions: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """(N, present) fractions times the weights, each row summing to 1 again."""
    if weights is None:
        return fractions
    corrected = fractions * weights
    return corrected / np.maximum(corrected.sum(axis=1, keepdims=True), np.float32(1e-12))


class PriorCalibration:
    """Confusions of unseen reviewed images at every power; `best_power()` is what models use."""

    def __init__(self, num_classes: int, power: float = POWERS[0]):
        self.num_classes = num_classes
        self.scored: OrderedDict[int, np.ndarray] = OrderedDict()  # image id -> (powers, K, K)
        self.power = min(POWERS, key=lambda candidate: abs(candidate - power))

    def score(self, image_id: int, fractions: np.ndarray, present: list[int], labelled: list[int],
              labels: np.ndarray, counts: np.ndarray) -> None:
        """Record how a model that never saw this image did on its samples at each power.

        `fractions` (N, present) are the model's raw outputs on the samples, `labels` their
        classes, `counts` the image's reviewed pixels per class (what each sample stands for).
        """
        labels = np.asarray(labels, np.int64)
        drawn = np.bincount(labels, minlength=self.num_classes).astype(np.float64)
        full = np.zeros(self.num_classes, np.float64)
        full[:min(len(counts), self.num_classes)] = np.asarray(counts, np.float64)[:self.num_classes]
        weight = full[labels] / np.maximum(drawn[labels], 1.0)
        present = np.asarray(present, np.int64)
        confusions = np.zeros((len(POWERS), self.num_classes, self.num_classes), np.float64)
        for index, power in enumerate(POWERS):
            predicted = present[apply_prior(fractions, prior_weights(labelled, present, power)).argmax(axis=1)]
            np.add.at(confusions[index], (labels, predicted), weight)
        self.scored[image_id] = confusions
        self.scored.move_to_end(image_id)
        while len(self.scored) > WINDOW:
            self.scored.popitem(last=False)
        self.power = self._chosen_power()

    def best_power(self) -> float:
        """The power the next models use; it changes only as images are scored."""
        return self.power

    def _chosen_power(self) -> float:
        scores = np.nan_to_num(batched_miou(sum(self.scored.values())), nan=-1.0)
        best = int(np.argmax(scores))  # ties go to the weaker correction
        current = POWERS.index(self.power)
        return POWERS[best] if scores[best] > scores[current] + MARGIN else self.power
