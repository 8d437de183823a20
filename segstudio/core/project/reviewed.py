"""Which pixels a person has reviewed: the one rule every learner (network or instant tier) trains on.

Reviewed pixels are those a person accepted (source 2) or painted (source 3); unreviewed
proposals and unlabelled pixels are ignored.
"""

from __future__ import annotations

import numpy as np

from segstudio.core.project.records import IGNORE, Source


def is_reviewed(source: np.ndarray) -> bool:
    return bool((source >= Source.ACCEPTED).any())


def reviewed_target(label: np.ndarray, source: np.ndarray, ignore: int = IGNORE) -> np.ndarray:
    """The label where a person reviewed it, `ignore` elsewhere, in the label's dtype."""
    return np.where(source >= Source.ACCEPTED, label, ignore).astype(label.dtype, copy=False)
