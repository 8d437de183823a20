"""Run a core work generator in a QThread and hand its events to the GUI thread.

Like superqt's GeneratorWorker: the generator runs in a worker thread; every yielded value
arrives on the GUI thread through the `yielded` signal (queued connection), the return value
through `returned`, an exception through `failed`. `stop()` sets the generator's StopFlag and
closes it between steps; `pause()` holds the worker between two steps.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from segstudio.core.progress import StopFlag

GeneratorFactory = Callable[[StopFlag], Generator[Any, None, Any]]


class GeneratorWorker(QObject):
    yielded = Signal(object)
    returned = Signal(object)
    failed = Signal(object)  # the exception; its traceback is in `exc.__traceback__`
    finished = Signal()

    def __init__(self, factory: GeneratorFactory, name: str = "worker", parent: QObject | None = None):
        super().__init__(None)
        self._factory = factory
        self.stop_flag = StopFlag()
        self._running = threading.Event()
        self._running.set()
        self._thread = QThread(parent)
        self._thread.setObjectName(name)
        self.moveToThread(self._thread)
        self._thread.started.connect(self._run)
        self.finished.connect(self._thread.quit)

    def start(self) -> None:
        self._thread.start()

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
        """Block until the worker thread ended (for shutdown and tests)."""
        return self._thread.wait(msecs)

    @Slot()
    def _run(self) -> None:
        gen = None
        try:
            gen = self._factory(self.stop_flag)
            while True:
                self._running.wait()
                if self.stop_flag.is_set():
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
