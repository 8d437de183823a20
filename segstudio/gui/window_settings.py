"""What the window remembers between sessions (QSettings): layout, brush, mask display, tool."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings


def _flag(value, default: bool) -> bool:
    return default if value is None else value in (True, "true")


def restore(window) -> None:
    settings = QSettings()
    geometry = settings.value("window/geometry")
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)
    else:
        window.resize(1400, 900)
    state = settings.value("window/state")
    window.layout_restored = isinstance(state, QByteArray) and window.restoreState(state)
    window.brush_size.setValue(int(settings.value("canvas/brush_size", window.tools.brush_size)))
    window.opacity.setValue(int(settings.value("canvas/opacity", window.opacity.value())))
    window.actions.toggle_overlay.setChecked(_flag(settings.value("canvas/overlay"), True))
    window.actions.toggle_outline.setChecked(_flag(settings.value("canvas/outline"), False))
    tool = str(settings.value("canvas/tool", "brush"))
    getattr(window.actions, f"tool_{tool}", window.actions.tool_brush).trigger()


def save(window) -> None:
    settings = QSettings()
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/state", window.saveState())
    settings.setValue("canvas/brush_size", window.brush_size.value())
    settings.setValue("canvas/opacity", window.opacity.value())
    settings.setValue("canvas/overlay", window.actions.toggle_overlay.isChecked())
    settings.setValue("canvas/outline", window.actions.toggle_outline.isChecked())
    settings.setValue("canvas/tool", window.tools.tool_name)
