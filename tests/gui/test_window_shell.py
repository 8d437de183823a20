"""The window around the canvas: zoom and pan input, remembered settings, bad images, other panels."""

from __future__ import annotations

import importlib
import sys

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QLabel

from gui_helpers import at, key, settle, stroke
from segstudio.core.project import Project
from segstudio.gui import optional_panels


def wheel(canvas, pos: QPoint, delta: int, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    event = QWheelEvent(QPointF(pos), QPointF(canvas.mapToGlobal(pos)), QPoint(0, 0), QPoint(0, delta),
                        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, event)


def test_wheel_zooms_about_the_cursor_and_middle_drag_pans(opened, qtbot):
    canvas = opened.canvas
    anchor = at(opened, 30, 20)
    before = canvas.to_image(QPointF(anchor))
    scale = canvas.scale
    wheel(canvas, anchor, 120)
    assert canvas.scale > scale
    after = canvas.to_image(QPointF(anchor))
    assert abs(after[0] - before[0]) < 0.01 and abs(after[1] - before[1]) < 0.01  # same pixel under the cursor

    offset = canvas.offset
    qtbot.mousePress(canvas, Qt.MouseButton.MiddleButton, pos=QPoint(100, 100))
    qtbot.mouseMove(canvas, QPoint(140, 90))
    qtbot.mouseRelease(canvas, Qt.MouseButton.MiddleButton, pos=QPoint(140, 90))
    assert (canvas.offset - offset).toPoint() == QPoint(40, -10)
    assert (opened.state.document.label == 255).all()  # panning never paints


def test_ctrl_wheel_sizes_the_brush(opened):
    opened.brush_size.setValue(16)
    wheel(opened.canvas, at(opened, 10, 10), 120, Qt.KeyboardModifier.ControlModifier)
    assert opened.brush_size.value() == 20


def test_settings_survive_a_restart(qtbot, opened):
    from segstudio.gui.main_window import MainWindow

    opened.brush_size.setValue(40)
    opened.opacity.setValue(30)
    key(qtbot, opened, Qt.Key.Key_E)
    opened.close()
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.brush_size.value() == 40 and again.opacity.value() == 30
    assert again.tools.tool_name == "eraser"
    assert again.welcome.recent.count() == 1


def test_an_unreadable_image_gives_a_message_and_work_goes_on(opened, qtbot):
    window = opened
    first = window.state.image_id
    stroke(qtbot, window, [(10, 10), (20, 10)])
    broken = window.state.project.images()[1]
    broken.path.write_bytes(b"this is not a png")
    window.go_to(broken.id)
    settle(qtbot, window)
    assert window.state.image_id == first
    assert broken.name in window.message_bar.text()
    stroke(qtbot, window, [(10, 30), (20, 30)])
    assert window.state.document.label[30, 15] == 1


def test_crash_leftovers_are_recovered_with_a_notice(window, project_root, qtbot):
    from segstudio.core.autosave import Autosaver
    from segstudio.core.document import MaskDocument

    with Project.open(project_root) as project:  # an earlier session that died before folding
        first = project.images()[0]
        doc = MaskDocument(first.id, project.read_label(first.id), project.read_source(first.id))
        saver = Autosaver(project, doc)
        doc.paint_segment((5, 5), (25, 5), 2, 1)
        saver.flush()
    assert window.open_project(project_root)
    settle(qtbot, window)
    assert "Recovered" in window.message_bar.text()
    assert window.state.document.label[5, 15] == 1


def test_other_areas_panels_load_after_the_window_and_a_broken_one_is_skipped(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QDockWidget

    from segstudio.gui.main_window import MainWindow

    (tmp_path / "broken_panel.py").write_text("raise RuntimeError('half written')\n")
    (tmp_path / "notes_panel.py").write_text(
        "from PySide6.QtWidgets import QLabel\n\n\n"
        "class NotesPanel(QLabel):\n"
        "    def __init__(self, state):\n"
        "        super().__init__('notes')\n"
        "        self.state = state\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(optional_panels, "PANELS", (
        optional_panels.PanelSpec(lambda: importlib.import_module("broken_panel").BrokenPanel, "BrokenPanel",
                                  "Broken", "dock"),
        optional_panels.PanelSpec(lambda: importlib.import_module("notes_panel").NotesPanel, "NotesPanel",
                                  "Notes", "dock"),
        optional_panels.PANELS[-1],  # About
    ))

    def open_window():
        window = MainWindow()
        qtbot.addWidget(window)
        with qtbot.waitSignal(window.panels_ready):
            window.show()
        return window, window.findChild(QDockWidget, "dock_NotesPanel")

    window, dock = open_window()
    assert "Broken is not available" in window.status.currentMessage()
    assert "AboutDialog" in window.optional and window.optional["NotesPanel"].state is window.state
    assert not dock.isHidden() and dock in window.tabifiedDockWidgets(window.docks["history"])
    dock.close()
    window.close()
    window, dock = open_window()
    assert dock.isHidden()  # closed last time, so closed now
    for name in ("broken_panel", "notes_panel"):
        sys.modules.pop(name, None)


def test_space_drag_pans_and_the_status_bar_follows_the_cursor(opened, qtbot):
    canvas = opened.canvas
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    offset = canvas.offset
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(200, 200))
    qtbot.mouseMove(canvas, QPoint(230, 220))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(230, 220))
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    assert (canvas.offset - offset).toPoint() == QPoint(30, 20)
    assert (opened.state.document.label == 255).all()
    qtbot.mouseMove(canvas, at(opened, 12, 7))
    r, g, b = opened.session.image.raw[7, 12][:3]
    assert opened.status.position.text() == f"x 12  y 7  value {r}, {g}, {b}"
    assert opened.status.class_under.text() == "unlabelled"
    assert opened.status.autosave.text() == "All changes saved"


def test_a_long_message_is_cut_to_fit_whole_in_its_tooltip_and_moves_nothing(opened, qtbot):
    opened.resize(900, 700)
    QApplication.processEvents()
    status, canvas = opened.status, opened.canvas
    canvas_at, zoom_at = canvas.mapTo(opened, QPoint(0, 0)), status.zoom.geometry()
    long = "Kept a better network v0007 (validation mIoU 0.91 against 0.88): it proposes from the next image on " * 2
    status.showMessage(long, 5000)
    QApplication.processEvents()
    shown = status.message.text()
    assert shown.endswith("\u2026") and long.startswith(shown[:-1]) and len(shown) < len(long)
    assert status.message.toolTip() == long and status.currentMessage() == long
    assert canvas.mapTo(opened, QPoint(0, 0)) == canvas_at and status.zoom.geometry() == zoom_at
    status.showMessage("Saved.", 5000)
    assert status.message.text() == "Saved." and status.message.toolTip() == ""
    status.clearMessage()
    assert status.currentMessage() == "" and status.message.text() == ""
    badge = opened.instant_jobs.badge  # cut too at this width, its text first in its tooltip
    assert badge.text().endswith("\u2026") and badge.toolTip().startswith(badge.full_text + "\n\n")


def test_the_painting_class_and_the_done_count_lead_the_status_fields(opened):
    opened.resize(1400, 800)
    QApplication.processEvents()
    status = opened.status
    order = [status.message, opened.review.current_class, opened.review.counter, status.position, status.zoom]
    lefts = [widget.mapTo(status, QPoint(0, 0)).x() for widget in order]
    assert lefts == sorted(lefts), lefts


def test_the_window_opens_without_torch_or_plot_libraries(tmp_path):
    """Launch budget: heavy imports wait until after the window has painted."""
    import subprocess

    code = (
        "import sys\n"
        "from segstudio.gui.app import create_application\n"
        "from segstudio.gui.main_window import MainWindow\n"
        "app = create_application()\n"
        "window = MainWindow()\n"
        "heavy = [m for m in ('torch', 'pyqtgraph', 'torchvision') if m in sys.modules]\n"
        "print('heavy:', heavy)\n"
    )
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "heavy: []" in out.stdout, out.stdout + out.stderr


def test_other_areas_menu_entries_come_before_quit(window):
    texts = [action.text().replace("&", "") for action in window.menus["&File"].actions() if not action.isSeparator()]
    assert texts[-1] == "Quit"
    assert any(text.startswith("Export") for text in texts)


def test_a_closed_window_is_freed_without_the_cycle_collector(qapp):
    """Regression: window.review -> ReviewControls -> window was a reference cycle, so only the
    cycle collector freed the window, on whatever thread ran it; a worker thread doing so
    deadlocked with the GUI thread inside Qt (seen once in 20 runs of this suite)."""
    import gc
    import weakref

    from PySide6.QtCore import QCoreApplication, QEvent

    from segstudio.gui.main_window import MainWindow

    gc.collect()
    gc.disable()
    try:
        window = MainWindow()
        window.show()
        QCoreApplication.processEvents()
        ref = weakref.ref(window)
        window.close()
        window.deleteLater()
        del window
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        assert ref() is None, [type(r) for r in gc.get_referrers(ref())]
    finally:
        gc.enable()
