"""Class names are unique ignoring case; a new project's name and folder are checked before anything is written."""

from __future__ import annotations


import pytest

from segstudio.core.errors import ProjectError
from segstudio.core.project import Project
from segstudio.core.project.naming import check_class_names, check_new_location, check_project_name


def test_add_class_refuses_a_name_that_differs_only_in_case(tmp_path):
    with Project.create(tmp_path / "p", ["background", "Cell"]) as project:
        with pytest.raises(ProjectError, match="'Cell': names that differ only in case"):
            project.add_class("cell")
        with pytest.raises(ProjectError, match="'Cell'"):
            project.add_class("  CELL ")
        with pytest.raises(ProjectError, match="already a class named 'background'$"):
            project.add_class("background")
        added = project.add_class("nucleus")
        with pytest.raises(ProjectError, match="differ only in case"):
            project.rename_class(added.id, "BACKGROUND")
        project.rename_class(added.id, "Nucleus")  # its own name in another case is fine
        assert [c.name for c in project.classes()] == ["background", "Cell", "Nucleus"]


def test_create_refuses_case_only_duplicates_and_empty_names_and_writes_nothing(tmp_path):
    for classes, message in ((["background", "Cell", "cell"], "differ only in case"),
                             (["background", " "], "needs a name"), ([], "at least one class")):
        with pytest.raises(ProjectError, match=message):
            Project.create(tmp_path / "p", classes)
        assert not (tmp_path / "p").exists()
    assert check_class_names([" a ", "b"]) == ["a", "b"]


def test_project_names_that_cannot_be_folders_are_refused():
    assert check_project_name("  cells 2024 ") == "cells 2024"
    for name, message in (("", "give the project a name"), ("a/b", "leave out"), ("..", "cannot be a folder"),
                          ("x" * 300, "too long")):
        with pytest.raises(ProjectError, match=message):
            check_project_name(name)


def test_a_new_location_must_be_new_or_empty_and_inside_a_folder(tmp_path):
    assert check_new_location(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    (tmp_path / "empty").mkdir()
    assert check_new_location(tmp_path / "empty") == tmp_path / "empty"
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("keep me")
    with pytest.raises(ProjectError, match="exists and is not empty"):
        check_new_location(tmp_path / "full")
    (tmp_path / "file").write_text("")
    with pytest.raises(ProjectError, match="is a file, not a folder"):
        check_new_location(tmp_path / "file" / "p")
    with pytest.raises(ProjectError, match="exists and is not empty"):
        Project.create(tmp_path / "full")
    assert (tmp_path / "full" / "x.txt").read_text() == "keep me"


def test_a_folder_without_write_permission_is_refused_and_nothing_is_made(unwritable):
    with pytest.raises(ProjectError, match="cannot create a project in"):
        Project.create(unwritable / "p")
    assert not (unwritable / "p").exists()
