"""Active learning: which image to review next, and fresh proposals after a better model.

Ranking uses the image-level uncertainty that inference stores with `project.set_uncertainty`
(the mean normalised entropy of the latest model's prediction): the image the model is least
sure about is the one whose correction teaches it most. Images without a score yet come after
all scored ones, in name order, so "next" always has an answer while unreviewed images remain.
"""

from __future__ import annotations

from collections.abc import Collection, Generator
from pathlib import Path

from segstudio.core.progress import Progress, StopFlag, drive
from segstudio.core.project import Status

UNREVIEWED = (Status.NEW, Status.IN_PROGRESS)


def rank_by_uncertainty(project, *, statuses=UNREVIEWED) -> list:
    """Unreviewed image records, most uncertain first; unscored ones last (by name)."""
    records = project.images(status=list(statuses), order="name")
    scored = sorted((r for r in records if r.uncertainty is not None), key=lambda r: (-r.uncertainty, r.name))
    return scored + [r for r in records if r.uncertainty is None]


def next_most_uncertain(project, current_id: int | None = None) -> int | None:
    """Id of the most uncertain unreviewed image other than `current_id`, or None when none is left."""
    for record in rank_by_uncertainty(project):
        if record.id != current_id:
            return record.id
    return None


def refresh_proposals(project, bundle_path: Path, *, device: str | None = None, skip: Collection[int | None] = (),
                      stop: StopFlag | None = None) -> Generator[Progress, None, int]:
    """Propose again on the images nobody has reviewed (status new) with the bundle at `bundle_path`.

    Only pixels of source 0 or 1 change (inference.apply_prediction), and the uncertainty used
    for ranking is updated. Images in `skip` (the one open in the editor) are left alone, and
    so are images whose proposal came from a model at least as good (Project.proposal_outdated).
    Returns how many images got a new proposal.
    """
    from segstudio.core.device import pick_device
    from segstudio.core.errors import ImageReadError
    from segstudio.core.imageio import read_image
    from segstudio.core.inference import apply_prediction, predict
    from segstudio.core.models.bundle import ModelBundle

    bundle = ModelBundle.load(bundle_path)
    bundle.mapping_to(project.class_names())  # refuses a model for other classes, with the reason
    target = pick_device(device)
    bundle.model.to(target)
    known = {m.version: m for m in project.models()}
    proposer = known.get(bundle.version)
    records = [r for r in project.images(status=Status.NEW) if r.id not in skip]
    if proposer is not None:
        records = project.outdated_proposals(records, proposer)
    refreshed = 0
    for done, record in enumerate(records):
        if stop is not None and stop.is_set():
            break
        yield Progress(done, len(records), f"proposing {record.name}")
        try:
            raw = read_image(record.path).raw
        except ImageReadError:
            continue  # an unreadable image is reported where it is opened; nothing to propose
        prediction = drive(predict(bundle, raw, device=target, stop=stop))
        if prediction is None:
            break
        if project.image(record.id).status != Status.NEW:
            continue  # a person started on it meanwhile: leave it to the editor
        apply_prediction(project, None, record.id, prediction, version=bundle.version or None)
        refreshed += 1
    yield Progress(len(records), len(records), f"{refreshed} proposals refreshed")
    return refreshed

