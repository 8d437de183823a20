"""GUI test set-up: settings isolated per test, a tiny real project, a real main window."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import make_image, settle
from PySide6.QtCore import QCoreApplication, QSettings


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory, qapp):
    """Each test writes QSettings into its own folder: no test sees another's recent projects."""
    folder = tmp_path_factory.mktemp("settings")
    QCoreApplication.setOrganizationName("SegStudioTests")
    QCoreApplication.setApplicationName("SegStudioTests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    QSettings().clear()
    # The instant tier's background jobs re-propose after every stroke and every done image; tests
    # of other features would race with them. tests/gui/test_live_refresh.py turns them on.
    QSettings().setValue("instant/enabled", False)
    yield folder


@pytest.fixture
def image_folder(tmp_path) -> Path:
    folder = tmp_path / "pictures"
    folder.mkdir()
    for index, name in enumerate(("a_first.png", "b_second.png", "c_third.png")):
        make_image(folder / name, seed=index)
    return folder


@pytest.fixture
def project_root(tmp_path, image_folder) -> Path:
    """A closed project with three 96 x 64 images and classes background / foreground / other."""
    from segstudio.core.project import Project

    root = tmp_path / "project"
    with Project.create(root, ("background", "foreground", "other")) as project:
        project.add_images([image_folder])
    return root


@pytest.fixture
def window(qtbot):
    from segstudio.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: hasattr(win, "optional"))  # the other areas' docks are in: layout settled
    yield win
    if win.state.project is not None:
        try:
            win.session.close_project()
        except Exception:  # noqa: BLE001 - a test that broke saving on purpose
            pass


@pytest.fixture
def opened(window, project_root, qtbot):
    """The window with the tiny project open and its first image on the canvas."""
    assert window.open_project(project_root)
    settle(qtbot, window)
    assert window.state.document is not None
    window.canvas.fit()
    return window
