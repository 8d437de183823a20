"""`segstudio bench heartbeat`: the longest GUI event-loop stall while real training runs (budget 50 ms).

A 5 ms heartbeat QTimer records when it fires, first with nothing running (the machine's own
stall), then from the moment training starts from the Training panel (loading data, steps,
validation, saving a model, refreshing proposals) until it ends. The largest gap between two
beats minus the interval is the longest stall a person would feel; the idle figure beside it
says how much of that the machine alone causes (on a busy shared box, most of it).

tests/gui/test_training_heartbeat.py runs the same measurement and asserts only what cannot
depend on timing; the figures are this benchmark's (docs/architecture.md, budgets).
Only the standard library is imported at module level (the CLI imports this to parse options).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

INTERVAL_MS = 5
BUDGET_MS = 50.0


@dataclass
class Heartbeat:
    idle: list[float] = field(default_factory=list)  # beat times with nothing running (perf_counter)
    beats: list[float] = field(default_factory=list)  # beat times from the start of training to its end
    steps: list[float] = field(default_factory=list)  # when each training step's event reached the GUI thread
    images_changed: bool = False  # a model was kept and proposals refreshed

    @staticmethod
    def max_stall_ms(beats: list[float]) -> float:
        gaps = [b - a for a, b in zip(beats, beats[1:])]
        return max(0.0, max(gaps, default=0.0) * 1000 - INTERVAL_MS)

    def beats_between_steps(self) -> int:
        """Beats after the first step arrived and before the last: 0 if training held the GUI thread."""
        if len(self.steps) < 2:
            return 0
        return sum(self.steps[0] < beat < self.steps[-1] for beat in self.beats)

    def figures(self) -> dict[str, float | int]:
        gaps = sorted(b - a for a, b in zip(self.beats, self.beats[1:]))
        return {
            "max_stall_ms": round(self.max_stall_ms(self.beats), 1),
            "idle_max_stall_ms": round(self.max_stall_ms(self.idle), 1),
            "p99_gap_ms": round(gaps[int(0.99 * (len(gaps) - 1))] * 1000, 1) if gaps else 0.0,
            "beats": len(self.beats),
            "steps": len(self.steps),
            "seconds": round(self.beats[-1] - self.beats[0], 2) if self.beats else 0.0,
            "budget_ms": BUDGET_MS,
        }


def heartbeat_while_training(state, panel, config, idle_s: float = 2.0, timeout_s: float = 120.0) -> Heartbeat:
    """Train from `panel` (a TrainingPanel on `state`'s open project) while a heartbeat runs."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest

    from segstudio.core.training import StepEvent

    record = Heartbeat()
    timer = QTimer(interval=INTERVAL_MS, timerType=Qt.TimerType.PreciseTimer)
    target = record.idle
    timer.timeout.connect(lambda: target.append(time.perf_counter()))
    timer.start()
    target.append(time.perf_counter())
    QTest.qWait(round(idle_s * 1000))
    target = record.beats
    state.images_changed.connect(lambda: setattr(record, "images_changed", True))
    try:
        target.append(time.perf_counter())
        panel.start(config)
        panel.worker.event.connect(lambda event: isinstance(event, StepEvent) and record.steps.append(time.perf_counter()))
        deadline = time.perf_counter() + timeout_s
        while (panel.worker.is_running() or not record.images_changed) and time.perf_counter() < deadline:
            QTest.qWait(20)
    finally:
        timer.stop()
        panel.shutdown()
    return record


def add_arguments(parser) -> None:
    parser.add_argument("--images", type=int, default=6, help="images in the generated project (default 6)")
    parser.add_argument("--size", type=int, default=64, help="image side (default 64)")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")


def tiny_config(epochs: int = 3, patch: int = 64):
    from segstudio.core.training import TrainConfig
    from segstudio.core.training.augment import AugmentConfig

    return TrainConfig(arch="unet", model_options={"width": 8, "depth": 2}, epochs=epochs, batch_size=4,
                       patches_per_image=1, min_steps_per_epoch=8, augment=AugmentConfig(patch=patch),
                       threads=1, device="cpu", deterministic=False)


def run(args) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from segstudio.bench.shapes_dataset import create_shapes_project
    from segstudio.gui.state import AppState
    from segstudio.gui.training_panel import TrainingPanel

    app = QApplication.instance() or QApplication([])  # noqa: F841 - the event loop the heartbeat runs in
    with tempfile.TemporaryDirectory(prefix="segstudio-bench-heartbeat-") as folder:
        project = create_shapes_project(Path(folder) / "p", count=args.images, size=args.size,
                                        labelled=max(1, args.images * 2 // 3))
        state = AppState()
        panel = TrainingPanel(state)
        state.project = project
        state.project_opened.emit(project)
        try:
            figures = heartbeat_while_training(state, panel, tiny_config(args.epochs, min(64, args.size))).figures()
        finally:
            project.close()
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"heartbeat: {figures['beats']} beats over {figures['seconds']:.2f} s while {figures['steps']} training "
              f"steps ran; max stall {figures['max_stall_ms']:.1f} ms (idle {figures['idle_max_stall_ms']:.1f} ms), "
              f"p99 gap {figures['p99_gap_ms']:.1f} ms; budget {BUDGET_MS:.0f} ms")
    return 0
