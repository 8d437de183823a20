"""The application model without Qt: the open project, the current image, review and class edits.

The window (segstudio.gui.session adapts it to Qt signals) and the command line use the same
`Workspace` operations; listeners get the typed events of `events`.
"""

from segstudio.core.workspace.events import (
    ClassesChanged, DocumentReplaced, HistoryChanged, ImagesChanged, Listener, ProjectClosed, ProjectOpened,
    SaveStatusChanged, SettingChanged, StatusChanged, WorkspaceEvent,
)
from segstudio.core.workspace.workspace import MARK_DONE_STEP, Workspace

__all__ = [
    "MARK_DONE_STEP", "ClassesChanged", "DocumentReplaced", "HistoryChanged", "ImagesChanged", "Listener",
    "ProjectClosed", "ProjectOpened", "SaveStatusChanged", "SettingChanged", "StatusChanged", "Workspace",
    "WorkspaceEvent",
]
