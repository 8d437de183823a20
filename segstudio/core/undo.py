"""Undo history that stores only what an edit changed, capped by memory.

While a step is open (a brush stroke, a fill...), `StepRecorder` saves the old values of each
256 x 256 tile the first time the edit touches it, so a stroke across a 16k x 16k image copies
only the tiles under the stroke, never the whole mask. When the step ends, each saved tile is cut
down to the box of pixels that really changed, and those old and new values become one `UndoStep`.
`UndoHistory` keeps the steps, newest last, and drops the oldest ones when their bytes pass the cap.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from segstudio.core.geometry import BBox, union_all

TILE = 256


@dataclass(frozen=True)
class Patch:
    """Old and new values of both arrays inside one box."""

    box: BBox
    old_label: np.ndarray
    old_source: np.ndarray
    new_label: np.ndarray
    new_source: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.old_label.nbytes + self.old_source.nbytes + self.new_label.nbytes + self.new_source.nbytes


@dataclass(frozen=True)
class UndoStep:
    name: str
    patches: tuple[Patch, ...]

    @property
    def box(self) -> BBox | None:
        return union_all(patch.box for patch in self.patches)

    @property
    def nbytes(self) -> int:
        return sum(patch.nbytes for patch in self.patches)

    def restore_old(self, label: np.ndarray, source: np.ndarray) -> None:
        for patch in self.patches:
            label[patch.box.slices] = patch.old_label
            source[patch.box.slices] = patch.old_source

    def restore_new(self, label: np.ndarray, source: np.ndarray) -> None:
        for patch in self.patches:
            label[patch.box.slices] = patch.new_label
            source[patch.box.slices] = patch.new_source


class StepRecorder:
    """Remembers the old content of every tile an open step is about to change."""

    def __init__(self, name: str, label: np.ndarray, source: np.ndarray, tile: int = TILE):
        self.name = name
        self._label = label
        self._source = source
        self._tile = tile
        self._saved: dict[tuple[int, int], tuple[BBox, np.ndarray, np.ndarray]] = {}

    def touch(self, box: BBox) -> None:
        """Call before writing inside `box` (already clipped to the arrays)."""
        if box.is_empty:
            return
        t = self._tile
        height, width = self._label.shape[:2]
        for ty in range(box.y0 // t, (box.y1 - 1) // t + 1):
            for tx in range(box.x0 // t, (box.x1 - 1) // t + 1):
                if (ty, tx) in self._saved:
                    continue
                tile_box = BBox(ty * t, tx * t, min(height, (ty + 1) * t), min(width, (tx + 1) * t))
                self._saved[(ty, tx)] = (
                    tile_box,
                    self._label[tile_box.slices].copy(),
                    self._source[tile_box.slices].copy(),
                )

    @property
    def touched_box(self) -> BBox | None:
        return union_all(box for box, _, _ in self._saved.values())

    def revert(self) -> BBox | None:
        """Put back the old content of every touched tile; the step stays open."""
        for box, old_label, old_source in self._saved.values():
            self._label[box.slices] = old_label
            self._source[box.slices] = old_source
        return self.touched_box

    def finish(self, max_bytes: int) -> UndoStep | None:
        """Cut each touched tile to the pixels that changed; unchanged tiles are dropped.

        Returns None when the changes need more than `max_bytes` to keep (a fill of a whole
        16k image): such a step cannot be undone, and it is cheaper to stop counting early.
        """
        patches = []
        total = 0
        for box, old_label, old_source in self._saved.values():
            new_label = self._label[box.slices]
            new_source = self._source[box.slices]
            changed = (old_label != new_label) | (old_source != new_source)
            rows = np.flatnonzero(changed.any(axis=1))
            if rows.size == 0:
                continue
            cols = np.flatnonzero(changed.any(axis=0))
            inner = BBox(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
            total += 2 * inner.area * (old_label.itemsize + old_source.itemsize)
            if total > max_bytes:
                self._saved.clear()
                return None
            patches.append(
                Patch(
                    box=inner.translate(box.y0, box.x0),
                    old_label=old_label[inner.slices].copy(),
                    old_source=old_source[inner.slices].copy(),
                    new_label=new_label[inner.slices].copy(),
                    new_source=new_source[inner.slices].copy(),
                )
            )
        self._saved.clear()
        return UndoStep(self.name, tuple(patches))


class UndoHistory:
    """Undo and redo stacks whose steps together never hold more than `limit_bytes`."""

    def __init__(self, limit_bytes: int):
        self._undo: deque[UndoStep] = deque()
        self._redo: list[UndoStep] = []
        self._bytes = 0
        self._limit = int(limit_bytes)

    @property
    def limit_bytes(self) -> int:
        return self._limit

    @limit_bytes.setter
    def limit_bytes(self, value: int) -> None:
        self._limit = int(value)
        self._trim()

    @property
    def nbytes(self) -> int:
        return self._bytes

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_name(self) -> str | None:
        return self._undo[-1].name if self._undo else None

    @property
    def redo_name(self) -> str | None:
        return self._redo[-1].name if self._redo else None

    def __len__(self) -> int:
        return len(self._undo)

    @property
    def names(self) -> tuple[list[str], list[str]]:
        """Names of the steps that can be undone (oldest first) and redone (next first)."""
        return [step.name for step in self._undo], [step.name for step in reversed(self._redo)]

    def push(self, step: UndoStep) -> None:
        """A new step; whatever could be redone is no longer reachable."""
        self._bytes -= sum(s.nbytes for s in self._redo)
        self._redo.clear()
        self._undo.append(step)
        self._bytes += step.nbytes
        self._trim()

    def pop_undo(self) -> UndoStep | None:
        """The step to undo now; it becomes the next one to redo."""
        return self._move_last(self._undo, self._redo)

    def pop_redo(self) -> UndoStep | None:
        """The step to redo now; it becomes the next one to undo."""
        return self._move_last(self._redo, self._undo)

    @staticmethod
    def _move_last(origin, target) -> UndoStep | None:
        if not origin:
            return None
        step = origin.pop()
        target.append(step)
        return step

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self._bytes = 0

    def _trim(self) -> None:
        """Drop the oldest undo steps first, then the furthest redo steps."""
        while self._bytes > self._limit and self._undo:
            self._bytes -= self._undo.popleft().nbytes
        while self._bytes > self._limit and self._redo:
            self._bytes -= self._redo.pop(0).nbytes
