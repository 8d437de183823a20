"""Background training for the app: the trainer in a child process, events to the GUI.

A worker thread (segstudio.gui.workers.GeneratorWorker) starts the training process
(segstudio.core.training.remote.ChildTraining) and relays its events, which arrive on the GUI
thread as the `event` signal. Pause holds the trainer between two steps; stop lets it finish
its step and return (the last kept model stays loadable: versions are written atomically).
When a better model is kept and it is the one proposing (no version is pinned), proposals of
images nobody has reviewed yet are refreshed in a second worker (never touching reviewed
pixels, never the image open in the editor, never a proposal from a model at least as good).

Interactive predictions share the CPU or GPU with training: whoever predicts takes a hold
(`hold_training()`), and every running training pauses between steps until all holds are
released.

Why a process and not a thread: with the trainer in a thread of the GUI process, the GUI
thread waited for the GIL while the trainer held it, and the heartbeat test measured event-loop
stalls of 150-280 ms on the 2-core machine (a lower thread priority made it worse: the GIL
holder was descheduled longer). In a child process the two never share a GIL; see the note in
segstudio/core/training/remote.py and tests/gui/test_training_heartbeat.py.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Signal

from segstudio.gui.workers import GeneratorWorker

_holds: set[int] = set()
_workers: list[TrainingWorker] = []
_lock = threading.Lock()


class TrainingHold:
    """Training stays paused while this hold is active; `release()` (or `with`) ends it."""

    def __init__(self) -> None:
        with _lock:
            _holds.add(id(self))
            workers = list(_workers)
        for worker in workers:
            worker._apply_pause()

    def release(self) -> None:
        with _lock:
            _holds.discard(id(self))
            workers = list(_workers)
        for worker in workers:
            worker._apply_pause()

    def __enter__(self) -> TrainingHold:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def hold_training() -> TrainingHold:
    """Pause every running training between steps, e.g. while an interactive prediction runs."""
    return TrainingHold()


def default_threads() -> int:
    """Torch threads for training in the app: every core but one, which the GUI keeps."""
    return max(1, (os.cpu_count() or 2) - 1)


class TrainingWorker(QObject):
    event = Signal(object)  # every trainer event (Progress, StepEvent, ValidationEvent, ...)
    model_kept = Signal(str)  # version of a better model just written
    proposals_refreshed = Signal(int)  # number of unreviewed images that got new proposals
    finished = Signal(object)  # TrainResult, or None after a failure
    failed = Signal(str)
    state_changed = Signal(str)  # "running", "paused", "stopping", "idle"

    def __init__(self, project, *, device: str | None = None, skip_image=lambda: None, parent: QObject | None = None):
        super().__init__(parent)
        self.project = project
        self.device = device
        self._skip_image = skip_image  # callable: the image open in the editor (its document is live)
        self._trainer: GeneratorWorker | None = None
        self._refresher: GeneratorWorker | None = None
        self._pending_refresh: str | None = None
        self._user_paused = False
        self._active = False  # from start() until the trainer's generator has ended

    # ------------------------------------------------------------------ control
    def start(self, config) -> None:
        if self.is_running():
            return
        from segstudio.core.progress import StopFlag
        from segstudio.core.training.remote import ChildTraining

        self._child = ChildTraining(self.project, config)
        self._stop = StopFlag()
        self._trainer = GeneratorWorker(lambda _flag: self._child.events(self._stop), name="training")
        self._trainer.yielded.connect(self._on_event)
        self._trainer.returned.connect(self.finished.emit)
        self._trainer.failed.connect(self._on_failed)
        self._trainer.finished.connect(self._on_finished)
        with _lock:
            _workers.append(self)
        self._user_paused = False
        self._active = True
        self._trainer.start()
        self._apply_pause()

    def pause(self) -> None:
        self._user_paused = True
        self._apply_pause()

    def resume(self) -> None:
        self._user_paused = False
        self._apply_pause()

    def stop(self) -> None:
        if self._trainer is not None:
            self._stop.set()
            self._child.stop()  # finishes its step and returns its result
        if self._refresher is not None:
            self._refresher.stop()
        if self.is_running():
            self.state_changed.emit("stopping")

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until training and refresh have ended, still delivering queued events.

        GeneratorWorker's thread quits through a queued call to the GUI thread, so a plain
        QThread.wait() on the GUI thread would wait for itself; events keep flowing here.
        """
        deadline = time.monotonic() + msecs / 1000
        for worker in (self._trainer, self._refresher):
            while worker is not None and not worker.wait(20):
                QCoreApplication.processEvents()
                if time.monotonic() > deadline:
                    return False
        return True

    def is_running(self) -> bool:
        return self._active

    @property
    def paused(self) -> bool:
        return self._trainer is not None and self._child.paused

    def _apply_pause(self) -> None:
        if self._trainer is None:
            return
        with _lock:
            held = bool(_holds)
        if self._user_paused or held:
            self._child.pause()
            self.state_changed.emit("paused")
        else:
            self._child.resume()
            self.state_changed.emit("running")

    # ------------------------------------------------------------------ events
    def _on_event(self, event: object) -> None:
        from segstudio.core.training.events import CheckpointEvent

        self.event.emit(event)
        if isinstance(event, CheckpointEvent):
            self.model_kept.emit(event.version)
            proposer = self.project.proposing_model()
            if proposer is not None and proposer.version == event.version:  # a pinned version keeps proposing
                self._refresh_proposals(event.path)

    def _on_failed(self, exc: Exception) -> None:
        self.failed.emit(str(exc))
        self.finished.emit(None)

    def _on_finished(self) -> None:
        self._active = False
        with _lock:
            if self in _workers:
                _workers.remove(self)
        self._release_gpu_memory()
        self.state_changed.emit("idle")

    def _release_gpu_memory(self) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # ------------------------------------------------------- proposal refresh
    def _refresh_proposals(self, bundle_path: str) -> None:
        """Re-propose unreviewed images with the new model (one refresh at a time; latest wins)."""
        if self._refresher is not None and self._refresher.is_running():
            self._pending_refresh = bundle_path
            self._refresher.stop()
            return
        from segstudio.core.active import refresh_proposals

        project, device, skip = self.project, self.device, self._skip_image()
        self._refresher = GeneratorWorker(
            lambda stop: refresh_proposals(project, Path(bundle_path), device=device, skip={skip}, stop=stop),
            name="proposal refresh")
        self._refresher.returned.connect(lambda count: self.proposals_refreshed.emit(int(count or 0)))
        self._refresher.failed.connect(lambda exc: self.failed.emit(f"refreshing proposals failed: {exc}"))
        self._refresher.finished.connect(self._after_refresh)
        self._refresher.start()

    def _after_refresh(self) -> None:
        pending, self._pending_refresh = self._pending_refresh, None
        if pending is not None and not self._stop.is_set():
            self._refresher = None
            self._refresh_proposals(pending)
