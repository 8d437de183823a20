"""What the window remembers between sessions (QSettings): layout, brush, mask display, tool."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings, QTimer

if TYPE_CHECKING:
    from segstudio.core.project import Project


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
    flush_remembered_image()
    settings = QSettings()
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/state", window.saveState())
    settings.setValue("canvas/brush_size", window.brush_size.value())
    settings.setValue("canvas/opacity", window.opacity.value())
    settings.setValue("canvas/overlay", window.actions.toggle_overlay.isChecked())
    settings.setValue("canvas/outline", window.actions.toggle_outline.isChecked())
    settings.setValue("canvas/tool", window.tools.tool_name)


_remembered: dict[str, int] = {}  # written a second after the last image change: QSettings writes its
_flush_timer: list[QTimer] = []  # whole file (~20-60 ms on a slow disk), which image switches must not wait for


def remember_image(project: Project, image_id: int | None) -> None:
    """The image open in a project, so that opening it again goes on where the person left."""
    if project is None or image_id is None:
        return
    _remembered[f"last_image/{project.root}"] = image_id
    if not _flush_timer:
        timer = QTimer(singleShot=True, interval=1000)
        timer.timeout.connect(flush_remembered_image)
        _flush_timer.append(timer)
    _flush_timer[0].start()


def flush_remembered_image() -> None:
    if _remembered:
        settings = QSettings()
        for key, image_id in _remembered.items():
            settings.setValue(key, image_id)
        _remembered.clear()


def last_image(project: Project) -> int | None:
    """The image remembered for this project, if it is still in it (and the person wants it)."""
    from segstudio.gui.preferences import REOPEN_LAST_IMAGE, value as preference

    if not preference(REOPEN_LAST_IMAGE):
        return None
    flush_remembered_image()
    value = QSettings().value(f"last_image/{project.root}")
    image_id = int(value) if str(value).isdigit() else None
    return image_id if image_id is not None and project.has_image(image_id) else None
