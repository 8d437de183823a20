"""GeneratorWorker: events reach the GUI thread in order; stop, pause, failure and wait behave."""

from __future__ import annotations

import threading
import time

import pytest

from segstudio.core.progress import Progress
from segstudio.gui.workers import GeneratorWorker, WorkerState


def counting(n, closed=None):
    def factory(stop):
        try:
            for i in range(n):
                yield Progress(i + 1, n)
            return "finished"
        finally:
            if closed is not None:
                closed.set()

    return factory


def test_events_arrive_in_order_on_the_gui_thread_then_the_result(qtbot):
    worker = GeneratorWorker(counting(5))
    seen, threads, results = [], [], []
    worker.yielded.connect(lambda event: (seen.append(event.done), threads.append(threading.current_thread())))
    worker.returned.connect(results.append)
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()
    qtbot.waitUntil(lambda: results == ["finished"], timeout=5_000)
    assert seen == [1, 2, 3, 4, 5]
    assert set(threads) == {threading.main_thread()}
    assert worker.wait(5_000)


def test_a_failure_is_reported_not_lost(qtbot):
    def broken(stop):
        yield Progress(1, 2)
        raise ValueError("disk on fire")

    worker = GeneratorWorker(broken)
    errors = []
    worker.failed.connect(errors.append)
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=5_000)
    assert isinstance(errors[0], ValueError) and "disk on fire" in str(errors[0])


def test_stop_closes_the_generator_between_steps(qtbot):
    closed = threading.Event()
    worker = GeneratorWorker(counting(100_000, closed=closed))
    results, seen = [], []
    worker.returned.connect(results.append)
    worker.yielded.connect(seen.append)
    worker.start()
    qtbot.waitUntil(lambda: len(seen) > 0, timeout=10_000)
    worker.stop()
    assert worker.wait(10_000)
    assert closed.is_set()
    assert results == []


def test_pause_holds_the_worker_and_resume_lets_it_finish(qtbot):
    worker = GeneratorWorker(counting(3))
    seen = []
    worker.yielded.connect(lambda event: seen.append(event.done))
    worker.pause()
    worker.start()
    qtbot.wait(200)
    assert seen == [] and worker.paused
    worker.resume()
    qtbot.waitUntil(lambda: seen == [1, 2, 3], timeout=10_000)
    assert worker.wait(5_000)


@pytest.mark.parametrize("stop_first", [False, True])
def test_wait_on_the_gui_thread_returns_as_soon_as_the_work_ends(qtbot, stop_first):
    """Regression: the thread's quit() was a queued call that a blocked GUI thread never ran."""
    worker = GeneratorWorker(counting(3))
    worker.start()
    if stop_first:
        worker.stop()
    started = time.monotonic()
    assert worker.wait(20_000)
    assert time.monotonic() - started < 10  # not the 20 s timeout


def gated(gate: threading.Event, reached: threading.Event, result="finished"):
    """One step, then held inside the second until `gate` opens; returns `result`."""

    def factory(stop):
        yield Progress(1, 2)
        reached.set()
        assert gate.wait(30)
        yield Progress(2, 2)
        return result

    return factory


def test_states_are_reported_when_reached(qtbot):
    worker = GeneratorWorker(counting(2))
    states = []
    worker.state_changed.connect(states.append)
    assert worker.state is WorkerState.READY
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()
    assert states == [WorkerState.RUNNING, WorkerState.FINISHED]
    assert worker.state is WorkerState.FINISHED and not worker.cancelled


def test_pause_is_reported_once_the_worker_holds_not_when_asked(qtbot):
    gate, reached = threading.Event(), threading.Event()
    worker = GeneratorWorker(gated(gate, reached))
    seen = []
    worker.yielded.connect(lambda event: seen.append(event.done))
    worker.start()
    assert reached.wait(10)
    worker.pause()  # asked while a step runs: not paused yet
    assert not worker.paused
    gate.set()
    qtbot.waitUntil(lambda: worker.paused, timeout=10_000)
    assert seen == [1, 2] or seen == [1]  # the running step finished; nothing after it
    qtbot.wait(100)
    assert worker.is_running() and worker.paused
    worker.resume()
    assert worker.wait(10_000)
    assert worker.state is WorkerState.FINISHED


def test_a_stop_wakes_a_paused_worker_and_a_later_pause_is_ignored(qtbot):
    """Regression: the pause flag was waited on before stop was looked at, so pause after stop hung."""
    closed = threading.Event()
    worker = GeneratorWorker(counting(100_000, closed=closed))
    seen = []
    worker.yielded.connect(seen.append)
    worker.start()
    qtbot.waitUntil(lambda: len(seen) > 0, timeout=10_000)
    worker.pause()
    qtbot.waitUntil(lambda: worker.paused, timeout=10_000)
    worker.stop()
    worker.pause()
    assert worker.wait(10_000)
    assert closed.is_set() and worker.state is WorkerState.CANCELLED


def test_a_result_that_arrived_wins_over_a_late_stop(qtbot):
    def finishes_while_stop_is_pressed(stop):
        yield Progress(1, 1)
        reached.set()
        assert gate.wait(30)
        return "kept"

    gate, reached = threading.Event(), threading.Event()
    worker = GeneratorWorker(finishes_while_stop_is_pressed)
    results = []
    worker.returned.connect(results.append)
    worker.start()
    assert reached.wait(10)
    worker.stop()  # too late: the generator is already returning
    gate.set()
    assert worker.wait(10_000)
    qtbot.waitUntil(lambda: results == ["kept"], timeout=5_000)
    assert worker.state is WorkerState.FINISHED and not worker.cancelled


def test_a_stop_before_the_next_step_cancels(qtbot):
    gate, reached = threading.Event(), threading.Event()
    worker = GeneratorWorker(gated(gate, reached))
    results = []
    worker.returned.connect(results.append)
    worker.start()
    assert reached.wait(10)
    worker.stop()
    gate.set()  # the second step ends; the stop is seen before the third
    assert worker.wait(10_000)
    qtbot.wait(50)
    assert results == [] and worker.cancelled
