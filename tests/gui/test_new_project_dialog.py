"""New Project in one step: typed into the dialog with real keys and clicks; bad input is said in
the dialog, nothing typed is lost, and the open project stays open until the new one exists."""

from __future__ import annotations


import pytest
from gui_helpers import settle
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from segstudio.gui.new_project_dialog import NewProjectDialog


def open_dialog(window, qtbot) -> NewProjectDialog:
    window.actions.new_project.trigger()
    qtbot.waitUntil(lambda: window.findChild(NewProjectDialog) is not None and window.findChild(NewProjectDialog).isVisible())
    return window.findChild(NewProjectDialog)


def type_into(qtbot, widget, text: str) -> None:
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClick(widget, Qt.Key.Key_Delete)
    qtbot.keyClicks(widget, text)


def set_classes(qtbot, dialog, names: list[str]) -> None:
    dialog.classes.setFocus()
    dialog.classes.selectAll()
    qtbot.keyClick(dialog.classes, Qt.Key.Key_Delete)
    for index, name in enumerate(names):
        if index:
            qtbot.keyClick(dialog.classes, Qt.Key.Key_Return)
        qtbot.keyClicks(dialog.classes, name)


def click_create(qtbot, dialog) -> None:
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)


def test_a_new_project_with_name_location_images_and_classes_opens(window, qtbot, tmp_path, image_folder, monkeypatch):
    dialog = open_dialog(window, qtbot)
    assert not dialog.create_button.isEnabled() and dialog.problem.text() == ""  # no scolding before typing
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(image_folder))
    qtbot.mouseClick(next(b for b in dialog.findChildren(type(dialog.create_button)) if b.text() == "Add folder..."),
                     Qt.MouseButton.LeftButton)
    assert dialog.image_paths() == [image_folder] and dialog.name.text() == "pictures"  # named after the folder
    type_into(qtbot, dialog.name, "cells")
    type_into(qtbot, dialog.location, str(tmp_path / "projects"))
    assert dialog.target.text().endswith(str(tmp_path / "projects" / "cells"))
    set_classes(qtbot, dialog, ["background", "nucleus", "membrane"])
    assert dialog.create_button.isEnabled() and dialog.problem.text() == ""
    click_create(qtbot, dialog)
    settle(qtbot, window)
    project = window.state.project
    assert project is not None and project.root == tmp_path / "projects" / "cells"
    assert project.class_names() == ["background", "nucleus", "membrane"]
    assert [r.name for r in window.image_list.model.records] == ["a_first.png", "b_second.png", "c_third.png"]
    assert window.state.document is not None and "cells" in window.windowTitle()
    assert not dialog.isVisible()
    assert open_dialog(window, qtbot).location.text() == str(tmp_path / "projects")  # remembered


@pytest.mark.parametrize("case", ["non-empty folder", "empty name", "case-only duplicate", "blank class"])
def test_bad_input_is_said_in_the_dialog_and_nothing_is_lost(opened, qtbot, tmp_path, case):
    before = opened.state.project
    dialog = open_dialog(opened, qtbot)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("keep me")
    type_into(qtbot, dialog.location, str(tmp_path))
    type_into(qtbot, dialog.name, "busy" if case == "non-empty folder" else "fresh")
    classes = {"case-only duplicate": ["background", "Cell", "cell"], "blank class": ["background", "  ", "x"]}
    set_classes(qtbot, dialog, classes.get(case, ["background", "cell"]))
    if case == "empty name":
        type_into(qtbot, dialog.name, "x")
        qtbot.keyClick(dialog.name, Qt.Key.Key_Backspace)
    expected = {"non-empty folder": "exists and is not empty", "empty name": "Give the project a name",
                "case-only duplicate": "'Cell': names that differ only in case", "blank class": "needs a name"}[case]
    if case == "blank class":  # blank lines are skipped, not an error: only real names count
        assert dialog.create_button.isEnabled()
        return
    assert expected in dialog.problem.text() and not dialog.create_button.isEnabled()
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)  # Enter does not create either
    assert dialog.isVisible() and opened.state.project is before and not before.readonly
    assert (tmp_path / "busy" / "notes.txt").read_text() == "keep me" and not (tmp_path / "fresh").exists()
    assert dialog.class_names() == classes.get(case, ["background", "cell"])  # what was typed is still there


def test_a_failed_create_keeps_the_open_project_and_says_why(opened, qtbot, unwritable):
    before, image_id = opened.state.project, opened.state.image_id
    dialog = open_dialog(opened, qtbot)
    type_into(qtbot, dialog.location, str(unwritable))
    type_into(qtbot, dialog.name, "segstudio-test-project")
    if dialog.create_button.isEnabled():  # root: only the file system knows, and creating says it
        click_create(qtbot, dialog)
        assert dialog.problem.text().startswith("The project was not created: cannot create a project in")
    else:
        assert "you may not write into" in dialog.problem.text()
    assert dialog.isVisible() and dialog.name.text() == "segstudio-test-project"
    assert opened.state.project is before and opened.state.image_id == image_id and opened.state.document is not None
    assert opened.message_bar.text() == "" and not (unwritable / "segstudio-test-project").exists()
