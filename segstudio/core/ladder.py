"""The ladder: which kind of model proposes, decided by how each did on images people reviewed.

Scores are test-then-train (prequential): when an image is marked done, every candidate (the
latest instant classifier, the best network) is scored on that image's reviewed pixels before
either has trained on it. Every reviewed image is thus an unseen test for both, not only the one
in five that the network's validation split holds, and the score is exactly what a person feels:
how good the proposal on the next image would have been. The choice pools the last `WINDOW`
shared images; the proposing kind changes only when the other is better by `MARGIN` (hysteresis,
so two near-equal models do not take turns). The instant tier proposes until a network has been
scored on at least `MIN_SHARED` images.

Known bias, accepted on purpose: reviewed pixels include proposals the person accepted, which
favours the kind that proposed them; a challenger must beat the incumbent despite it, so the
ladder errs on the side of the model people already saw working.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass

import numpy as np

from segstudio.core.errors import SaveError
from segstudio.core.metrics import scores_from_confusion
from segstudio.core.proposers import INSTANT_ARCH, InstantProposer, Proposer, kind_of, load_proposer

HISTORY_SETTING = "ladder.history"
CHOICE_SETTING = "ladder.choice"
HISTORY_LENGTH = 60
WINDOW = 12
MARGIN = 0.01
MIN_SHARED = 2
KEEP_INSTANT_VERSIONS = 5


@dataclass(frozen=True)
class Standing:
    """What the window shows: which kind proposes, its version and score, and the other's."""

    kind: str
    version: str
    miou: float | None  # pooled test-then-train mIoU over the window (None before any score)
    images: int  # images in the window
    other_kind: str | None = None
    other_miou: float | None = None


def confusion(truth: np.ndarray, prediction: np.ndarray, num_classes: int, ignore: int) -> np.ndarray:
    valid = truth != ignore
    index = truth[valid].astype(np.int64) * num_classes + prediction[valid].astype(np.int64)
    return np.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def observe(project, image_id: int, truth: np.ndarray, predictions: dict[str, tuple[str, np.ndarray]]) -> None:
    """Record each candidate's class map on a just-reviewed image (before training on it).

    `predictions` maps a kind to (version, class map); `truth` holds the reviewed labels with
    the project's unlabelled value elsewhere.
    """
    num_classes = project.num_classes
    entry = {"image": int(image_id), "scores": {
        kind: {"version": version, "confusion": confusion(truth, class_map, num_classes,
                                                          project.ignore_value).tolist()}
        for kind, (version, class_map) in predictions.items()}}
    history = [e for e in project.get_setting(HISTORY_SETTING, []) if e.get("image") != image_id]
    project.set_setting(HISTORY_SETTING, (history + [entry])[-HISTORY_LENGTH:])


def pooled_miou(project, kind: str, shared_with: str | None = None) -> tuple[float | None, int]:
    """(pooled mIoU, images) of `kind` over the last WINDOW images (shared with another kind if given)."""
    entries = [e for e in project.get_setting(HISTORY_SETTING, [])
               if kind in e["scores"] and (shared_with is None or shared_with in e["scores"])][-WINDOW:]
    if not entries:
        return None, 0
    total = sum(np.asarray(e["scores"][kind]["confusion"], np.int64) for e in entries)
    miou = scores_from_confusion(total).miou
    return (None if np.isnan(miou) else float(miou)), len(entries)


def choose_kind(project) -> str:
    """'instant' or 'network': the kind that proposes now (see the module docstring)."""
    current = project.get_setting(CHOICE_SETTING, "instant")
    network, shared = pooled_miou(project, "network", "instant")
    instant, _ = pooled_miou(project, "instant", "network")
    if network is None or instant is None or shared < MIN_SHARED:
        choice = current if network is not None and current == "network" else "instant"
    elif current == "network":
        choice = "instant" if instant > network + MARGIN else "network"
    else:
        choice = "network" if network > instant + MARGIN else "instant"
    if choice != current and not project.readonly:
        project.set_setting(CHOICE_SETTING, choice)
    return choice


def latest_instant(project):
    instants = [m for m in project.models() if m.kind == "instant"]
    return instants[-1] if instants else None


def best_network(project):
    best = [m for m in project.models() if m.is_best and m.kind == "network"]
    return best[-1] if best else None


def ladder_choice(project):
    """The version the ladder picks (pins aside): the chosen kind's newest, or the other when it has none."""
    network, instant = best_network(project), latest_instant(project)
    preferred, fallback = (network, instant) if choose_kind(project) == "network" else (instant, network)
    return preferred or fallback


def proposing_record(project):
    """The version that proposes: a pinned one, else the ladder's choice (Project.proposing_model)."""
    return project.proposing_model()


def standing(project) -> Standing | None:
    record = proposing_record(project)
    if record is None:
        return None
    kind = kind_of(record.arch)
    other = "network" if kind == "instant" else "instant"
    miou, images = pooled_miou(project, kind)
    other_miou, _ = pooled_miou(project, other)
    return Standing(kind, record.version, miou, images, other if other_miou is not None else None, other_miou)


def load_proposing(project, device=None) -> Proposer | None:
    record = proposing_record(project)
    return None if record is None else load_proposer(record.path, record.arch, version=record.version, device=device)


def save_instant_version(project, model, metrics: dict):
    """Write an instant classifier as the project's next model version (renamed into place whole).

    Only the newest KEEP_INSTANT_VERSIONS instant versions stay on disk: any of them can be
    retrained from the reviewed pixels in seconds, and a forest per reviewed image would fill
    the disk. Network versions are never pruned here.
    """
    version = project.new_model_version()
    final = project.models_dir / version
    temporary = project.models_dir / f".{version}.partial-{uuid.uuid4().hex[:8]}"
    try:
        model.save(temporary)
        os.rename(temporary, final)
    except OSError as exc:
        shutil.rmtree(temporary, ignore_errors=True)
        raise SaveError(f"could not save model {version} in {project.models_dir}: {exc}") from exc
    record = project.register_model(version, INSTANT_ARCH, metrics, best=False, kind="instant")
    _prune_instant_versions(project)
    return record


def _prune_instant_versions(project) -> None:
    instants = [m for m in project.models() if m.kind == "instant"]
    for record in instants[:-KEEP_INSTANT_VERSIONS]:
        project.forget_model(record.version)
        shutil.rmtree(record.path, ignore_errors=True)


def instant_proposer(model, version: str = "") -> InstantProposer:
    return InstantProposer(model, version=version)
