"""Training in a child process, driven from the app: the GUI never waits for the trainer's GIL.

Measured on the 2-core development machine, a trainer thread inside the GUI process stalled the
event loop for 150-280 ms at a time (the GUI thread waits for the GIL while the trainer thread
holds it, and a busy machine deschedules the holder); a child process removes that coupling.

The child opens the project read-only (the app keeps the project's write lock) and runs the
ordinary trainer; the few writes the trainer makes to the database (validation splits, model
registration) travel back to the parent, which performs them on its own connection. Model
files are written by the child, atomically, as always. Pause and stop are multiprocessing
events the child looks at between steps. When training ends the child exits, which also gives
all of its GPU memory back.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Generator
from pathlib import Path

from segstudio.core.errors import SegStudioError
from segstudio.core.progress import StopFlag

# Project methods the trainer may call that write; everything else is read in the child.
PARENT_CALLS = frozenset({"set_split", "register_model", "log_event", "flag_labels", "mark_labels_checked"})
CHILD_NICENESS = 10  # the GUI wins the CPU when both want it
POLL_SECONDS = 0.05


class _ProjectInChild:
    """The child's project: reads from a read-only connection, writes forwarded to the parent."""

    readonly = False

    def __init__(self, project, conn):
        self._project = project
        self._conn = conn

    def __getattr__(self, name: str):
        if name in PARENT_CALLS:
            return lambda *args, **kwargs: self._call(name, args, kwargs)
        return getattr(self._project, name)

    def _call(self, name: str, args: tuple, kwargs: dict):
        self._conn.send(("call", name, args, kwargs))
        kind, value = self._conn.recv()
        if kind == "error":
            raise SegStudioError(value)
        return value


def _child_main(root: str, config, conn, running, stop) -> None:
    """Entry point of the training process (spawned: a fresh interpreter, no Qt)."""
    if hasattr(os, "nice"):  # before the imports: importing torch is seconds of CPU
        try:
            os.nice(CHILD_NICENESS)
        except OSError:
            pass
    from segstudio.core.project import Project
    from segstudio.core.training.trainer import train

    try:
        with Project.open(root, readonly=True) as project:
            work = train(_ProjectInChild(project, conn), config, stop=stop)
            while True:
                running.wait()  # paused: hold the trainer between two steps
                try:
                    event = next(work)
                except StopIteration as done:
                    conn.send(("result", done.value))
                    return
                conn.send(("event", event))
    except (BrokenPipeError, ConnectionResetError, EOFError):
        return  # the window is gone (closed hard or crashed): nobody to tell, and kept versions are whole on disk
    except BaseException as exc:  # noqa: BLE001 - the parent shows it to the person
        conn.send(("error", str(exc) or type(exc).__name__))
    finally:
        conn.close()


class ChildTraining:
    """One training run in a child process; `events()` is the generator the GUI worker drives."""

    def __init__(self, project, config):
        self.project = project
        self.config = config
        context = multiprocessing.get_context("spawn")
        self._context = context
        self._running = context.Event()
        self._running.set()
        self._stop = context.Event()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused child must wake up to see the stop

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def events(self, stop: StopFlag | None = None) -> Generator[object, None, object]:
        """Start the child and relay its events; returns the TrainResult.

        Setting `stop` (or closing this generator) asks the child to stop; it finishes its
        current step and returns its result, so nothing is cut in half.
        """
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(
            target=_child_main, name="segstudio-training", daemon=True,
            args=(str(Path(self.project.root)), self.config, child_end, self._running, self._stop))
        process.start()
        child_end.close()
        try:
            while True:
                if stop is not None and stop.is_set():
                    self.stop()
                if not parent_end.poll(POLL_SECONDS):
                    if not process.is_alive() and not parent_end.poll():
                        raise SegStudioError(f"the training process ended unexpectedly (exit code {process.exitcode})")
                    continue
                kind, *payload = parent_end.recv()
                if kind == "event":
                    yield payload[0]
                elif kind == "call":
                    self._answer(parent_end, *payload)
                elif kind == "result":
                    return payload[0]
                else:
                    raise SegStudioError(f"training failed: {payload[0]}")
        finally:
            self.stop()
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            parent_end.close()

    def _answer(self, conn, name: str, args: tuple, kwargs: dict) -> None:
        try:
            conn.send(("value", getattr(self.project, name)(*args, **kwargs)))
        except Exception as exc:  # noqa: BLE001 - raised again in the child, where the call was made
            conn.send(("error", str(exc)))
