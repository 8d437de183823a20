"""The person's settings (kept in QSettings): one table, with their groups, defaults and limits.

The Settings dialog (gui/settings_dialog.py) is built from this table and applies each change at
once; code that uses a setting reads it with `value(key)`. What the window merely remembers
(layout, brush size, mask opacity, the tool, recent projects, hidden classes) stays where it is
(window_settings.py, welcome.py, class_panel.py): those are changed where they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings

from segstudio.gui.live_refresh import ENABLED_SETTING


@dataclass(frozen=True)
class Preference:
    key: str
    group: str
    label: str
    default: bool | int
    minimum: int = 0
    maximum: int = 0
    suffix: str = ""
    tip: str = ""


WAND_TOLERANCE = "editing/wand_tolerance"
SNAP_PIXELS = "editing/snap_pixels"
WHEEL_ZOOM = "canvas/wheel_zoom_percent"
REOPEN_LAST_IMAGE = "startup/reopen_last_image"
RECENT_COUNT = "startup/recent_count"

PREFERENCES: tuple[Preference, ...] = (
    Preference(WAND_TOLERANCE, "Editing", "Magic wand tolerance", 12, 0, 255, " grey levels",
               "How far a colour may be from the clicked one; dragging away from the click widens it"),
    Preference(SNAP_PIXELS, "Editing", "Polygon closes within", 8, 1, 60, " screen pixels",
               "A click this close to the first vertex closes the polygon"),
    Preference(WHEEL_ZOOM, "Canvas", "Zoom per wheel notch", 20, 2, 100, " %"),
    Preference(ENABLED_SETTING, "Model", "Learn while I paint", True,
               tip="The instant classifier re-proposes the open image shortly after each stroke, and learns "
                   "from every image marked done. Off: only the network proposes, after training."),
    Preference(REOPEN_LAST_IMAGE, "Start-up", "Open a project at the image I left", True),
    Preference(RECENT_COUNT, "Start-up", "Recent projects listed", 8, 0, 30, " projects"),
)
BY_KEY = {preference.key: preference for preference in PREFERENCES}


def value(key: str) -> bool | int:
    """The setting's value, or its default; of the default's type."""
    preference = BY_KEY[key]
    kind = type(preference.default)
    stored = QSettings().value(key, preference.default, type=kind)
    if kind is int:
        return min(max(int(stored), preference.minimum), preference.maximum)
    return bool(stored)


def set_value(key: str, new: bool | int) -> None:
    QSettings().setValue(key, type(BY_KEY[key].default)(new))


def is_default(key: str) -> bool:
    return value(key) == BY_KEY[key].default
