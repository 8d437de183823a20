"""The application state that panels share: open project, current image, current model.

Panels (image list, canvas, model, training, exchange) take an `AppState` and listen to its
signals instead of reaching into each other. The main window owns the one instance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from segstudio.core.document import MaskDocument
    from segstudio.core.models import ModelBundle
    from segstudio.core.project import Project


class AppState(QObject):
    project_opened = Signal(object)  # segstudio.core.project.Project
    project_closed = Signal()
    image_changed = Signal(object)  # image id (int) or None
    images_changed = Signal()  # images were added or removed, or many changed: the list reads them again
    image_updated = Signal(int)  # one image's status, uncertainty, proposal or flag changed: one row
    classes_changed = Signal()
    current_class_changed = Signal(int)
    model_changed = Signal(object)  # the active model bundle, or None
    open_image_requested = Signal(int)  # a panel asks the window to show this image (e.g. a flagged one)
    models_changed = Signal()  # a version was kept, pinned or unpinned, or labels were flagged or confirmed
    message = Signal(str)  # a short status-bar message
    error = Signal(str)  # a message the person must see (shown in a dialog)

    def __init__(self, device: str | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.project: Project | None = None
        self.image_id: int | None = None
        self.document: MaskDocument | None = None  # of the current image
        self.current_class: int = 1
        self.model: ModelBundle | None = None
        self.device_preference = device
