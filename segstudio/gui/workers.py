"""Run a core work generator in a QThread and hand its events to the GUI thread.

Like superqt's GeneratorWorker: the generator runs in a worker thread; every yielded value
arrives on the GUI thread through the `yielded` signal, the return value through `returned`, an
exception through `failed`. The worker object itself lives in the thread that created it (the
GUI thread) and re-emits what its runner sends from the worker thread, so any slot, a lambda
included, runs on the GUI thread. `stop()` sets the generator's StopFlag and closes it between
steps (so a stopped job emits no `returned`: a generator whose partial result matters takes its
own StopFlag and returns it); `pause()` holds the worker between two steps.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from segstudio.core.progress import StopFlag

GeneratorFactory = Callable[[StopFlag], Generator[Any, None, Any]]

_RUNNING: set[GeneratorWorker] = set()
"""Workers whose thread runs: kept alive here, since Qt aborts if a running QThread is deleted."""


class _Runner(QObject):
    """Lives in the worker thread and drives the generator there."""

    yielded = Signal(object)
    returned = Signal(object)
    failed = Signal(object)
    finished = Signal()

    def __init__(self, factory: GeneratorFactory, stop_flag: StopFlag, running: threading.Event):
        super().__init__()
        self._factory = factory
        self._stop_flag = stop_flag
        self._running = running

    @Slot()
    def run(self) -> None:
        try:
            gen = self._factory(self._stop_flag)
            while True:
                self._running.wait()
                if self._stop_flag.is_set():
                    gen.close()
                    break
                try:
                    event = next(gen)
                except StopIteration as done:
                    self.returned.emit(done.value)
                    break
                self.yielded.emit(event)
        except Exception as exc:  # noqa: BLE001 - reported to the GUI, never lost
            traceback.print_exc()
            self.failed.emit(exc)
        finally:
            self.finished.emit()
            # Direct call, not a queued signal: a GUI thread blocked in wait() could not run it.
            self.thread().quit()


class GeneratorWorker(QObject):
    yielded = Signal(object)
    returned = Signal(object)
    failed = Signal(object)  # the exception; its traceback is in `exc.__traceback__`
    finished = Signal()

    def __init__(self, factory: GeneratorFactory, name: str = "worker", parent: QObject | None = None):
        super().__init__(parent)
        self.stop_flag = StopFlag()
        self._running = threading.Event()
        self._running.set()
        self._thread = QThread(self)
        self._thread.setObjectName(name)
        self._runner = _Runner(factory, self.stop_flag, self._running)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        # Signal-to-signal across threads: queued, so our signals fire on this object's thread.
        self._runner.yielded.connect(self.yielded)
        self._runner.returned.connect(self.returned)
        self._runner.failed.connect(self.failed)
        self._runner.finished.connect(self.finished)
        self._thread.finished.connect(self._release)

    def start(self) -> None:
        _RUNNING.add(self)
        self._thread.start()

    @Slot()
    def _release(self) -> None:
        _RUNNING.discard(self)

    def stop(self) -> None:
        self.stop_flag.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the worker thread ended (for shutdown and tests).

        Signals still queued for this thread are delivered when the event loop next runs.
        """
        return self._thread.wait(msecs)
