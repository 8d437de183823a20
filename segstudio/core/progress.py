"""The protocol of long work: a generator that yields progress and stops cleanly.

Predict, train, import, export and benchmarks are generators. They yield `Progress` (and
domain events of their own), check `StopFlag.is_set()` between steps, and leave nothing
half-written when closed (`generator.close()`) or stopped. The GUI drives them in a worker
thread (segstudio.gui.workers); the CLI drives them with a tqdm bar (`drive_with_tqdm`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """`done` of `total` units (total None when unknown), with a short human message."""

    done: int
    total: int | None = None
    message: str = ""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


class StopFlag:
    """A thread-safe request to stop, checked by generators between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


def drive(gen: Iterator[Any], on_event: Callable[[Any], None] | None = None) -> Any:
    """Run a work generator to its end, passing every yielded event to `on_event`.

    Returns the generator's return value (StopIteration.value).
    """
    while True:
        try:
            event = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event(event)


def drive_with_tqdm(gen: Generator[Any, None, T], desc: str, on_event: Callable[[Any], None] | None = None) -> T:
    """Run a work generator in the terminal with a tqdm progress bar."""
    from tqdm import tqdm

    with tqdm(desc=desc, unit="step", dynamic_ncols=True) as bar:

        def handle(event: Any) -> None:
            if isinstance(event, Progress):
                if event.total is not None and bar.total != event.total:
                    bar.total = event.total
                bar.n = event.done
                if event.message:
                    bar.set_postfix_str(event.message, refresh=False)
                bar.refresh()
            if on_event is not None:
                on_event(event)

        return drive(gen, handle)
