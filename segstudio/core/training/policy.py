"""When to keep a model and when to stop (after RootPainter's policy), and which images validate.

- keep a new model version only when validation mIoU beats the best so far;
- stop after `patience` epochs without a gain;
- annotations changed (new reviewed pixels, new images): the count restarts, because the
  model now has something new to learn;
- about one reviewed image in five goes to the validation split, assigned once and never moved.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from segstudio.core.project import Split, Status

VAL_EVERY = 5  # one image in five validates
VAL_POSITION = 2  # ... the 2nd, 7th, 12th reviewed image: the first one always trains


@dataclass
class KeepIfBetter:
    patience: int
    best: float = -math.inf
    epochs_without_gain: int = 0

    def observe(self, miou: float) -> bool:
        """Record one validation; True when it beats the best (the model should be kept)."""
        if not math.isnan(miou) and miou > self.best + 1e-6:
            self.best = miou
            self.epochs_without_gain = 0
            return True
        self.epochs_without_gain += 1
        return False

    def restart(self, baseline: float) -> None:
        """New annotations: the best is re-measured on the new validation data, the count restarts."""
        self.best = -math.inf if math.isnan(baseline) else baseline
        self.epochs_without_gain = 0

    @property
    def exhausted(self) -> bool:
        return self.epochs_without_gain >= self.patience


def candidate_image_ids(project) -> list[int]:
    """Images that may hold reviewed pixels (they have masks and were not skipped), by id."""
    return sorted(r.id for r in project.images(order="added")
                  if r.status != Status.SKIPPED and project.has_masks(r.id))


def assign_validation_split(project, reviewed_ids: list[int]) -> list[int]:
    """Give reviewed images without a split one: the k-th becomes VAL when k % 5 == 2.

    k counts reviewed images that already have a train/val split, so assignments are stable
    and the validation share stays about one in five. Returns the ids newly assigned.
    """
    records = {r.id: r for r in project.images()}
    assigned = sum(1 for i in reviewed_ids if records[i].split in (Split.TRAIN, Split.VAL))
    newly = []
    for image_id in reviewed_ids:
        if records[image_id].split != Split.UNASSIGNED:
            continue
        assigned += 1
        project.set_split(image_id, Split.VAL if assigned % VAL_EVERY == VAL_POSITION else Split.TRAIN)
        newly.append(image_id)
    return newly


def annotation_fingerprint(project) -> str:
    """Changes whenever reviewed masks, statuses or splits change (file stats, no decoding).

    Images still new hold no reviewed pixel (a person's first pixel moves an image to in
    progress), so fresh proposals written on them do not count as new annotations.
    """
    digest = hashlib.blake2b(digest_size=16)
    for record in sorted(project.images(), key=lambda r: r.id):
        if record.status == Status.NEW:
            continue
        digest.update(f"{record.id}|{record.status.value}|{record.split.value}".encode())
        for folder in (project.labels_dir, project.sources_dir):
            try:
                stat = (folder / f"{record.id}.png").stat()
                digest.update(f"|{stat.st_mtime_ns}:{stat.st_size}".encode())
            except FileNotFoundError:
                digest.update(b"|-")
    return digest.hexdigest()
