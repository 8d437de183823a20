"""One widget, one project training setting (segstudio.core.training.settings), kept in step.

The widget shows the project's value when a project opens and writes the person's change back
into the project, so the Model dock, the Training dock and `segstudio train` read the same truth.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QWidget


def bind_setting(state, widget: QWidget, name: str, show: Callable[[object], None], changed) -> None:
    """`show(value)` puts a value in the widget; `changed` is its signal carrying the person's value."""
    from segstudio.core.errors import SegStudioError

    def on_open(project) -> None:
        from segstudio.core.training.settings import load_settings

        try:
            value = getattr(load_settings(project), name)
        except SegStudioError as exc:
            state.error.emit(str(exc))
            return
        widget.blockSignals(True)
        show(value)
        widget.blockSignals(False)

    def on_change(value) -> None:
        from segstudio.core.training.settings import update_settings

        project = state.project
        if project is None or getattr(project, "readonly", False):
            return
        try:
            update_settings(project, **{name: value})
        except SegStudioError as exc:
            state.error.emit(str(exc))

    state.project_opened.connect(on_open)
    changed.connect(on_change)
