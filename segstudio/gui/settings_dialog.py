"""The Settings dialog (Edit > Settings, Ctrl+,): the table of gui/preferences.py, grouped.

Every change is saved and applied at once (no OK to forget); "Restore defaults" puts every
setting back. `install_settings` also applies the stored values when the window opens.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QGroupBox, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from segstudio.gui import preferences as prefs
from segstudio.gui.welcome import RECENT_KEY


def _set_instant(window, on: bool) -> None:
    window.instant_jobs.set_enabled(on)


def _set_wheel(window, percent: int) -> None:
    window.canvas.wheel_zoom_base = (1 + percent / 100) ** (1 / 120)  # per eighth of a degree


# How each setting takes effect in an open window (the others are read when they are used).
APPLY: dict[str, Callable[[object, object], None]] = {
    prefs.WAND_TOLERANCE: lambda window, v: setattr(window.tools.ctx, "tolerance", float(v)),
    prefs.SNAP_PIXELS: lambda window, v: setattr(window.tools, "snap_pixels", int(v)),
    prefs.WHEEL_ZOOM: _set_wheel,
    prefs.ENABLED_SETTING: _set_instant,
    prefs.RECENT_COUNT: lambda window, v: window.welcome.refresh(),
}


def apply_all(window) -> None:
    for key, apply in APPLY.items():
        if key in prefs.BY_KEY and key != prefs.ENABLED_SETTING:  # the instant jobs read theirs
            apply(window, prefs.value(key))


class SettingsDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.setObjectName("settings_dialog")
        self.setWindowTitle("Settings")
        self.setMinimumWidth(480)
        self._window = window
        self.fields: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        groups: dict[str, QFormLayout] = {}
        for preference in prefs.PREFERENCES:
            if preference.group not in groups:
                box = QGroupBox(preference.group)
                groups[preference.group] = QFormLayout(box)
                layout.addWidget(box)
            field = self._field(preference)
            field.setToolTip(preference.tip)
            self.fields[preference.key] = field
            if isinstance(field, QCheckBox):
                groups[preference.group].addRow(field)
            else:
                groups[preference.group].addRow(preference.label, field)
            if preference.key == prefs.RECENT_COUNT:
                self.clear_recent = QPushButton("Forget recent projects")
                self.clear_recent.clicked.connect(self._forget_recent)
                groups[preference.group].addRow("", self.clear_recent)
        note = QLabel("Changes apply at once. Layout, brush size, mask opacity and the tool are remembered as you leave them.")
        note.setWordWrap(True)
        note.setEnabled(False)
        layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close | QDialogButtonBox.StandardButton.RestoreDefaults)
        self.restore = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        self.restore.clicked.connect(self.restore_defaults)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self._update_restore()

    def _field(self, preference: prefs.Preference) -> QWidget:
        current = prefs.value(preference.key)
        if isinstance(preference.default, bool):
            field = QCheckBox(preference.label)
            field.setChecked(bool(current))
            field.toggled.connect(lambda on, key=preference.key: self._changed(key, on))
            return field
        field = QSpinBox(minimum=preference.minimum, maximum=preference.maximum, suffix=preference.suffix)
        field.setValue(int(current))
        field.valueChanged.connect(lambda v, key=preference.key: self._changed(key, v))
        return field

    def _changed(self, key: str, new) -> None:
        prefs.set_value(key, new)
        if key in APPLY:
            APPLY[key](self._window, prefs.value(key))
        self._update_restore()

    def _update_restore(self) -> None:
        self.restore.setEnabled(not all(prefs.is_default(p.key) for p in prefs.PREFERENCES))

    def restore_defaults(self) -> None:
        for preference in prefs.PREFERENCES:
            field = self.fields[preference.key]
            if isinstance(field, QCheckBox):
                field.setChecked(bool(preference.default))  # applies through _changed
            else:
                field.setValue(int(preference.default))

    def _forget_recent(self) -> None:
        from PySide6.QtCore import QSettings

        QSettings().remove(RECENT_KEY)
        self._window.welcome.refresh()


def install_settings(window) -> None:
    """Apply the stored settings to a new window and open the dialog from Edit > Settings."""
    apply_all(window)
    window.actions.settings.triggered.connect(lambda: open_settings_dialog(window))


def open_settings_dialog(window) -> SettingsDialog:
    dialog = window.findChild(SettingsDialog) or SettingsDialog(window)
    dialog.show()
    dialog.raise_()
    return dialog
