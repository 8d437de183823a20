"""A proposal as the project stores it, and how it reaches the masks: the same for every kind of model.

Kept apart from core/inference.py (the network's forward pass) so that the instant classifier's
proposals, the ladder and the live refresh never import torch: importing it took about 2 s of
the demo's first proposal on 2 cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segstudio.core.errors import ModelError
from segstudio.core.labels import convert_labels


@dataclass
class Prediction:
    class_map: np.ndarray  # H x W uint8 (uint16 for > 255 classes): project class ids after mapping
    confidence: np.ndarray  # H x W uint8: probability of the chosen class * 255
    entropy: np.ndarray  # H x W uint8: normalised entropy * 255 (the uncertainty heat map)
    uncertainty: float  # mean normalised entropy in [0, 1]: ranks images for review


def apply_prediction(project, document, image_id: int, prediction: Prediction, *, version: str | None = None):
    """Store uncertainty and apply the class map to unreviewed pixels as one undoable step.

    `version` is the model that made the prediction, remembered so that only a better model
    refreshes the proposal (Project.proposal_outdated).

    With an open MaskDocument the edit goes through it (undoable, journalled); otherwise the
    project's masks are read, changed by the same rule, and written back atomically.
    Returns the changed BBox (or None when nothing changed).
    """
    from segstudio.core.document import MaskDocument

    project.set_uncertainty(image_id, prediction.uncertainty)
    project.set_proposed_by(image_id, version)
    project.write_uncertainty_map(image_id, prediction.entropy)
    class_map = prediction.class_map
    if document is not None:
        return document.apply_proposal(_as_label_dtype(class_map, document.label.dtype))
    label, source = project.read_label(image_id), project.read_source(image_id)
    offline = MaskDocument(image_id, label, source, undo_limit_bytes=0)
    changed = offline.apply_proposal(_as_label_dtype(class_map, label.dtype))
    if changed is not None:
        project.write_masks(image_id, offline.label, offline.source)
    return changed


def _as_label_dtype(class_map: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The class map in the project's label width (unmapped classes stay unlabelled)."""
    if class_map.dtype == dtype or np.dtype(dtype) == np.uint16:
        return convert_labels(class_map, np.dtype(dtype))
    raise ModelError(f"the model predicts class ids beyond what the project's {np.dtype(dtype)} masks hold")
