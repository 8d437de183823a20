"""The Settings dialog: grouped, with defaults, each change applied at once, and remembered."""

from __future__ import annotations

from gui_helpers import at, settle
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QCheckBox, QGroupBox, QSpinBox

from segstudio.gui import preferences as prefs
from segstudio.gui.settings_dialog import SettingsDialog
from segstudio.gui.welcome import RECENT_KEY


def open_settings(window, qtbot) -> SettingsDialog:
    qtbot.keyClick(window.canvas, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    dialog = window.findChild(SettingsDialog)
    qtbot.waitUntil(lambda: dialog is not None and dialog.isVisible())
    return dialog


def click(qtbot, checkbox: QCheckBox) -> None:
    qtbot.mouseClick(checkbox, Qt.MouseButton.LeftButton, pos=QPoint(8, checkbox.height() // 2))


def type_number(qtbot, box: QSpinBox, number: int) -> None:
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, str(number))
    qtbot.keyClick(box, Qt.Key.Key_Tab)


def test_settings_are_grouped_with_their_defaults(window, qtbot):
    QSettings().remove(prefs.ENABLED_SETTING)  # the suite's set-up turns learning off; no project is open here
    dialog = open_settings(window, qtbot)
    assert [box.title() for box in dialog.findChildren(QGroupBox)] == ["Editing", "Canvas", "Model", "Start-up"]
    for preference in prefs.PREFERENCES:
        field = dialog.fields[preference.key]
        shown = field.isChecked() if isinstance(field, QCheckBox) else field.value()
        assert shown == preference.default, preference.key
    assert not dialog.restore.isEnabled()  # nothing to restore yet


def test_a_change_applies_at_once_is_remembered_and_defaults_come_back(opened, qtbot):
    window = opened
    dialog = open_settings(window, qtbot)
    type_number(qtbot, dialog.fields[prefs.WAND_TOLERANCE], 40)
    assert window.tools.ctx.tolerance == 40 and QSettings().value(prefs.WAND_TOLERANCE, type=int) == 40
    type_number(qtbot, dialog.fields[prefs.WHEEL_ZOOM], 50)
    assert abs(window.canvas.wheel_zoom_base ** 120 - 1.5) < 1e-9
    learn = dialog.fields[prefs.ENABLED_SETTING]
    assert not learn.isChecked() and not window.instant_jobs.enabled  # off in the suite's set-up
    click(qtbot, learn)
    assert learn.isChecked() and window.instant_jobs.enabled  # the instant tier's own switch follows
    click(qtbot, learn)
    assert not window.instant_jobs.enabled
    assert dialog.restore.isEnabled()

    from segstudio.gui.main_window import MainWindow

    second = MainWindow()  # the next session starts with them
    qtbot.addWidget(second)
    assert second.tools.ctx.tolerance == 40 and abs(second.canvas.wheel_zoom_base ** 120 - 1.5) < 1e-9

    qtbot.mouseClick(dialog.restore, Qt.MouseButton.LeftButton)
    assert window.tools.ctx.tolerance == 12 and dialog.fields[prefs.WAND_TOLERANCE].value() == 12
    assert window.instant_jobs.enabled and learn.isChecked() and not dialog.restore.isEnabled()
    click(qtbot, learn)  # off again: its background jobs would race with the rest of the suite


def test_the_polygon_closes_within_the_chosen_distance(opened, qtbot):
    window = opened
    window.canvas.one_to_one()
    dialog = open_settings(window, qtbot)
    type_number(qtbot, dialog.fields[prefs.SNAP_PIXELS], 1)
    dialog.close()
    qtbot.keyClick(window.canvas, Qt.Key.Key_P)
    for x, y in ((10, 10), (30, 10), (30, 30), (13, 12)):  # 3 px from the first vertex: no longer closes
        qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, pos=at(window, x, y))
    assert (window.state.document.label == 255).all() and window.tools.tool.preview() is not None


def test_start_up_settings_list_fewer_recent_projects_and_open_at_the_first_image(window, qtbot, project_root, tmp_path):
    QSettings().setValue(RECENT_KEY, [str(project_root), str(tmp_path)])
    window.welcome.refresh()
    assert window.welcome.recent.count() == 2
    dialog = open_settings(window, qtbot)
    type_number(qtbot, dialog.fields[prefs.RECENT_COUNT], 1)
    assert window.welcome.recent.count() == 1
    click(qtbot, dialog.fields[prefs.REOPEN_LAST_IMAGE])
    assert not prefs.value(prefs.REOPEN_LAST_IMAGE)
    assert window.open_project(project_root)
    settle(qtbot, window)
    first = window.state.image_id
    window.go_to(window.image_list.neighbour(+1))
    settle(qtbot, window)
    window.session.close_project()
    assert window.open_project(project_root)
    settle(qtbot, window)
    assert window.state.image_id == first  # not the image left
    qtbot.mouseClick(dialog.clear_recent, Qt.MouseButton.LeftButton)
    assert QSettings().value(RECENT_KEY) is None and window.welcome.recent.count() == 0
