"""Active learning: fresh proposals on the unreviewed images after a better model.

Which image to review next (most uncertain first) is decided in segstudio.core.workspace.review.
"""

from __future__ import annotations

from collections.abc import Collection, Generator
from pathlib import Path

from segstudio.core.progress import Progress, StopFlag
from segstudio.core.project import Project


def refresh_proposals(project: Project, bundle_path: Path, *, device: str | None = None, skip: Collection[int | None] = (),
                      stop: StopFlag | None = None) -> Generator[Progress, None, int]:
    """Propose again on every image nobody has reviewed (status new) with the model at `bundle_path`.

    Only pixels of source 0 or 1 change, and the uncertainty used for ranking is updated
    (core/ladder_round.refresh_unreviewed). Images in `skip` (the one open in the editor) are
    left alone, and so are images whose proposal came from a model at least as good
    (Project.proposal_outdated). Returns how many images got a new proposal.
    """
    from segstudio.core.ladder_round import refresh_unreviewed
    from segstudio.core.models.bundle import read_model_json
    from segstudio.core.proposers import load_proposer

    arch = str(read_model_json(Path(bundle_path)).get("architecture", ""))
    proposer = load_proposer(Path(bundle_path), arch, device=device)
    return (yield from refresh_unreviewed(project, proposer, skip=skip, stop=stop))
