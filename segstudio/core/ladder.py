"""The ladder: which kind of model proposes, decided by how each did on images people reviewed.

Scores are test-then-train (prequential): when an image is marked done, every candidate (the
latest instant classifier, the best network, and once a network exists the latest hybrid: an
instant classifier that reads the network's class probabilities beside the filter bank) is
scored on that image's reviewed pixels before any has trained on it. Every reviewed image is thus
an unseen test for all, not only the one in five that the network's validation split holds, and
the score is exactly what a person feels: how good the proposal on the next image would have been.

Each score holds two figures per block of the image: the confusion counts (for mIoU) and the
effort a person would pay to correct that proposal (core/compare.block_efforts: one dab per
separate error region plus its area in dabs). Over the last `WINDOW` images both kinds were
scored on, a challenger takes over when it is surely better on one figure and not worse on the
other, "surely" being the lower bound of a paired bootstrap (images, then blocks of each image;
core/compare, one home for "better"): a surely higher mIoU (the trainer's own rule,
compare.decide) at no higher effort on those images, or a surely lower effort at a pooled mIoU at
least as high (mIoU averages over classes, so a model that saves clicks by never predicting a rare
class cannot take over on effort). Of two such challengers, the one that surely saves more effort.
"No higher effort" is the plain total, not a bound: on spacenet-atlanta the network took over at
image 3 on a surely higher mIoU over two images while its errors had cost 26 dabs where the
instant tier's cost 23, and the ladder, handing over that way, cost 14 % more strokes over the
run than the instant tier alone; a better mIoU that a person pays more clicks for is no gain to
them.

Why effort too: a person pays per place to click, not per pixel. A proposal with a better mIoU
whose errors are scattered in more places costs more strokes (on spacenet-atlanta the hybrid took
over on mIoU alone at image 12 and cost 75, 41 and 19 strokes where the instant tier took 48, 31
and 15), and one with the same mIoU but its errors in a few blobs instead of many specks costs fewer.
Why a bound and not a plain margin on pooled mIoU: with a rare class,
two images decide nothing. A network that predicts no building at all wins every image without
buildings by a wide margin and loses the few with them; a point score over two such images
handed the proposals to an all-background network, a bound does not. The incumbent stays until
the other is surely better (hysteresis comes from the bound), and the instant tier proposes until
another kind has been scored beside it on at least `MIN_SHARED` images.

Known bias, accepted on purpose: reviewed pixels include proposals the person accepted, which
favours the kind that proposed them; a challenger must beat the incumbent despite it, so the
ladder errs on the side of the model people already saw working. The bias is stronger for effort:
each small error of the incumbent that the person let stand is an error region for a challenger
that was right there.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass

import numpy as np

from segstudio.core.errors import SaveError
from segstudio.core.metrics import scores_from_confusion
from segstudio.core.compare import GRID, Evaluation, block_confusions, block_efforts, decide, effort_saving_bound
from segstudio.core.proposers import HYBRID_ARCH, INSTANT_ARCH, KINDS, Proposer, kind_of, load_proposer

HISTORY_SETTING = "ladder.history"
CHOICE_SETTING = "ladder.choice"
HISTORY_LENGTH = 60
WINDOW = 12
MIN_SHARED = 2
KEEP_INSTANT_VERSIONS = 5  # per kind of instant classifier (plain and hybrid)


@dataclass(frozen=True)
class Standing:
    """What the window shows: which kind proposes, its version and score, and the others'."""

    kind: str
    version: str
    miou: float | None  # pooled test-then-train mIoU over the window (None before any score)
    images: int  # images in the window
    others: tuple[tuple[str, float], ...] = ()  # (kind, pooled mIoU) of the other kinds scored
    efforts: tuple[tuple[str, float], ...] = ()  # (kind, correction dabs per image) of every kind scored


def observe(project, image_id: int, truth: np.ndarray, predictions: dict[str, tuple[str, np.ndarray]]) -> None:
    """Record each candidate's class map on a just-reviewed image (before training on it).

    `predictions` maps a kind to (version, class map); `truth` holds the reviewed labels with
    the project's unlabelled value elsewhere. Stored per kind: the confusion counts of each block
    of the image (compare.block_confusions), sparse, and the effort of correcting each block
    (compare.block_efforts), so the bootstrap can resample blocks later.
    """
    num_classes = project.num_classes
    entry = {"image": int(image_id), "scores": {
        kind: {"version": version, "blocks": _sparse(block_confusions(truth, class_map, num_classes)),
               "effort": [round(float(e), 3) for e in block_efforts(truth, class_map, num_classes)]}
        for kind, (version, class_map) in predictions.items()}}
    history = [e for e in project.get_setting(HISTORY_SETTING, []) if e.get("image") != image_id]
    project.set_setting(HISTORY_SETTING, (history + [entry])[-HISTORY_LENGTH:])


def _sparse(blocks: np.ndarray) -> list[list[int]]:
    flat = blocks.ravel()
    cells = np.flatnonzero(flat)
    return [[int(i), int(flat[i])] for i in cells]


def _blocks(score: dict, num_classes: int) -> np.ndarray:
    """(GRID * GRID, K, K) counts of one stored score; a score from before blocks is one block."""
    size = GRID * GRID * num_classes * num_classes
    flat = np.zeros(size, np.int64)
    if "blocks" in score:
        for index, count in score["blocks"]:
            if 0 <= int(index) < size:
                flat[int(index)] = int(count)
        return flat.reshape(GRID * GRID, num_classes, num_classes)
    matrix = np.asarray(score.get("confusion", []), np.int64)
    if matrix.shape == (num_classes, num_classes):
        flat[:num_classes * num_classes] = matrix.ravel()
    return flat.reshape(GRID * GRID, num_classes, num_classes)


def _efforts(entries: list[dict], kind: str) -> np.ndarray | None:
    """(images, GRID * GRID) stored efforts of `kind`, or None when an entry predates them."""
    rows = [e["scores"][kind].get("effort") for e in entries]
    if any(not isinstance(row, list) or len(row) != GRID * GRID for row in rows):
        return None
    try:
        return np.asarray(rows, np.float64)
    except (TypeError, ValueError):  # a hand-edited history: judge on mIoU alone
        return None


def _window(project, kind: str, shared_with: str | None = None) -> list[dict]:
    return [e for e in project.get_setting(HISTORY_SETTING, [])
            if kind in e["scores"] and (shared_with is None or shared_with in e["scores"])][-WINDOW:]


def evaluation(project, kind: str, entries: list[dict]) -> Evaluation:
    """`kind`'s stored scores on `entries` as a compare.Evaluation (same images, same order)."""
    num_classes = project.num_classes
    return Evaluation(tuple(int(e["image"]) for e in entries),
                      np.stack([_blocks(e["scores"][kind], num_classes) for e in entries]))


def pooled_miou(project, kind: str, shared_with: str | None = None) -> tuple[float | None, int]:
    """(pooled mIoU, images) of `kind` over the last WINDOW images (shared with another kind if given)."""
    entries = _window(project, kind, shared_with)
    if not entries:
        return None, 0
    miou = scores_from_confusion(evaluation(project, kind, entries).confusion).miou
    return (None if np.isnan(miou) else float(miou)), len(entries)


def mean_effort(project, kind: str) -> float | None:
    """Dabs a person would have needed per image to correct `kind`'s proposals, over the last
    WINDOW images it was scored on (None before any score with efforts)."""
    entries = _window(project, kind)
    efforts = _efforts(entries, kind) if entries else None
    return None if efforts is None else float(efforts.sum(axis=1).mean())


def choose_kind(project) -> str:
    """One of KINDS: the kind that proposes now (see the module docstring)."""
    stored = project.get_setting(CHOICE_SETTING, "instant")
    current = stored if stored in KINDS else "instant"
    if current != "instant" and not evidence(project, current, "instant"):
        current = "instant"  # no score of it left in the history: back to the kind that needs none
    choice, best_bound = current, float("-inf")
    for challenger in KINDS:
        shared = evidence(project, challenger, current) if challenger != current else []
        if len(shared) < MIN_SHARED:
            continue
        bound = _takeover_bound(project, challenger, current, shared)
        if bound is not None and bound > best_bound:
            choice, best_bound = challenger, bound
    if choice != stored and not project.readonly:
        project.set_setting(CHOICE_SETTING, choice)
    return choice


def _takeover_bound(project, challenger: str, current: str, shared: list[dict]) -> float | None:
    """None unless `challenger` should take over from `current` on the `shared` images (see the
    module docstring); else how surely it is better, to rank challengers: the lower bound of the
    effort it saves (the mIoU gain's bound on a history from before efforts were stored)."""
    new, old = evaluation(project, challenger, shared), evaluation(project, current, shared)
    verdict = decide(new, old, new_name=f"the {challenger} tier", old_name=f"the {current} tier")
    new_effort, old_effort = _efforts(shared, challenger), _efforts(shared, current)
    if new_effort is None or old_effort is None:
        return verdict.bound if verdict.better else None
    saving = effort_saving_bound(new_effort, old_effort)
    costlier = new_effort.sum() > old_effort.sum()
    if (verdict.better and not costlier) or (saving > 0 and verdict.new_miou >= verdict.old_miou):
        return saving
    return None


def evidence(project, kind: str = "network", other: str = "instant") -> list[dict]:
    """The images both kinds were scored on that a switch between them is judged on: the last
    WINDOW, reaching further back until every class reviewed on any of them is among them.

    Why: a window without a rare class cannot see that a network never predicts it; judged on
    such images alone, a network that learnt "all background" looks perfect.
    """
    shared = [e for e in project.get_setting(HISTORY_SETTING, [])
              if kind in e.get("scores", {}) and other in e.get("scores", {})]
    reviewed = [_reviewed_classes(_blocks(e["scores"][other], project.num_classes)) for e in shared]
    needed = set().union(*reviewed) if reviewed else set()
    chosen, covered = [], set()
    for entry, classes in zip(reversed(shared), reversed(reviewed)):
        if len(chosen) >= WINDOW and needed <= covered:
            break
        chosen.append(entry)
        covered |= classes
    return list(reversed(chosen))


def _reviewed_classes(blocks: np.ndarray) -> set[int]:
    return {int(c) for c in np.flatnonzero(blocks.sum(axis=(0, 2)))}


def latest_of_kind(project, kind: str):
    """The newest "instant" or "hybrid" version; a hybrid only while the network it reads is kept."""
    models = project.models()
    kept = {m.version for m in models}
    latest = [m for m in models if m.kind == kind and (kind != "hybrid" or m.metrics.get("network") in kept)]
    return latest[-1] if latest else None


def latest_instant(project):
    return latest_of_kind(project, "instant")


def best_network(project):
    best = [m for m in project.models() if m.is_best and m.kind == "network"]
    return best[-1] if best else None


def candidates(project) -> dict:
    """kind -> the version of it the ladder would use now (kinds without one left out)."""
    records = {"instant": latest_instant(project), "network": best_network(project),
               "hybrid": latest_of_kind(project, "hybrid")}
    return {kind: record for kind, record in records.items() if record is not None}


def ladder_choice(project):
    """The version the ladder picks (pins aside): the chosen kind's newest, else the instant
    classifier's, else the network's."""
    records = candidates(project)
    for kind in (choose_kind(project), "instant", "network"):
        if kind in records:
            return records[kind]
    return None


def proposing_record(project):
    """The version that proposes: a pinned one, else the ladder's choice (Project.proposing_model)."""
    return project.proposing_model()


def standing(project) -> Standing | None:
    record = proposing_record(project)
    if record is None:
        return None
    kind = kind_of(record.arch)
    miou, images = pooled_miou(project, kind)
    others = tuple((other, score) for other in KINDS if other != kind
                   for score in [pooled_miou(project, other)[0]] if score is not None)
    efforts = tuple((scored, effort) for scored in (kind, *(other for other in KINDS if other != kind))
                    for effort in [mean_effort(project, scored)] if effort is not None)
    return Standing(kind, record.version, miou, images, others, efforts)


def load_proposing(project, device=None) -> Proposer | None:
    record = proposing_record(project)
    return None if record is None else load_proposer(record.path, record.arch, version=record.version, device=device)


def save_instant_version(project, model, metrics: dict):
    """Write an instant classifier as the project's next model version (renamed into place whole);
    one that reads a network's planes is a hybrid, and its metrics name that network.

    Only the newest KEEP_INSTANT_VERSIONS versions of each kind stay on disk: any of them can be
    retrained from the reviewed pixels in seconds, and a forest per reviewed image would fill
    the disk. Network versions are never pruned here.
    """
    kind = "hybrid" if model.network_planes else "instant"
    if kind == "hybrid":
        metrics = {**metrics, "network": model.network_version}
    version = project.new_model_version()
    final = project.models_dir / version
    temporary = project.models_dir / f".{version}.partial-{uuid.uuid4().hex[:8]}"
    try:
        model.save(temporary)
        os.rename(temporary, final)
    except OSError as exc:
        shutil.rmtree(temporary, ignore_errors=True)
        raise SaveError(f"could not save model {version} in {project.models_dir}: {exc}") from exc
    record = project.register_model(version, HYBRID_ARCH if kind == "hybrid" else INSTANT_ARCH, metrics,
                                    best=False, kind=kind)
    _prune_instant_versions(project, kind)
    return record


def _prune_instant_versions(project, kind: str) -> None:
    instants = [m for m in project.models() if m.kind == kind]
    for record in instants[:-KEEP_INSTANT_VERSIONS]:
        project.forget_model(record.version)
        shutil.rmtree(record.path, ignore_errors=True)
