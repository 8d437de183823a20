"""Help > About shows the versions a bug report needs and the bundled data's licences."""

from __future__ import annotations

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QApplication

from segstudio import __version__
from segstudio.gui.about import AboutDialog


def test_about_dialog_lists_versions_device_and_licences(qtbot):
    import torch

    dialog = AboutDialog(None, device_preference="cpu")
    qtbot.addWidget(dialog)
    dialog.show()
    versions = dialog.versions.text()
    for name, value in (("SegStudio", __version__), ("Qt", qVersion()), ("PySide6", PySide6.__version__),
                        ("torch", torch.__version__)):
        assert f"<b>{name}</b>" in versions and f"<td>{value}</td>" in versions
    assert "CPU (" in versions  # the device asked for, in words
    licences = dialog.licences.toPlainText()
    assert "BBBC007v1" in licences and "Ljosa" in licences and "Jones" in licences
    assert "Redistribution and use in source and binary forms" in licences  # the BSD text itself


def test_about_names_a_missing_device_instead_of_failing(qtbot):
    dialog = AboutDialog(None, device_preference="cuda:99")
    qtbot.addWidget(dialog)
    assert "cuda:99" in dialog.versions.text()


def test_help_menu_opens_the_about_dialog(window, qtbot):
    qtbot.waitUntil(lambda: "AboutDialog" in getattr(window, "optional", {}), timeout=5000)
    window.optional["AboutDialog"].trigger()
    qtbot.waitUntil(lambda: any(isinstance(w, AboutDialog) and w.isVisible() for w in QApplication.topLevelWidgets()))
