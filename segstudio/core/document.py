"""The label and source arrays of one image, changed only through undoable steps.

Every change goes through `MaskDocument`, which
- records the old values of the touched tiles (see undo.py) so a step can be undone,
- tells change listeners the box to repaint after each dab, fill, undo or redo,
- tells commit listeners the box and new values once per finished step (the journal saves them).

A step is opened with `begin_step` (a brush press) and closed with `end_step` (the release); any
operation called with no step open is a step of its own. The document belongs to the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from segstudio.core import edits
from segstudio.core.geometry import BBox, union_all
from segstudio.core.labels import unlabelled_value
from segstudio.core.project.records import Source
from segstudio.core.undo import TILE, StepRecorder, UndoHistory, UndoStep

ChangeListener = Callable[[BBox], None]
CommitListener = Callable[[BBox, np.ndarray, np.ndarray], None]
Value = int | np.ndarray | None


class MaskDocument:
    def __init__(self, image_id: int, label: np.ndarray, source: np.ndarray, *, undo_limit_bytes: int = 256 * 2**20):
        if label.ndim != 2 or label.shape != source.shape:
            raise ValueError(f"label {label.shape} and source {source.shape} must be 2-D and the same size")
        if label.dtype not in (np.uint8, np.uint16) or source.dtype != np.uint8:
            raise ValueError(f"label must be uint8 or uint16 and source uint8, not {label.dtype}/{source.dtype}")
        self.image_id = image_id
        self.label = np.ascontiguousarray(label)
        self.source = np.ascontiguousarray(source)
        self.unlabelled = unlabelled_value(label.dtype)
        self.revision = 0
        self._history = UndoHistory(undo_limit_bytes)
        self._step: StepRecorder | None = None
        self._change_listeners: list[ChangeListener] = []
        self._commit_listeners: list[CommitListener] = []

    @property
    def shape(self) -> tuple[int, int]:
        return self.label.shape

    # ----------------------------------------------------------------- listeners
    def add_change_listener(self, fn: ChangeListener) -> None:
        """fn(bbox) after every visible change: repaint that box."""
        self._change_listeners.append(fn)

    def remove_change_listener(self, fn: ChangeListener) -> None:
        self._change_listeners.remove(fn)

    def add_commit_listener(self, fn: CommitListener) -> None:
        """fn(bbox, label_patch, source_patch) once per finished step (and per undo or redo).

        The patches are read-only views of the live arrays, valid during the call only: a
        listener that keeps them (the journal) must copy them.
        """
        self._commit_listeners.append(fn)

    def remove_commit_listener(self, fn: CommitListener) -> None:
        self._commit_listeners.remove(fn)

    def _changed(self, box: BBox | None) -> None:
        if box is None or box.is_empty:
            return
        self.revision += 1
        for fn in list(self._change_listeners):
            fn(box)

    def _committed(self, box: BBox | None) -> None:
        if box is None or box.is_empty or not self._commit_listeners:
            return
        label_patch, source_patch = self.label[box.slices], self.source[box.slices]
        label_patch.flags.writeable = False
        source_patch.flags.writeable = False
        for fn in list(self._commit_listeners):
            fn(box, label_patch, source_patch)

    # ----------------------------------------------------------------- steps
    @property
    def in_step(self) -> bool:
        return self._step is not None

    def begin_step(self, name: str) -> None:
        """Open a step; an open one is finished first (a release that never came)."""
        if self._step is not None:
            self.end_step()
        self._step = StepRecorder(name, self.label, self.source, TILE)

    def end_step(self) -> BBox | None:
        """Close the open step: one undo entry, one commit. Returns the changed box."""
        if self._step is None:
            return None
        recorder, self._step = self._step, None
        touched = recorder.touched_box
        step = recorder.finish(self._history.limit_bytes)
        if step is None:
            # Too big to keep: nothing before it can be undone consistently either.
            self._history.clear()
            box = touched
        elif step.patches:
            self._history.push(step)
            box = step.box
        else:
            return None
        self._committed(box)
        return box

    def cancel_step(self) -> BBox | None:
        """Put back everything the open step changed and close it without an undo entry."""
        box = self.revert_step()
        self._step = None
        return box

    def revert_step(self) -> BBox | None:
        """Undo the open step's changes so far but keep it open (a wand whose drag grows)."""
        if self._step is None:
            return None
        box = self._step.revert()
        self._changed(box)
        return box

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """`with doc.step("fill"):` - one undo entry for everything inside, or nothing on error."""
        outer = self._step is not None
        if not outer:
            self.begin_step(name)
        try:
            yield
        except BaseException:
            if not outer:
                self.cancel_step()
            raise
        if not outer:
            self.end_step()

    # ----------------------------------------------------------------- undo / redo
    @property
    def can_undo(self) -> bool:
        return self._history.can_undo

    @property
    def can_redo(self) -> bool:
        return self._history.can_redo

    @property
    def undo_name(self) -> str | None:
        return self._history.undo_name

    @property
    def redo_name(self) -> str | None:
        return self._history.redo_name

    @property
    def history_names(self) -> tuple[list[str], list[str]]:
        """The steps kept now: undoable (oldest first) and redoable (next first), for a history view."""
        return self._history.names

    @property
    def undo_bytes(self) -> int:
        """Memory the undo and redo history holds now; never above `undo_limit_bytes`."""
        return self._history.nbytes

    @property
    def undo_limit_bytes(self) -> int:
        return self._history.limit_bytes

    @undo_limit_bytes.setter
    def undo_limit_bytes(self, value: int) -> None:
        self._history.limit_bytes = value

    def undo(self) -> BBox | None:
        self.end_step()
        return self._replay(self._history.pop_undo(), UndoStep.restore_old)

    def redo(self) -> BBox | None:
        self.end_step()
        return self._replay(self._history.pop_redo(), UndoStep.restore_new)

    def _replay(self, step: UndoStep | None, restore) -> BBox | None:
        if step is None:
            return None
        restore(step, self.label, self.source)
        box = step.box
        self._changed(box)
        self._committed(box)
        return box

    # ----------------------------------------------------------------- writing pixels
    def write(self, box: BBox, mask: np.ndarray | None, label_value: Value, source_value: Value) -> BBox | None:
        """Set label and/or source where `mask` is true. Every pixel change comes through here.

        `box` must lie inside the image; `mask` is box-sized (None = the whole box); a value is
        a number, a box-sized array, or None to leave that array alone.
        """
        if box.is_empty:
            return None
        with self.step("edit"):
            self._step.touch(box)
            for target, value in ((self.label[box.slices], label_value), (self.source[box.slices], source_value)):
                if value is None:
                    continue
                if mask is None:
                    target[...] = value
                else:
                    target[mask] = value[mask] if isinstance(value, np.ndarray) else value
            self._changed(box)
        return box

    def paint_segment(self, p0: edits.Point, p1: edits.Point, radius: float, class_id: int) -> BBox | None:
        """A round brush dragged from p0 to p1 (x, y image positions): human-painted pixels."""
        return self._stroke(p0, p1, radius, class_id, Source.HUMAN)

    def erase_segment(self, p0: edits.Point, p1: edits.Point, radius: float) -> BBox | None:
        """A round eraser dragged from p0 to p1: pixels go back to unlabelled, no source."""
        return self._stroke(p0, p1, radius, self.unlabelled, Source.NONE)

    def _stroke(self, p0, p1, radius, label_value, source_value) -> BBox | None:
        boxes = []
        with self.step("brush" if source_value else "eraser"):
            for a, b in edits.stroke_pieces(p0, p1, radius):
                region = edits.capsule(self.shape, a, b, radius)
                if region is not None:
                    boxes.append(self.write(region[0], region[1], label_value, source_value))
        return union_all(boxes)

    def fill_region(self, region: edits.Region | None, class_id: int) -> BBox | None:
        """Give a region (box, mask) the class, as human-labelled pixels."""
        if region is None:
            return None
        return self.write(region[0], region[1], class_id, Source.HUMAN)

    def erase_region(self, region: edits.Region | None) -> BBox | None:
        if region is None:
            return None
        return self.write(region[0], region[1], self.unlabelled, Source.NONE)

    def flood_fill(self, x: float, y: float, class_id: int) -> BBox | None:
        """Fill the 4-connected region of the clicked pixel's label with the class."""
        with self.step("fill"):
            return self.fill_region(edits.connected_same_value(self.label, x, y), class_id)

    def fill_polygon(self, points: Sequence[edits.Point], class_id: int) -> BBox | None:
        with self.step("polygon"):
            return self.fill_region(edits.polygon(self.shape, points), class_id)

    def clear(self) -> BBox | None:
        """Everything back to unlabelled with no source, as one step."""
        with self.step("clear"):
            return union_all(
                self.write(tile, None, self.unlabelled, Source.NONE)
                for tile in self._tiles(BBox.from_shape(self.shape))
                if (self.label[tile.slices] != self.unlabelled).any() or self.source[tile.slices].any()
            )

    # ----------------------------------------------------------------- proposals
    def apply_proposal(self, class_map: np.ndarray, region_mask: np.ndarray | None = None) -> BBox | None:
        """A model's class map becomes the proposal wherever no person has decided yet.

        Only pixels whose source is none or proposal change (source 2 and 3 are kept), and
        only inside `region_mask` when given. Pixels where the class map holds the unlabelled
        value are left alone. Works tile by tile, so no image-sized temporaries are made.
        """
        if class_map.shape != self.shape or (region_mask is not None and region_mask.shape != self.shape):
            raise ValueError(f"proposal {class_map.shape} does not match the mask {self.shape}")
        if class_map.dtype.kind not in "ui" or (class_map.size and int(class_map.max()) > self.unlabelled):
            raise ValueError(f"a proposal holds class ids from 0 to {self.unlabelled - 1}, not {class_map.dtype} values")
        boxes = []
        with self.step("proposal"):
            for tile in self._tiles(BBox.from_shape(self.shape)):
                proposed = class_map[tile.slices]
                source = self.source[tile.slices]
                writable = (source <= Source.PROPOSAL) & (proposed != self.unlabelled)
                if region_mask is not None:
                    writable &= region_mask[tile.slices]
                writable &= (self.label[tile.slices] != proposed) | (source != Source.PROPOSAL)
                if writable.any():
                    boxes.append(self.write(tile, writable, proposed, Source.PROPOSAL))
        return union_all(boxes)

    def accept_proposals(self, region: BBox | None = None, mask: np.ndarray | None = None) -> BBox | None:
        """Proposals (source 1) become accepted (source 2) in `region` (everywhere when None).

        `mask`, when given, is a boolean array of `region`'s size that limits it further.
        """
        area = BBox.from_shape(self.shape) if region is None else region.clip(self.shape)
        boxes = []
        with self.step("accept"):
            for tile in self._tiles(area):
                accept = self.source[tile.slices] == Source.PROPOSAL
                if mask is not None:
                    offset = tile.translate(-area.y0, -area.x0)
                    accept &= mask[offset.slices]
                if accept.any():
                    boxes.append(self.write(tile, accept, None, Source.ACCEPTED))
        return union_all(boxes)

    @staticmethod
    def _tiles(area: BBox) -> Iterator[BBox]:
        for y in range(area.y0, area.y1, TILE):
            for x in range(area.x0, area.x1, TILE):
                yield BBox(y, x, min(y + TILE, area.y1), min(x + TILE, area.x1))
