"""Which image to review next, why one was skipped, how much a class is used: the rules the
window, the CLI and background jobs share.

"Next unreviewed" walks the names after the current one (wrapping); "most uncertain" ranks by the
image-level uncertainty that inference stores with `project.set_uncertainty` (the mean normalised
entropy of the latest model's prediction): the image the model is least sure about is the one
whose correction teaches it most. Unscored images come after all scored ones, by name, so both
always have an answer while unreviewed images remain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segstudio.core.project import Status

if TYPE_CHECKING:
    from segstudio.core.project import ImageRecord, Project

UNREVIEWED = (Status.NEW, Status.IN_PROGRESS)
STATUS_EVENT = "status"  # history entry of a status change made in the workspace (with its reason)


def rank_by_uncertainty(project: Project, *, statuses=UNREVIEWED) -> list[ImageRecord]:
    """Unreviewed image records, most uncertain first; unscored ones last (by name). Every one:
    for reports; navigation asks `next_most_uncertain`, which reads one or two rows."""
    records = project.images(status=list(statuses), order="name")
    scored = sorted((r for r in records if r.uncertainty is not None), key=lambda r: (-r.uncertainty, r.name))
    return scored + [r for r in records if r.uncertainty is None]


def next_most_uncertain(project: Project, current_id: int | None = None) -> int | None:
    """Id of the most uncertain unreviewed image other than `current_id`, or None when none is left."""
    return next((i for i in project.most_uncertain_ids(UNREVIEWED, limit=2) if i != current_id), None)


def next_unreviewed(project: Project, current_id: int | None = None) -> int | None:
    """The next unreviewed image after the current one by name (wrapping), or None.

    Images are ordered by (name, case folded as SQLite's NOCASE, id), so images of the same
    name in different folders are each visited in turn. Two LIMIT 1 queries per status at most.
    """
    after = None
    if current_id is not None and (row := project.image_row(current_id)) is not None:
        after = (row.name, row.id)
    found = project.first_by_name(UNREVIEWED, after)
    if found is None:
        found = project.first_by_name(UNREVIEWED)  # wrap around
    return None if found == current_id else found


def review_counts(project: Project) -> tuple[int, int]:
    """(done, total) images: the counter the person watches."""
    counts = project.status_counts()
    return counts[Status.DONE.value], sum(counts.values())


def skip_reason(project: Project, image_id: int) -> str:
    """Why the image was skipped, "" when it is not skipped or no reason was given."""
    if project.image(image_id).status != Status.SKIPPED:
        return ""
    for entry in project.history(limit=1000):
        if entry["kind"] == STATUS_EVENT and entry["image_id"] == image_id:
            return entry.get("reason", "")
    return ""


def class_usage(project: Project, class_id: int) -> tuple[int, int]:
    """(labelled pixels, images holding any) of a class in labels/ (fold the edits first), from
    the histograms stored with the masks."""
    pixels, images = project.class_pixel_totals()
    return pixels.get(class_id, 0), images.get(class_id, 0)
