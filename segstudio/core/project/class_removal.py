"""Removing a class as one operation: every mask and the class list change together, or none.

Removing class k relabels k as unlabelled and moves every higher id down by one, in every
mask and in the database. Done file by file, a kill -9, a damaged mask or a full disk
half-way would leave some masks numbered under the old list (pixels silently in another
class). So the operation is recorded in an intent file in the project folder:

1. prepare: the intent says "prepare"; every changed mask pair is written beside the real
   one (labels/.<id>.class-removal.png, sources/...) and fsynced. Any failure, or a crash,
   deletes those files and the intent: nothing changed.
2. commit: the intent is atomically rewritten to "commit" with the list of staged images
   (the point of no return), then the staged files replace the real ones, the class list
   changes in the database, and the intent goes.

`resume` (called when a project is opened for writing) finishes a committed removal or
cleans up a prepared one. Every step of it can run twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from segstudio.core.atomic import atomic_write_text, create_new_file, encode_png, fsync_dir
from segstudio.core.errors import ProjectError, SaveError, SegStudioError
from segstudio.core.project.histograms import shift_histograms
from segstudio.core.project.records import Source

INTENT_NAME = ".segstudio-class-removal.json"
_STAGED = ".{id}.class-removal.png"
MAX_INTENT_BYTES = 16 << 20


def remove_class(project, class_id: int) -> None:
    """Remove `class_id` from the project and all of its masks, all or nothing."""
    names = project.class_names()
    if not 0 <= class_id < len(names):
        raise ProjectError(f"there is no class with id {class_id}")
    _fold_journals(project)
    intent = {"operation": "remove_class", "class_id": class_id, "names_before": names,
              "names_after": names[:class_id] + names[class_id + 1:], "phase": "prepare", "images": []}
    path = project.root / INTENT_NAME
    try:
        atomic_write_text(path, json.dumps(intent))
    except SaveError as exc:
        raise SaveError(f"cannot remove the class: {exc}. Nothing was changed.") from exc
    try:
        intent["images"] = _stage(project, class_id)
    except BaseException:
        _roll_back(project)
        raise
    intent["phase"] = "commit"
    atomic_write_text(path, json.dumps(intent))  # from here on, the removal is done on the next open if not now
    _finish(project, intent)


def resume(project) -> str:
    """Finish or undo a class removal a crash interrupted; "" when there was none."""
    path = project.root / INTENT_NAME
    if not path.exists():
        return ""
    try:
        if path.stat().st_size > MAX_INTENT_BYTES:
            raise ValueError(f"it is {path.stat().st_size:,} bytes")
        intent = json.loads(path.read_text(encoding="utf-8"))
        phase, name = intent["phase"], intent["names_before"][intent["class_id"]]
        if not all(type(i) is int for i in [intent["class_id"], *intent["images"]]):  # ids name files
            raise ValueError("its image and class ids are not all whole numbers")
    except (OSError, ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
        raise ProjectError(f"{path} (an interrupted class removal) cannot be read: {exc}. Nothing was changed; "
                           f"move the file away to open the project as it is.") from exc
    if phase == "commit":
        _finish(project, intent)
        return f"Finished removing class {name!r}, which was interrupted."
    _roll_back(project)
    return f"Undid the interrupted removal of class {name!r}: the masks and classes are as before it."


def _fold_journals(project) -> None:
    """Edits still in the journal carry the old class ids: fold them in first."""
    from segstudio.core.journal import ProjectJournal

    journal = ProjectJournal(project)
    for image_id in journal.image_ids():
        journal.fold(image_id)


def _stage(project, class_id: int) -> list[int]:
    ignore = project.ignore_value
    staged = []
    for record in project.images():
        if not project.has_masks(record.id):
            continue
        try:
            label, source = project.read_label(record.id), project.read_source(record.id)
        except SegStudioError as exc:
            raise ProjectError(f"cannot remove the class: {exc}. Nothing was changed.") from exc
        gone = label == class_id
        shift = (label > class_id) & (label != ignore)
        if not (gone.any() or shift.any()):
            continue
        label = label.copy()
        label[shift] -= 1
        label[gone] = ignore
        source = np.where(gone, np.uint8(Source.NONE), source).astype(np.uint8)
        for final, array in ((project._label_path(record.id), label), (project._source_path(record.id), source)):
            _write_staged(_staged_path(final), array)
        staged.append(record.id)
    for folder in (project.labels_dir, project.sources_dir):
        fsync_dir(folder)
    return staged


def _write_staged(path: Path, array: np.ndarray) -> None:
    try:
        path.unlink(missing_ok=True)
        with create_new_file(path) as handle:
            handle.write(encode_png(array))
            os.fsync(handle.fileno())
    except OSError as exc:
        raise SaveError(f"cannot remove the class: writing {path.name} failed ({exc.strerror or exc}). "
                        "Nothing was changed.") from exc


def _staged_path(final: Path) -> Path:
    return final.with_name(_STAGED.format(id=final.stem))


def _finish(project, intent: dict) -> None:
    for image_id in intent["images"]:
        for final in (project._label_path(image_id), project._source_path(image_id)):
            staged = _staged_path(final)
            if staged.exists():
                os.replace(staged, final)
    for folder in (project.labels_dir, project.sources_dir):
        fsync_dir(folder)
    class_id = int(intent["class_id"])
    if project.class_names() == intent["names_before"]:
        with project._tx() as conn:
            conn.execute("DELETE FROM classes WHERE id = ?", (class_id,))
            conn.execute("UPDATE classes SET id = id - 1 WHERE id > ?", (class_id,))
            shift_histograms(conn, class_id)
    elif project.class_names() != intent["names_after"]:
        raise ProjectError(f"the interrupted removal of class {class_id} does not fit the project's classes "
                           f"{project.class_names()}; {project.root / INTENT_NAME} was kept for a person to look at")
    _drop_intent(project)
    project.log_event("class_removed", class_id=class_id)


def _roll_back(project) -> None:
    for folder in (project.labels_dir, project.sources_dir):
        for staged in folder.glob(_STAGED.format(id="*")):
            staged.unlink(missing_ok=True)
    _drop_intent(project)


def _drop_intent(project) -> None:
    (project.root / INTENT_NAME).unlink(missing_ok=True)
    fsync_dir(project.root)
