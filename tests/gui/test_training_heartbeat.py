"""The GUI event loop keeps beating while real training runs in the background (budget: 50 ms).

A 5 ms heartbeat QTimer records the gap between beats from the moment training starts
(loading data, steps, validation, saving a model, refreshing proposals) until it ends; the
largest gap minus the interval is the longest stall a person would feel. The same heartbeat
without training comes first: when the machine alone already stalls the loop beyond the budget
(a shared, overloaded CI box), the figure says nothing about training and the test is skipped
with both numbers.
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QTimer, Qt

from segstudio.bench.shapes_dataset import create_shapes_project
from segstudio.core.training import TrainConfig
from segstudio.core.training.augment import AugmentConfig
from segstudio.gui.state import AppState
from segstudio.gui.training_panel import TrainingPanel

INTERVAL_MS = 5
BUDGET_S = 0.050


def _max_stall(beats: list[float]) -> float:
    return max(b - a for a, b in zip(beats, beats[1:])) - INTERVAL_MS / 1000


@pytest.mark.slow
def test_event_loop_never_stalls_more_than_50_ms_while_training(qtbot, tmp_path):
    project = create_shapes_project(tmp_path / "p", count=6, size=64, labelled=4)
    state = AppState()
    panel = TrainingPanel(state)
    qtbot.addWidget(panel)
    state.project = project
    state.project_opened.emit(project)
    beats: list[float] = []
    timer = QTimer(interval=INTERVAL_MS, timerType=Qt.TimerType.PreciseTimer)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    timer.start()
    beats.append(time.perf_counter())
    qtbot.wait(2000)
    idle_stall = _max_stall(beats)
    if idle_stall > BUDGET_S:
        timer.stop()
        project.close()
        pytest.skip(f"the machine alone stalls the event loop {idle_stall * 1000:.0f} ms: too busy to measure")
    beats.clear()
    config = TrainConfig(arch="unet", model_options={"width": 8, "depth": 2}, epochs=3, batch_size=4,
                         patches_per_image=1, min_steps_per_epoch=8, augment=AugmentConfig(patch=64),
                         threads=1, device="cpu", deterministic=False)
    try:
        beats.append(time.perf_counter())
        with qtbot.waitSignal(state.images_changed, timeout=120_000):  # a model was kept and proposals refreshed
            panel.start(config)
        qtbot.waitUntil(lambda: not panel.worker.is_running(), timeout=120_000)
        timer.stop()
    finally:
        panel.shutdown()
        project.close()
    steps = panel.curve_lengths()["loss"]
    gaps = sorted(b - a for a, b in zip(beats, beats[1:]))
    stall = _max_stall(beats)
    print(f"\nheartbeat: {len(gaps)} beats over {beats[-1] - beats[0]:.2f} s while {steps} training steps ran; "
          f"max stall {stall * 1000:.1f} ms (idle {idle_stall * 1000:.1f} ms), p99 gap {gaps[int(0.99 * len(gaps))] * 1000:.1f} ms")
    assert steps >= 24
    assert stall <= BUDGET_S
