"""Files and folders dropped on the window: images join the open project, a project folder opens."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDropEvent

from segstudio.gui import review


def accept_drag(event: QDragEnterEvent) -> None:
    if event.mimeData().hasUrls():
        event.acceptProposedAction()


def handle_drop(window, event: QDropEvent) -> None:
    paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
    if not paths:
        return
    event.acceptProposedAction()
    if window.state.project is None:
        if len(paths) == 1 and review.is_project(paths[0]):
            window.open_project(paths[0])
        else:
            window.message_bar.show_message("Open or create a project first, then drop images on it.", "info")
        return
    window.add_paths(paths)
