"""Make the tiles just outside the view while the person is idle, so panning into them is smooth.

A first visit to a tile costs a millisecond or two to render per layer; a pan that uncovers a
dozen of them at once shows as a stall. After each paint an idle countdown restarts; when it
runs out, a few missing tiles around the view are made per event-loop turn, and any new paint
(a stroke, a pan) stops the work until the next quiet moment.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

IDLE_MS = 150  # quiet time before prefetching starts: never competes with a stroke
TILES_PER_STEP = 2  # a step stays around a few milliseconds, so input is never held up long


class TilePrefetcher(QObject):
    def __init__(self, canvas):
        super().__init__(canvas)
        self.canvas = canvas
        self._idle = QTimer(self, singleShot=True, interval=IDLE_MS)
        self._idle.timeout.connect(self._step)

    def painted(self) -> None:
        """The canvas just painted: wait for the next quiet moment."""
        self._idle.start()

    def _step(self) -> None:
        if self._idle.isActive():
            return  # painted again since this step was scheduled: the person is busy
        missing = self.canvas.missing_tiles_near_view()
        for make in missing[:TILES_PER_STEP]:
            make()
        if len(missing) > TILES_PER_STEP:
            QTimer.singleShot(0, self._step)
