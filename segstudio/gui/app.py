"""Start the Qt application. Torch is never imported here: the window shows first."""

from __future__ import annotations

import sys

from segstudio import __version__


def run_app(project: str | None = None, device: str | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("SegStudio")
    app.setOrganizationName("SegStudio")
    app.setApplicationVersion(__version__)
    window = QMainWindow()
    window.setWindowTitle("SegStudio")
    window.setCentralWidget(QLabel("Welcome to SegStudio"))
    window.resize(1280, 800)
    window.show()
    return app.exec()
