"""Docks and menu entries of the other areas (model, training, exchange, about), added after the
window's first paint.

They import torch or pyqtgraph (a second or more), so each is imported when the window installs
it, by an ordinary import statement that tools and IDEs follow. One that fails to import or to
build is skipped with a note in the status bar: the annotation window must always open. Each
entry names how its class is loaded and how it is shown (a dock, or a menu action that opens a
dialog).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget


@dataclass(frozen=True)
class PanelSpec:
    load: Callable[[], type]  # imports the module and returns the panel's class
    cls: str
    title: str
    kind: str  # "dock" or "dialog"
    menu: str = ""  # for dialogs: the menu that gets the action


def _model_panel() -> type:
    from segstudio.gui.model_panel import ModelPanel

    return ModelPanel


def _training_panel() -> type:
    from segstudio.gui.training_panel import TrainingPanel

    return TrainingPanel


def _import_dialog() -> type:
    from segstudio.gui.exchange_dialogs import ImportDialog

    return ImportDialog


def _export_dialog() -> type:
    from segstudio.gui.exchange_dialogs import ExportDialog

    return ExportDialog


def _about_dialog() -> type:
    from segstudio.gui.about import AboutDialog

    return AboutDialog


PANELS = (
    PanelSpec(_model_panel, "ModelPanel", "Model", "dock"),
    PanelSpec(_training_panel, "TrainingPanel", "Training", "dock"),
    PanelSpec(_import_dialog, "ImportDialog", "&Import dataset...", "dialog", "&File"),
    PanelSpec(_export_dialog, "ExportDialog", "&Export dataset...", "dialog", "&File"),
    PanelSpec(_about_dialog, "AboutDialog", "&About SegStudio", "dialog", "&Help"),
)


def install(window) -> None:
    """Add every panel that imports; remember the docks so `shutdown` can stop their work."""
    window.optional = {}
    right_width = window.docks["classes"].width()
    for spec in PANELS:
        try:
            factory = spec.load()
            if spec.kind == "dock":
                _add_dock(window, spec, factory(window.state))
            else:
                _add_dialog_action(window, spec, factory)
        except Exception as exc:  # noqa: BLE001 - another area's bug must not close the window
            traceback.print_exc()
            window.status.showMessage(f"{spec.title.replace('&', '')} is not available: {exc}", 10000)
    if not window.layout_restored:  # first run: a wide panel must not squeeze the canvas
        window.resizeDocks([window.docks["classes"]], [right_width], Qt.Orientation.Horizontal)


def _add_dock(window, spec: PanelSpec, widget) -> None:
    dock = QDockWidget(spec.title, window)
    dock.setObjectName(f"dock_{spec.cls}")
    dock.setWidget(widget)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.tabifyDockWidget(window.docks["history"], dock)  # shares the History's place, as a tab
    # Added after the window's restoreState, so the dock's visibility is remembered here.
    dock.setVisible(QSettings().value(_visible_key(spec), True) in (True, "true"))
    window.menus["&View"].addAction(dock.toggleViewAction())
    window.optional[spec.cls] = widget


def _add_dialog_action(window, spec: PanelSpec, factory) -> None:
    action = QAction(spec.title, window)
    action.setObjectName(f"open_{spec.cls}")

    def open_dialog() -> None:
        try:
            if spec.cls == "AboutDialog":
                dialog = factory(window, window.state.device_preference)
            else:
                dialog = factory(window.state, window)
        except Exception as exc:  # noqa: BLE001 - show it, keep working
            traceback.print_exc()
            window.message_bar.show_message(f"Could not open {spec.title.replace('&', '')}: {exc}")
            return
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    action.triggered.connect(open_dialog)
    window.menus[spec.menu].insertAction(window.menu_tails.get(spec.menu), action)  # None: at the end
    window.optional[spec.cls] = action


def _visible_key(spec: PanelSpec) -> str:
    return f"panels/{spec.cls}/visible"


def shutdown(window) -> None:
    """Remember which docks were shown; let docks with background work (training) stop it."""
    for spec in PANELS:
        widget = getattr(window, "optional", {}).get(spec.cls)
        if spec.kind == "dock" and widget is not None and widget.parentWidget() is not None:
            QSettings().setValue(_visible_key(spec), not widget.parentWidget().isHidden())
    for widget in getattr(window, "optional", {}).values():
        stop = getattr(widget, "shutdown", None)
        if callable(stop):
            try:
                stop()
            except Exception:  # noqa: BLE001 - quitting must go on
                traceback.print_exc()
