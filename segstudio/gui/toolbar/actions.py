"""Every command of the window as a QAction, declared in one table.

The table is also the source of the shortcuts sheet (F1), so the sheet can never disagree
with the keys that really work. The main window connects the actions to what they do.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QWidget

from segstudio.core.tools import TOOLS as CORE_TOOLS


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    shortcuts: tuple[str, ...] = ()
    group: str = "General"  # heading in the shortcuts sheet
    checkable: bool = False
    tip: str = ""


# One key per core tool (segstudio.core.tools.TOOLS gives names, titles and descriptions).
TOOL_KEYS = {
    "brush": "B", "eraser": "E", "fill": "G", "polygon": "P", "lasso": "L",
    "picker": "K", "wand": "W", "grabcut": "C", "accept": "A",
}
TOOLS: tuple[ActionSpec, ...] = tuple(
    ActionSpec(f"tool_{spec.name}", spec.title, (TOOL_KEYS[spec.name],) if spec.name in TOOL_KEYS else (),
               "Tools", True, spec.description)
    for spec in CORE_TOOLS.values()
)

SPECS: tuple[ActionSpec, ...] = (
    ActionSpec("new_project", "&New project...", ("Ctrl+N",), "File", tip="name, location, images and classes, in one step"),
    ActionSpec("open_project", "&Open project...", ("Ctrl+O",), "File"),
    ActionSpec("add_images", "&Add images...", ("Ctrl+I",), "File"),
    ActionSpec("save", "&Save", ("Ctrl+S",), "File", tip="write every edit to the project now"),
    ActionSpec("close_project", "&Close project", ("Ctrl+W",), "File"),
    ActionSpec("quit", "&Quit", ("Ctrl+Q",), "File"),
    ActionSpec("undo", "&Undo", ("Ctrl+Z",), "Edit"),
    ActionSpec("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Edit"),
    ActionSpec("accept_all", "Accept all &proposals", ("Shift+A",), "Edit"),
    ActionSpec("clear", "&Clear mask", ("Ctrl+Shift+Delete",), "Edit"),
    ActionSpec("brush_smaller", "Brush smaller", ("[",), "Edit"),
    ActionSpec("brush_larger", "Brush larger", ("]",), "Edit"),
    ActionSpec("settings", "Se&ttings...", ("Ctrl+,",), "Edit", tip="canvas, display, model and start-up settings"),
    ActionSpec("fit", "&Fit to window", ("F",), "View"),
    ActionSpec("one_to_one", "&Actual pixels (1:1)", ("Ctrl+1",), "View"),
    ActionSpec("zoom_in", "Zoom &in", ("Ctrl++", "Ctrl+="), "View"),
    ActionSpec("zoom_out", "Zoom &out", ("Ctrl+-",), "View"),
    ActionSpec("toggle_overlay", "Show &mask", ("V",), "View", True),
    ActionSpec("toggle_outline", "&Outline only", ("O",), "View", True),
    ActionSpec("toggle_heatmap", "&Uncertainty map", ("U",), "View", True),
    ActionSpec("contrast", "&Contrast...", ("Ctrl+Shift+C",), "View",
               tip="display minimum and maximum of grey and 16-bit images"),
    ActionSpec("done", "Mark &done", ("Ctrl+Return", "Ctrl+Enter"), "Review",
               tip="accept the remaining proposals, mark the image done and open the next unreviewed one"),
    ActionSpec("skip", "S&kip image...", (), "Review", tip="set the image aside, with a reason"),
    ActionSpec("set_in_progress", "Set back to &in progress", (), "Review"),
    ActionSpec("set_new", "Set back to ne&w", (), "Review"),
    ActionSpec("next_image", "&Next image", ("D", "N", "Right"), "Review"),
    ActionSpec("previous_image", "&Previous image", ("Shift+D", "Shift+N", "Left"), "Review"),
    ActionSpec("next_unreviewed", "Next &unreviewed", ("Ctrl+Right",), "Review"),
    ActionSpec("next_uncertain", "Next most un&certain", ("Ctrl+U",), "Review"),
    ActionSpec("shortcuts", "&Keyboard shortcuts", ("F1", "?"), "Help"),
    *TOOLS,
)


class Actions:
    """`actions.brush`, `actions.undo` ...: one attribute per spec name."""

    def __init__(self, parent: QWidget):
        self._actions: dict[str, QAction] = {}
        self.tool_group = QActionGroup(parent)
        self.tool_group.setExclusive(True)
        for spec in SPECS:
            action = QAction(spec.text, parent)
            action.setObjectName(spec.name)
            keys = [QKeySequence(k) for k in spec.shortcuts]
            if keys:
                action.setShortcuts(keys)
            action.setCheckable(spec.checkable)
            tip = spec.tip or spec.text.replace("&", "")
            if spec.shortcuts:
                tip += f" ({', '.join(spec.shortcuts)})"
            action.setToolTip(tip)
            action.setStatusTip(tip)
            if spec.name.startswith("tool_"):
                self.tool_group.addAction(action)
            parent.addAction(action)  # shortcuts work even when no menu shows the action
            self._actions[spec.name] = action

    def __getattr__(self, name: str) -> QAction:
        try:
            return self._actions[name]
        except KeyError:
            raise AttributeError(name) from None

    def tool_actions(self) -> list[QAction]:
        return [self._actions[spec.name] for spec in TOOLS]

    def update_enabled(self, has_project: bool, document, can_undo: bool = False, can_redo: bool = False) -> None:
        """Grey out what cannot act now: no project, no image, nothing to undo or redo."""
        for name in ("add_images", "save", "close_project", "next_image", "previous_image", "next_unreviewed", "next_uncertain"):
            self._actions[name].setEnabled(has_project)
        for name in ("done", "skip", "set_in_progress", "set_new", "accept_all", "clear", "fit", "one_to_one", "zoom_in", "zoom_out"):
            self._actions[name].setEnabled(document is not None)
        for action in self.tool_actions():  # nothing to paint on yet
            action.setEnabled(document is not None)
        self._actions["undo"].setEnabled(can_undo)
        self._actions["redo"].setEnabled(can_redo)
