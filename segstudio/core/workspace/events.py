"""What a `Workspace` tells its listeners: one frozen dataclass per kind of change.

Listeners match on the type (`isinstance` or `match`), never on text. Events are sent on the
thread that made the change: the caller's for every operation, the autosaver's thread for
`SaveStatusChanged` (a GUI re-posts that one to its own thread).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from segstudio.core.autosave import SaveStatus
from segstudio.core.project import Status

if TYPE_CHECKING:
    from segstudio.core.document import MaskDocument
    from segstudio.core.project import Project


@dataclass(frozen=True)
class ProjectOpened:
    project: Project
    recovered: str  # what crash recovery restored, "" when nothing


@dataclass(frozen=True)
class ProjectClosed:
    root: Path


@dataclass(frozen=True)
class DocumentReplaced:
    """Another image is open (or none: image_id and document are None)."""

    image_id: int | None
    document: MaskDocument | None


@dataclass(frozen=True)
class HistoryChanged:
    steps: tuple[str, ...]  # the open image's step names, oldest first
    done: int  # how many of them are applied (the rest can be redone)
    trimmed: bool  # older steps were dropped by the memory cap


@dataclass(frozen=True)
class ImagesChanged:
    """Images were added or removed, or their uncertainty changed."""


@dataclass(frozen=True)
class StatusChanged:
    image_id: int
    old: Status
    new: Status
    reason: str = ""  # why an image was skipped


@dataclass(frozen=True)
class ClassesChanged:
    pass


@dataclass(frozen=True)
class SettingChanged:
    key: str
    value: object


@dataclass(frozen=True)
class SaveStatusChanged:
    status: SaveStatus


WorkspaceEvent = (ProjectOpened | ProjectClosed | DocumentReplaced | HistoryChanged | ImagesChanged | StatusChanged
                  | ClassesChanged | SettingChanged | SaveStatusChanged)
Listener = Callable[[WorkspaceEvent], None]
