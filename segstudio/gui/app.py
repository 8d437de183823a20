"""Start the Qt application. Torch is never imported here: the window shows first.

`SEGSTUDIO_REPORT_SHOWN=1` makes the app print "window-shown" once the main window is exposed
on screen, then quit: `segstudio bench ui` times a subprocess from start to that line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from segstudio import __version__

REPORT_SHOWN_ENV = "SEGSTUDIO_REPORT_SHOWN"


def create_application():
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from segstudio.resources_path import resource_path

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("SegStudio")
    app.setOrganizationName("SegStudio")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("io.github.segstudio.SegStudio")  # Wayland matches the window to the .desktop entry
    app.setWindowIcon(QIcon(str(resource_path("icons", "segstudio.svg"))))
    return app


def run_app(project: str | None = None, device: str | None = None) -> int:
    app = create_application()
    from segstudio.gui.main_window import MainWindow

    window = MainWindow(device=device)
    if os.environ.get(REPORT_SHOWN_ENV):
        _report_when_exposed(app, window)
    window.show()
    if project:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, lambda: window.open_project(Path(project)))
    return app.exec()


def _report_when_exposed(app, window) -> None:
    from PySide6.QtCore import QEvent, QObject

    class ExposeWatcher(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Expose and watched.isExposed():
                print("window-shown", flush=True)
                app.quit()
            return False

    watcher = ExposeWatcher(window)
    window.winId()  # create the native window so its expose events can be watched
    window.windowHandle().installEventFilter(watcher)

