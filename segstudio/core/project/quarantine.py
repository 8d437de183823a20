"""Setting damaged files aside so that one bad mask never makes a whole project unopenable.

The files move (never get deleted) to quarantine/<image id>-<time>/ inside the project, with a
note saying why, so a person can look at them or restore them by hand.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from segstudio.core.atomic import atomic_write_text

FOLDER = "quarantine"


def set_aside(project, image_id: int, reason: str, journal_files: list[Path]) -> Path:
    """Move an image's masks and the given journal files to a new quarantine folder; returns it."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    target = project.root / FOLDER / f"{image_id}-{stamp}"
    target.mkdir(parents=True)
    moved = []
    for kind, path in (("label", project._label_path(image_id)), ("source", project._source_path(image_id)),
                       *(("journal", p) for p in journal_files)):
        if path.exists():
            os.replace(path, target / f"{kind}-{path.name}")
            moved.append(f"{kind}-{path.name}")
    project.forget_histogram(image_id)
    atomic_write_text(target / "WHY.txt", f"Image {image_id} of this project: {reason}\n"
                      f"Set aside: {', '.join(moved)}. Move them back to labels/, sources/ and journal/ "
                      f"(without the prefix) once repaired.\n")
    return target
