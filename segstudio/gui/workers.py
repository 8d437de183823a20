"""Run a core work generator in a QThread and hand its events to the GUI thread.

Like superqt's GeneratorWorker (which we compared and did not adopt: it runs on the shared
QThreadPool, so one worker cannot be waited for on shutdown, and it polls a paused worker with
sleeps): the generator runs in a worker thread; every yielded value arrives on the GUI thread
through `yielded`, the return value through `returned`, an exception through `failed`, and each
state the worker reaches through `state_changed` (a `WorkerState`). The worker object lives in
the thread that created it (the GUI thread) and re-emits what its runner sends, so any slot, a
lambda included, runs on the GUI thread.

Between two steps the runner looks at stop first, then at pause: a stop always wins, a pause
asked for once stopping is ignored, and a paused worker wakes for a stop. `stop()` sets the
generator's StopFlag and closes it before its next step, so a stopped job emits no `returned`
(a generator whose partial result matters checks its own StopFlag and returns it); a result
that arrived before the stop was seen wins: the state is then FINISHED, not CANCELLED.
"""

from __future__ import annotations

import enum
import threading
import traceback
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from segstudio.core.progress import StopFlag

GeneratorFactory = Callable[[StopFlag], Generator[Any, None, Any]]

_RUNNING: set[GeneratorWorker] = set()
"""Workers whose thread runs: kept alive here, since Qt aborts if a running QThread is deleted."""


class WorkerState(enum.Enum):
    """What the worker has reached (never merely what was asked for)."""

    READY = "ready"  # not started
    RUNNING = "running"
    PAUSED = "paused"  # held between two steps
    FINISHED = "finished"  # the generator returned; `returned` carried its value
    CANCELLED = "cancelled"  # stopped before the generator returned
    FAILED = "failed"  # the generator raised; `failed` carried the exception

    @property
    def ended(self) -> bool:
        return self in (WorkerState.FINISHED, WorkerState.CANCELLED, WorkerState.FAILED)


class _Control:
    """The requests from the GUI thread and the state the worker thread reached, under one lock."""

    def __init__(self, stop_flag: StopFlag):
        self.stop_flag = stop_flag
        self.pause_requested = False
        self.state = WorkerState.READY
        self.changed = threading.Condition()

    def request_stop(self) -> None:
        with self.changed:
            self.stop_flag.set()
            self.changed.notify_all()

    def request_pause(self, pause: bool) -> None:
        with self.changed:
            self.pause_requested = pause and not self.stop_flag.is_set()
            self.changed.notify_all()

    def wait_while_paused(self) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.stop_flag.is_set() or not self.pause_requested)


class _Runner(QObject):
    """Lives in the worker thread and drives the generator there."""

    yielded = Signal(object)
    returned = Signal(object)
    failed = Signal(object)
    state_changed = Signal(object)
    finished = Signal()

    def __init__(self, factory: GeneratorFactory, control: _Control):
        super().__init__()
        self._factory = factory
        self._control = control

    def _reach(self, state: WorkerState) -> None:
        self._control.state = state
        self.state_changed.emit(state)

    @Slot()
    def run(self) -> None:
        control = self._control
        try:
            gen = self._factory(control.stop_flag)
            self._reach(WorkerState.RUNNING)
            while True:
                if control.stop_flag.is_set():
                    gen.close()
                    self._reach(WorkerState.CANCELLED)
                    break
                if control.pause_requested:
                    self._reach(WorkerState.PAUSED)
                    control.wait_while_paused()
                    if control.stop_flag.is_set():
                        continue
                    self._reach(WorkerState.RUNNING)
                try:
                    event = next(gen)
                except StopIteration as done:
                    self.returned.emit(done.value)
                    self._reach(WorkerState.FINISHED)
                    break
                self.yielded.emit(event)
        except Exception as exc:  # noqa: BLE001 - reported to the GUI, never lost
            traceback.print_exc()
            self.failed.emit(exc)
            self._reach(WorkerState.FAILED)
        finally:
            self.finished.emit()
            # Direct call, not a queued signal: a GUI thread blocked in wait() could not run it.
            self.thread().quit()


class GeneratorWorker(QObject):
    yielded = Signal(object)
    returned = Signal(object)
    failed = Signal(object)  # the exception; its traceback is in `exc.__traceback__`
    state_changed = Signal(object)  # a WorkerState, as reached
    finished = Signal()  # after the last of the others

    def __init__(self, factory: GeneratorFactory, name: str = "worker", parent: QObject | None = None):
        super().__init__(parent)
        self.stop_flag = StopFlag()
        self._control = _Control(self.stop_flag)
        self._thread = QThread(self)
        self._thread.setObjectName(name)
        self._runner = _Runner(factory, self._control)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        # Signal-to-signal across threads: queued, so our signals fire on this object's thread.
        self._runner.yielded.connect(self.yielded)
        self._runner.returned.connect(self.returned)
        self._runner.failed.connect(self.failed)
        self._runner.state_changed.connect(self.state_changed)
        self._runner.finished.connect(self.finished)
        self._thread.finished.connect(self._release)

    def start(self) -> None:
        _RUNNING.add(self)
        self._thread.start()

    @Slot()
    def _release(self) -> None:
        _RUNNING.discard(self)

    def stop(self) -> None:
        """Ask the generator to stop before its next step (a paused worker wakes for it)."""
        self._control.request_stop()

    def pause(self) -> None:
        """Hold the worker after its current step; ignored once a stop was asked for."""
        self._control.request_pause(True)

    def resume(self) -> None:
        self._control.request_pause(False)

    @property
    def state(self) -> WorkerState:
        """The state the worker thread has reached (its signal may still be on its way)."""
        return self._control.state

    @property
    def paused(self) -> bool:
        return self.state is WorkerState.PAUSED

    @property
    def cancelled(self) -> bool:
        return self.state is WorkerState.CANCELLED

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the worker thread ended (for shutdown and tests).

        Signals still queued for this thread are delivered when the event loop next runs.
        """
        return self._thread.wait(msecs)
