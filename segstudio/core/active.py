"""Active learning: which image to review next, and fresh proposals after a better model.

Ranking uses the image-level uncertainty that inference stores with `project.set_uncertainty`
(the mean normalised entropy of the latest model's prediction): the image the model is least
sure about is the one whose correction teaches it most. Images without a score yet come after
all scored ones, in name order, so "next" always has an answer while unreviewed images remain.
"""

from __future__ import annotations

from collections.abc import Collection, Generator
from pathlib import Path

from segstudio.core.progress import Progress, StopFlag
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
    """Propose again on every image nobody has reviewed (status new) with the model at `bundle_path`.

    Only pixels of source 0 or 1 change, and the uncertainty used for ranking is updated
    (core/ladder_round.refresh_unreviewed). Images in `skip` (the one open in the editor) are
    left alone. Returns how many images got a new proposal.
    """
    from segstudio.core.ladder_round import refresh_unreviewed
    from segstudio.core.models.bundle import read_model_json
    from segstudio.core.proposers import load_proposer

    arch = str(read_model_json(Path(bundle_path)).get("architecture", ""))
    proposer = load_proposer(Path(bundle_path), arch, device=device)
    return (yield from refresh_unreviewed(project, proposer, skip=skip, stop=stop))
