"""The welcome page: the demo, a new project from a folder, recent projects."""

from __future__ import annotations

from PySide6.QtWidgets import QPushButton

from gui_helpers import settle


def button(window, text: str) -> QPushButton:
    return next(b for b in window.welcome.findChildren(QPushButton) if b.text().startswith(text))


def test_open_the_demo_from_the_welcome_page(window, qtbot, tmp_path, monkeypatch):
    from segstudio.core.workspace import demo

    monkeypatch.setattr(demo, "default_demo_dir", lambda: tmp_path / "demo")
    assert window.pages.currentWidget() is window.welcome
    button(window, "Open the demo").click()
    settle(qtbot, window)
    assert window.state.project is not None and window.state.project.root == tmp_path / "demo"
    assert window.image_list.model.rowCount() == len(window.state.project.images()) > 0
    assert window.pages.currentWidget() is window.canvas and window.state.document is not None


def test_new_project_from_a_folder_lists_its_images(window, qtbot, tmp_path, image_folder):
    assert window.create_project(tmp_path / "fresh", image_folder)
    settle(qtbot, window)
    assert [r.name for r in window.image_list.model.records] == ["a_first.png", "b_second.png", "c_third.png"]
    assert window.state.image_id == window.image_list.model.records[0].id
    assert "fresh" in window.windowTitle()


def test_before_a_project_nothing_that_edits_is_enabled(window, qtbot, project_root):
    assert not window.actions.tool_brush.isEnabled() and not window.actions.done.isEnabled()
    assert not any(button.isEnabled() for button in window.class_panel.buttons.values())
    assert window.history.count() == 0  # no "(as opened)" row without an image
    assert window.welcome.recent.isHidden()  # no empty box on a first launch
    assert window.open_project(project_root)
    settle(qtbot, window)
    assert window.actions.tool_brush.isEnabled() and window.class_panel.buttons["add"].isEnabled()
    assert window.history.count() == 1
    window.session.close_project()
    assert not window.actions.tool_brush.isEnabled() and window.history.count() == 0
    assert not window.welcome.recent.isHidden()


def test_nothing_of_the_old_project_stays_after_opening_another(window, qtbot, tmp_path, image_folder):
    from PySide6.QtWidgets import QDockWidget

    from segstudio.gui.demo_tour import TOUR_OBJECT_NAME, show_tour

    assert window.create_project(tmp_path / "one", image_folder)
    settle(qtbot, window)
    show_tour(window, "training line")
    window.message_bar.show_message("an error about project one")
    assert window.create_project(tmp_path / "two", None)
    assert window.message_bar.text() == ""
    assert window.findChild(QDockWidget, TOUR_OBJECT_NAME).isHidden()
