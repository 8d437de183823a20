"""The live refresh in the real window: strokes re-propose the open image in the background, and the
ladder round after a done image proposes on the others with the instant classifier."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import key, settle, stroke
from PySide6.QtCore import QSettings, Qt

from segstudio.core.project import Source, Status


@pytest.fixture
def live_window(window, project_root, qtbot):
    QSettings().setValue("instant/enabled", True)
    assert window.open_project(project_root)
    settle(qtbot, window)
    window.canvas.fit()
    return window


def test_strokes_re_propose_the_open_image_and_keep_what_was_painted(live_window, qtbot):
    window = live_window
    doc = window.state.document
    key(qtbot, window, Qt.Key.Key_B)
    window.brush_size.setValue(2)
    key(qtbot, window, Qt.Key.Key_2)  # foreground: the bright square (x 48..87, y 8..55)
    with qtbot.waitSignal(window.instant_jobs.refreshed, timeout=90_000):
        stroke(qtbot, window, [(60, 20), (70, 30), (75, 45)])
        key(qtbot, window, Qt.Key.Key_1)  # background: the dark left half
        stroke(qtbot, window, [(10, 10), (20, 30), (30, 50)])
    painted = doc.source == Source.HUMAN
    assert painted.any() and (doc.label[painted & (np.arange(96)[None, :] >= 48)] == 1).all()
    proposed = doc.source == Source.PROPOSAL
    assert proposed.sum() > 0.8 * doc.label.size  # everything nobody painted got a proposal
    assert (doc.label[20:50, 55:85][proposed[20:50, 55:85]] == 1).mean() > 0.9  # inside the square
    assert (doc.label[10:60, 2:40][proposed[10:60, 2:40]] == 0).mean() > 0.9  # the dark half
    assert "live refresh" in doc.history_names[0]
    assert window.instant_jobs.badge.text().startswith("No model yet")  # live models are not versions
    assert "instant classifier" in window.statusBar().currentMessage()


def test_marking_done_trains_a_version_that_proposes_on_the_next_images(live_window, qtbot):
    window = live_window
    project = window.state.project
    first = window.state.image_id
    key(qtbot, window, Qt.Key.Key_B)
    window.brush_size.setValue(3)
    key(qtbot, window, Qt.Key.Key_2)
    stroke(qtbot, window, [(60, 20), (70, 40)])
    key(qtbot, window, Qt.Key.Key_1)
    stroke(qtbot, window, [(10, 10), (20, 40)])
    with qtbot.waitSignal(window.instant_jobs.proposals_refreshed, timeout=60_000):
        key(qtbot, window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # mark done
    assert project.image(first).status == Status.DONE
    instants = [m for m in project.models() if m.arch == "instant"]
    assert instants and first in instants[-1].metrics["image_ids"]
    others = [r for r in project.images() if r.status == Status.NEW and r.id != window.state.image_id]
    assert others and all((project.read_source(r.id) == Source.PROPOSAL).any() for r in others)
    assert window.instant_jobs.badge.text() == f"Proposing: instant classifier {instants[-1].version}"
