"""The demo's first minute: open the demo project, start training at once, say what to try.

`segstudio demo` (and `make run`) calls `run_demo_app`. The tour is a dismissable banner at the
top of the window; it names the real shortcut keys, read from the window's actions, so it
never disagrees with them. Training starts through the Training panel's own public API, so the
person sees the same plot, pause and stop as when they start it themselves.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QLabel

TOUR_OBJECT_NAME = "dock_demo_tour"


def run_demo_app(root: Path, *, device: str | None = None, train: bool = True) -> int:
    """Open the app on the demo project at `root`, start training, show the tour; run Qt's loop."""
    from segstudio.gui.app import create_application
    from segstudio.gui.main_window import MainWindow

    app = create_application()
    window = MainWindow(device=device)
    window.show()
    when_panels_ready(window, lambda: open_demo_in(window, root, train=train))
    return app.exec()


def when_panels_ready(window, callback, timeout_ms: int = 10_000) -> None:
    """Call `callback` once the window has added the other areas' panels (Training among them).

    The window adds them after its first paint, so they cost nothing before it shows; after
    `timeout_ms` the callback runs anyway and the tour says what is missing.
    """
    timer = QTimer(window, interval=50)
    waited = [0]

    def check() -> None:
        waited[0] += timer.interval()
        if hasattr(window, "optional") or waited[0] >= timeout_ms:
            timer.stop()
            callback()

    timer.timeout.connect(check)
    timer.start()


def open_demo_in(window, root: Path, *, train: bool = True) -> bool:
    """Open the demo project in `window`, show the tour and (optionally) start training."""
    if not window.open_project(Path(root)):
        return False
    from segstudio.core.project import Status

    reviewed = window.state.project.images(status=Status.DONE)
    if reviewed:  # start on an example of a finished mask; the new images then all get proposals
        window.go_to(reviewed[0].id)
    training = start_training(window) if train else "Training is off (--no-train): start it in the Training panel."
    show_tour(window, training)
    return True


def start_training(window) -> str:
    """Start background training from the Training panel; returns a line for the tour."""
    panel = getattr(window, "optional", {}).get("TrainingPanel")
    if panel is None:
        return ("The Training panel is not available in this build, so nothing trains yet; "
                "`segstudio train` trains from the command line.")
    dock = panel.parentWidget()
    if isinstance(dock, QDockWidget):  # the plot is part of the tour: on screen, and tall enough
        dock.show()
        dock.raise_()
        tabs = window.tabifiedDockWidgets(dock)
        neighbours = [d for d in getattr(window, "docks", {}).values() if d not in tabs and d.isVisible()
                      and window.dockWidgetArea(d) == window.dockWidgetArea(dock)]
        window.resizeDocks([*neighbours, dock], [120] * len(neighbours) + [560], Qt.Orientation.Vertical)
    panel.start()  # the demo's training settings are stored in its project
    return ("An instant pixel classifier learns from them in seconds and proposes on the other eleven images; "
            "a small network is <b>training now</b> as well (Training panel, right) and takes over when its "
            "proposals are surely better (the status bar says which model proposes).")


def _keys(window, name: str) -> str:
    action = getattr(window.actions, name)
    return action.shortcut().toString() or action.text().replace("&", "")


def tour_html(window, training_line: str) -> str:
    done, brush, eraser = _keys(window, "done"), _keys(window, "tool_brush"), _keys(window, "tool_eraser")
    uncertain, heat = _keys(window, "next_uncertain"), _keys(window, "toggle_heatmap")
    return (
        "<b>Welcome to the SegStudio demo</b>: 14 fluorescence crops of cell nuclei (BBBC007v1). "
        f"Three are already reviewed. {training_line}<br>"
        "<b>Try:</b> 1. open a <i>new</i> image in the Images list and look at the proposal "
        "(nucleus blue, boundary orange); "
        f"2. correct it with the brush <b>{brush}</b> or eraser <b>{eraser}</b> (keys <b>1</b>-<b>3</b> "
        f"pick the class); 3. mark it done with <b>{done}</b>; "
        "4. the proposals learn from every correction: while you paint, the open image's unreviewed "
        "pixels are proposed again, and when you mark it done the other images get new proposals. "
        f"Your corrections reach the network's training too (Training plot). <b>{uncertain}</b> jumps to the image the model is least sure "
        f"about; <b>{heat}</b> shows where. <b>F1</b> lists every shortcut."
    )


def show_tour(window, training_line: str) -> QDockWidget:
    """The tour banner, docked at the top of the window; its x button closes it."""
    dock = window.findChild(QDockWidget, TOUR_OBJECT_NAME)
    if dock is None:
        dock = QDockWidget("Demo tour", window)
        dock.setObjectName(TOUR_OBJECT_NAME)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable)
        window.addDockWidget(Qt.DockWidgetArea.TopDockWidgetArea, dock)
    label = QLabel(tour_html(window, training_line))
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setContentsMargins(10, 6, 10, 8)
    label.setStyleSheet("QLabel { background: #1f3b5c; color: #e8f2ff; }")
    dock.setWidget(label)
    # A banner, not a pane: as tall as its text needs at the window's width (less the margins).
    dock.setMaximumHeight(label.heightForWidth(max(480, window.width() - 80)) + 40)
    dock.show()
    return dock
