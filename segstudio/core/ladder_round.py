"""The ladder's background work after images are reviewed, and proposals from whichever model proposes.

`instant_round` runs when images were marked done (and when a project opens with reviewed
images the instant tier has not learnt yet): it scores the current candidates on the newly
reviewed images before anyone learns from them (core/ladder.observe), retrains the instant tier
on every reviewed pixel and saves it as a model version, then, once a network exists, the hybrid
tier (the instant classifier reading the best network's class probabilities) the same way.
`refresh_unreviewed` then proposes on the images nobody has started, most uncertain first, with
any kind of model.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Generator

import numpy as np

from segstudio.core.instant_tier import InstantTier
from segstudio.core.progress import Progress, StopFlag, drive
from segstudio.core.project import Status


def images_to_observe(project) -> list[int]:
    """Done images that the newest instant version has not learnt from and the ladder has not scored."""
    from segstudio.core.ladder import HISTORY_SETTING, latest_instant

    latest = latest_instant(project)
    if latest is None:
        return []
    learnt = set(latest.metrics.get("image_ids", []))
    scored = {entry["image"] for entry in project.get_setting(HISTORY_SETTING, [])}
    return [r.id for r in project.images(status=Status.DONE) if r.id not in learnt and r.id not in scored]


NO_HYBRID_SETTING = "ladder.no_hybrid_for"  # a best network whose classes are not the project's


def needs_round(project) -> bool:
    """Whether reviewed images exist that the newest instant version has not learnt from, or the
    newest hybrid (once there is a network), or the hybrid reads another network than the best."""
    from segstudio.core.ladder import latest_instant
    from segstudio.core.training.policy import candidate_image_ids

    if not candidate_image_ids(project):
        return False
    reviewed = {r.id for r in project.images(status=Status.DONE)}
    return _stale(latest_instant(project), reviewed) or _network_for_stale_hybrid(project, reviewed) is not None


def _stale(record, reviewed: Collection[int], network: str | None = None) -> bool:
    """Whether `record` (an instant or hybrid version, or None) misses reviewed images or reads
    another network than `network`."""
    if record is None:
        return True
    missing = set(reviewed) - set(record.metrics.get("image_ids", []))
    return bool(missing) or (network is not None and record.metrics.get("network") != network)


def _network_for_stale_hybrid(project, reviewed: Collection[int]):
    """The best network's record when the hybrid must be trained on it, else None."""
    from segstudio.core.ladder import best_network, latest_of_kind

    network = best_network(project)
    if network is None or project.get_setting(NO_HYBRID_SETTING) == network.version:
        return None
    return network if _stale(latest_of_kind(project, "hybrid"), reviewed, network.version) else None


def instant_round(project, tier: InstantTier, *, hybrid: InstantTier | None = None, device=None,
                  stop: StopFlag | None = None) -> Generator[Progress, None, object]:
    """Score candidates on newly reviewed images, then retrain and save each instant kind that is
    stale (core/ladder_round.needs_round): the plain tier, and the `hybrid` tier on the best
    network once one exists. Returns the record of the last version saved (None: none)."""
    from segstudio.core.ladder import latest_instant
    from segstudio.core.proposers import load_proposer
    from segstudio.core.training.policy import candidate_image_ids

    yield from _observe(project, images_to_observe(project), device, stop)
    ids = candidate_image_ids(project)
    reviewed = {r.id for r in project.images(status=Status.DONE)}
    record = None
    if _stale(latest_instant(project), reviewed):
        record = yield from _train_and_save(project, tier, ids, "the instant classifier", stop)
    network = None if hybrid is None else _network_for_stale_hybrid(project, reviewed)
    if network is None or (stop is not None and stop.is_set()):
        return record
    if hybrid.network is None or hybrid.network.version != network.version:
        proposer = load_proposer(network.path, network.arch, version=network.version, device=device)
        if list(proposer.class_names) != project.class_names():
            if not project.readonly:  # trained before the classes changed: no planes for these
                project.set_setting(NO_HYBRID_SETTING, network.version)
            return record
        hybrid.use_network(proposer)
    return (yield from _train_and_save(project, hybrid, ids, "the instant classifier on the network", stop)) or record


def _train_and_save(project, tier: InstantTier, ids: list[int], name: str, stop: StopFlag | None):
    from segstudio.core.ladder import save_instant_version

    started = time.perf_counter()
    yield from tier.refresh_samples(project, ids, stop=stop)
    if stop is not None and stop.is_set():
        return None
    yield Progress(0, 1, f"training {name}")
    model = tier.fit(ids)
    if model is None or project.readonly:
        return None
    reviewed = sorted(i for i in ids if i in tier.cache)
    metrics = {"image_ids": reviewed, "images": len(reviewed),
               "train_pixels": int(sum(tier.cache[i].labels.size for i in reviewed)),
               "seconds": round(time.perf_counter() - started, 3)}
    return save_instant_version(project, model, metrics)


def _observe(project, image_ids: list[int], device, stop) -> Generator[Progress, None, None]:
    from segstudio.core.imageio import read_image
    from segstudio.core.ladder import candidates, observe
    from segstudio.core.proposers import load_proposer

    if not image_ids:
        return
    proposers = {kind: load_proposer(record.path, record.arch, version=record.version, device=device)
                 for kind, record in candidates(project).items()}
    for index, image_id in enumerate(image_ids):
        if stop is not None and stop.is_set():
            return
        yield Progress(index, len(image_ids), "scoring the models on the reviewed image")
        source = project.read_source(image_id)
        truth = np.where(source >= 2, project.read_label(image_id), project.ignore_value)
        raw = read_image(project.image(image_id).path).raw
        predictions = {}
        for kind, proposer in proposers.items():
            prediction = drive(proposer.predict(raw, stop=stop))
            if prediction is None:
                return
            predictions[kind] = (proposer.version, prediction.class_map)
        observe(project, image_id, truth, predictions)


def refresh_unreviewed(project, proposer, *, skip: Collection[int | None] = (), stop: StopFlag | None = None
                       ) -> Generator[Progress, None, int]:
    """Propose on every image nobody has started (status new), most uncertain first.

    Only pixels of source 0 or 1 change (prediction.apply_prediction). `skip` is read again before
    each image, so a live set (the image open in the editor) can change while this runs.
    Returns how many images got a proposal.
    """
    from segstudio.core.workspace.review import rank_by_uncertainty
    from segstudio.core.errors import ImageReadError
    from segstudio.core.imageio import read_image
    from segstudio.core.prediction import apply_prediction
    from segstudio.core.proposers import check_classes

    check_classes(proposer, project.class_names())
    records = rank_by_uncertainty(project, statuses=(Status.NEW,))
    known = {m.version: m for m in project.models()}
    if proposer.version in known:  # only a better model replaces a proposal (Project.proposal_outdated)
        records = project.outdated_proposals(records, known[proposer.version])
    refreshed = 0
    for done, record in enumerate(records):
        if stop is not None and stop.is_set():
            break
        if record.id in skip:
            continue
        yield Progress(done, len(records), f"proposing {record.name}")
        try:
            raw = read_image(record.path).raw
        except ImageReadError:
            continue  # an unreadable image is reported where it is opened
        prediction = drive(proposer.predict(raw, stop=stop))
        if prediction is None:
            break
        if record.id in skip or project.image(record.id).status != Status.NEW:
            continue  # open in the editor, or a person started on it meanwhile: leave it to the editor
        apply_prediction(project, None, record.id, prediction, version=proposer.version or None)
        refreshed += 1
    yield Progress(len(records), len(records), f"{refreshed} proposals refreshed")
    return refreshed
