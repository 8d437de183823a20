"""The project store: metadata in SQLite, masks as PNG files (docs/architecture.md, "The project on disk")."""

from segstudio.core.project.records import (
    IGNORE, IGNORE_16, AddReport, ImageRecord, LabelClass, ModelRecord, Source, Split, Status,
    default_color,
)
from segstudio.core.project.store import Project

__all__ = [
    "IGNORE", "IGNORE_16", "AddReport", "ImageRecord", "LabelClass", "ModelRecord", "Project",
    "Source", "Split", "Status", "default_color",
]
