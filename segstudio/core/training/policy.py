"""When to stop (after RootPainter's policy), which images train and which validate.

- a new model version is kept only when it beats the best on a paired comparison
  (segstudio.core.compare.decide), on the validation images the best did not win its place on
  when there are any (`chosen_on`: a best's score where it won is lucky, and it blocked every
  later model); this module counts the epochs without one;
- stop after `patience` epochs without a kept model;
- annotations changed (new reviewed pixels, new images): the count restarts, because the
  model now has something new to learn;
- about one reviewed image in five goes to the validation split, assigned once and never moved,
  and validation holds every class that training holds (see assign_validation_split);
- images whose labels are flagged as suspicious neither train nor validate until confirmed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from segstudio.core.errors import ProjectError
from segstudio.core.project import Split, Status

VAL_EVERY = 5  # one image in five validates
VAL_POSITION = 2  # ... the 2nd, 7th, 12th reviewed image: the first one always trains
MIN_CLASS_PIXELS = 64  # reviewed pixels of a class (an 8 x 8 blob) for an image to hold it in the split rule


@dataclass
class Patience:
    patience: int
    epochs_without_gain: int = 0

    def observe(self, kept: bool) -> None:
        """Record one validation: a kept model resets the count."""
        self.epochs_without_gain = 0 if kept else self.epochs_without_gain + 1

    def restart(self) -> None:
        """New annotations: the model has something new to learn, the count restarts."""
        self.epochs_without_gain = 0

    @property
    def exhausted(self) -> bool:
        return self.epochs_without_gain >= self.patience


def candidate_image_ids(project) -> list[int]:
    """Images that may hold reviewed pixels, by id: they have masks, were not skipped, and are not
    flagged as suspicious (a flagged image whose labels changed since is a candidate again: the
    round's label check looks at it anew)."""
    return sorted(r.id for r in project.images(order="added")
                  if r.status != Status.SKIPPED and project.has_masks(r.id)
                  and (r.label_flag is None or project.label_check_state(r.id)[0] != project.label_stamp(r.id)))


def assign_validation_split(project, reviewed_ids: list[int], *, classes: dict | None = None,
                            records: dict | None = None) -> list[int]:
    """Give reviewed images without a split one, in order; returns the ids newly assigned.

    The k-th image to get a split validates when k % 5 == 2 (k counts images already split, so
    assignments are stable and the share stays about one in five), with two exceptions where
    `classes` (id -> the classes its reviewed pixels hold, at least MIN_CLASS_PIXELS each) says:
    - an image holding a class that no training image holds yet trains: what nobody taught the
      model cannot be validated, only missed;
    - an image holding a class that training holds and validation does not validates.
    Why: validation without a class cannot see that a model never predicts it, and a model that
    predicts nothing rare is perfect there. On brain-tumour the first two validation tiles held
    no tumour: the kept network scored 1.0 on them over the reviewed classes, so no later model
    could be surely better for learning tumour; on brain-aal no validation slice held deep grey
    matter. The exceptions add at most one image per class to validation.
    `records` (id -> ImageRecord of at least `reviewed_ids`) spares reading every image.
    """
    records = records if records is not None else {r.id: r for r in project.images()}
    classes = classes or {}
    split = [i for i in reviewed_ids if records[i].split in (Split.TRAIN, Split.VAL)]
    taught = set().union(*(classes.get(i, ()) for i in split if records[i].split == Split.TRAIN))
    validated = set().union(*(classes.get(i, ()) for i in split if records[i].split == Split.VAL))
    assigned, newly = len(split), []
    for image_id in reviewed_ids:
        if records[image_id].split != Split.UNASSIGNED:
            continue
        assigned += 1
        held = set(classes.get(image_id, ()))
        if held - taught:
            validates = False
        elif held & (taught - validated):
            validates = True
        else:
            validates = assigned % VAL_EVERY == VAL_POSITION
        (validated if validates else taught).update(held)
        project.set_split(image_id, Split.VAL if validates else Split.TRAIN)
        newly.append(image_id)
    return newly


def held_classes(class_counts) -> frozenset[int]:
    """The classes an image's reviewed pixels hold enough of to count (cache.CachedImage.class_counts)."""
    return frozenset(c for c, pixels in enumerate(class_counts) if pixels >= MIN_CLASS_PIXELS)


def training_data_hash(images) -> str:
    """What a model version saw: the cached images' ids and keys (file stats), no decoding."""
    digest = hashlib.blake2b(digest_size=16)
    for image in sorted(images, key=lambda image: image.image_id):
        digest.update(f"{image.image_id}|{image.key}|".encode())
    return digest.hexdigest()


def annotation_fingerprint(project) -> str:
    """Changes whenever reviewed masks, statuses, splits or label flags change (file stats, no decoding).

    One stat per image: for a one-off comparison. Training watches Project.annotation_changes
    (a counter in the database) instead of calling this repeatedly.

    Images still new hold no reviewed pixel (a person's first pixel moves an image to in
    progress), so fresh proposals written on them do not count as new annotations.
    """
    digest = hashlib.blake2b(digest_size=16)
    for record in sorted(project.images(), key=lambda r: r.id):
        if record.status == Status.NEW:
            continue
        flag = "flagged" if record.label_flag is not None else ""
        digest.update(f"{record.id}|{record.status.value}|{record.split.value}|{flag}|".encode())
        digest.update(project.label_stamp(record.id).encode())
    return digest.hexdigest()


def chosen_on(project, version: str | None) -> frozenset[int] | None:
    """The validation images a kept model won its place on (its metrics), None when unknown."""
    if version is None:
        return None
    try:
        ids = project.model(version).metrics.get("chosen_on_image_ids")
    except ProjectError:  # no such record: every image counts as seen, the old rule
        return None
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return None
    return frozenset(ids)
