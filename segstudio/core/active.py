"""Active learning: fresh proposals on the unreviewed images after a better model.

Which image to review next (most uncertain first) is decided in segstudio.core.workspace.review.
"""

from __future__ import annotations

from collections.abc import Collection, Generator
from pathlib import Path

from segstudio.core.progress import Progress, StopFlag, drive
from segstudio.core.project import Project, Status


def refresh_proposals(project: Project, bundle_path: Path, *, device: str | None = None, skip: Collection[int | None] = (),
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

