"""Typed errors. Each one carries a message written for the person using the app."""

from __future__ import annotations

from pathlib import Path


class SegStudioError(Exception):
    """Base class: the message is shown as is to the person (CLI or GUI)."""


class ImageReadError(SegStudioError):
    """An image could not be read; says which file and why."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


class ProjectError(SegStudioError):
    """A project folder is missing, damaged, or from a newer SegStudio."""


class ProjectLockedError(ProjectError):
    """The project is already open in another window or process."""


class ProjectReadOnlyError(ProjectError):
    """The project is on read-only storage: it can be opened read-only, not changed."""


class SaveError(SegStudioError):
    """A write failed; the previous file on disk is intact."""


class ModelError(SegStudioError):
    """A model or checkpoint cannot be created, loaded or used."""


class FormatError(SegStudioError):
    """A dataset file cannot be imported or exported."""
