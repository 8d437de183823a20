"""Names a person chooses: class names, and the name and folder of a new project.

Class names are unique ignoring case: "Cell" and "cell" would be two classes nobody can tell
apart in a list, an export or a dataset importer (which already folds names by case). The
checks raise ProjectError with a sentence meant for the person; the New Project dialog shows
the same sentences as the person types, so the rules live here once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from segstudio.core.errors import ProjectError

MAX_NAME_BYTES = 255  # a folder name on the common file systems


def class_key(name: str) -> str:
    """What two class names are compared by: spaces around ignored, case folded."""
    return name.strip().casefold()


def taken_class_name(name: str, existing: Iterable[str]) -> str | None:
    """The existing name that `name` would duplicate (ignoring case), or None."""
    key = class_key(name)
    return next((other for other in existing if class_key(other) == key), None)


def duplicate_message(name: str, existing: str) -> str:
    if existing == name.strip():
        return f"there is already a class named {existing!r}"
    return f"there is already a class named {existing!r}: names that differ only in case would be confused"


def check_class_names(names: Iterable[str]) -> list[str]:
    """The names without surrounding spaces; ProjectError when one is empty or two are the same ignoring case."""
    checked: list[str] = []
    for name in (name.strip() for name in names):
        if not name:
            raise ProjectError("every class needs a name (an empty line is not one)")
        if (existing := taken_class_name(name, checked)) is not None:
            raise ProjectError(duplicate_message(name, existing))
        checked.append(name)
    if not checked:
        raise ProjectError("a project needs at least one class")
    return checked


def check_project_name(name: str) -> str:
    """A project's folder name, stripped; ProjectError when it cannot be one."""
    name = name.strip()
    if not name:
        raise ProjectError("give the project a name")
    if name in (".", "..") or any(sep in name for sep in ("/", "\\", "\0")):
        raise ProjectError(f"{name!r} cannot be a folder name: leave out / and \\")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ProjectError(f"the name is too long for a folder ({len(name.encode())} bytes, at most {MAX_NAME_BYTES})")
    return name


def check_new_location(root: str | Path) -> Path:
    """The absolute folder a new project would be created in; ProjectError when that cannot be.

    It may not exist yet, or be an empty folder; the nearest folder that exists must be one we
    may write into. (Creating is the final test: a permission only the file system knows is
    reported when the folders are made.)
    """
    root = Path(root).expanduser().absolute()
    try:
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise ProjectError(f"cannot create a project in {root}: the folder exists and is not empty")
        existing = next(p for p in (root, *root.parents) if p.exists())
    except OSError as exc:  # a name too long, a folder we may not read
        raise ProjectError(f"cannot create a project in {root}: {exc.strerror or exc}") from exc
    if not existing.is_dir():
        raise ProjectError(f"cannot create a project in {root}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ProjectError(f"cannot create a project in {root}: you may not write into {existing}")
    return root
