"""`segstudio demo` in the window: the demo opens on a reviewed example, training starts from the
Training panel at once with the demo's small network, and the tour names the real keys."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDockWidget, QLabel

from segstudio.core.workspace.demo import prepare_demo
from segstudio.core.project import Status
from segstudio.gui.demo_tour import TOUR_OBJECT_NAME, open_demo_in, when_panels_ready


def tour_text(window) -> str:
    dock = window.findChild(QDockWidget, TOUR_OBJECT_NAME)
    assert dock is not None and dock.isVisible()
    return dock.widget().text() if isinstance(dock.widget(), QLabel) else ""


@pytest.mark.slow
def test_demo_opens_on_a_reviewed_image_and_trains_at_once(window, qtbot, tmp_path):
    root = prepare_demo(tmp_path / "demo")
    opened: list[bool] = []
    # As `segstudio demo` does it: the Training panel joins the window after its first paint.
    when_panels_ready(window, lambda: opened.append(open_demo_in(window, root, train=True)))
    qtbot.waitUntil(lambda: bool(opened), timeout=10000)
    assert opened == [True]
    panel = window.optional["TrainingPanel"]
    try:
        assert window.state.project.image(window.state.image_id).status == Status.DONE
        assert panel.isVisible() and panel.worker is not None and panel.worker.is_running()
        text = tour_text(window)
        for action in (window.actions.done, window.actions.tool_brush, window.actions.tool_eraser):
            assert f"<b>{action.shortcut().toString()}</b>" in text
        assert "training now" in text
        qtbot.waitUntil(lambda: panel.curve_lengths()["loss"] >= 2, timeout=60000)
    finally:
        panel.shutdown()
    assert panel.worker.wait(30000)


def test_demo_without_training_says_so(window, qtbot, tmp_path):
    root = prepare_demo(tmp_path / "demo")
    qtbot.waitUntil(lambda: "TrainingPanel" in getattr(window, "optional", {}), timeout=5000)
    assert open_demo_in(window, root, train=False)
    assert window.optional["TrainingPanel"].worker is None
    assert "Training is off" in tour_text(window)
