"""Property tests: any sequence of edits can be undone byte for byte, redone, and stays in budget."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segstudio.core.document import MaskDocument
from segstudio.core.geometry import BBox

# Larger than one 256 x 256 undo tile in both directions, so steps span several tiles.
H, W = 300, 530
CLASSES = 5

coords = st.tuples(st.floats(-20, W + 20, allow_nan=False), st.floats(-20, H + 20, allow_nan=False))
inside = st.tuples(st.floats(0, W - 0.01), st.floats(0, H - 0.01))
boxes = st.builds(
    lambda a, b: BBox(min(a[1], b[1]), min(a[0], b[0]), max(a[1], b[1]) + 1, max(a[0], b[0]) + 1),
    st.tuples(st.integers(0, W), st.integers(0, H)),
    st.tuples(st.integers(0, W), st.integers(0, H)),
)

edit = st.one_of(
    # Small dabs make small steps, so several of them share the memory cap.
    st.tuples(st.just("brush"), st.lists(inside, min_size=1, max_size=2), st.integers(0, 3), st.integers(0, CLASSES - 1)),
    st.tuples(st.just("brush"), st.lists(coords, min_size=1, max_size=6), st.integers(0, 40), st.integers(0, CLASSES - 1)),
    st.tuples(st.just("erase"), st.lists(coords, min_size=1, max_size=4), st.integers(0, 25)),
    st.tuples(st.just("fill"), inside, st.integers(0, CLASSES - 1)),
    st.tuples(st.just("polygon"), st.lists(coords, min_size=3, max_size=7), st.integers(0, CLASSES - 1)),
    st.tuples(st.just("proposal"), st.integers(0, 2**16), st.none() | boxes),
    st.tuples(st.just("accept"), st.none() | boxes),
    st.tuples(st.just("clear")),
)


def make_document(seed: int, limit: int) -> MaskDocument:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, CLASSES, (H, W)).astype(np.uint8)
    label[rng.random((H, W)) < 0.3] = 255
    label[:, W // 2 :] = 1  # a large uniform area so fills can be big
    source = rng.integers(0, 4, (H, W)).astype(np.uint8)
    return MaskDocument(7, label, source, undo_limit_bytes=limit)


def run_edit(doc: MaskDocument, op: tuple) -> None:
    kind = op[0]
    if kind in ("brush", "erase"):
        points = op[1]
        doc.begin_step(kind)
        for p0, p1 in zip([points[0]] + points[:-1], points):
            if kind == "brush":
                doc.paint_segment(p0, p1, op[2], op[3])
            else:
                doc.erase_segment(p0, p1, op[2])
        doc.end_step()
    elif kind == "fill":
        doc.flood_fill(op[1][0], op[1][1], op[2])
    elif kind == "polygon":
        doc.fill_polygon(op[1], op[2])
    elif kind == "proposal":
        class_map = np.random.default_rng(op[1]).integers(0, CLASSES, (H, W)).astype(np.uint8)
        region = None
        if op[2] is not None:
            region = np.zeros((H, W), bool)
            region[op[2].clip((H, W)).slices] = True
        doc.apply_proposal(class_map, region)
    elif kind == "accept":
        doc.accept_proposals(op[1])
    else:
        doc.clear()


def snapshot(doc: MaskDocument) -> tuple[bytes, bytes]:
    return doc.label.tobytes(), doc.source.tobytes()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), ops=st.lists(edit, min_size=1, max_size=8))
def test_undo_all_restores_and_redo_all_replays(seed, ops):
    doc = make_document(seed, limit=2**30)
    original = snapshot(doc)
    journal_label, journal_source = doc.label.copy(), doc.source.copy()
    changed_boxes: list[BBox] = []

    def replay_commit(box, label_patch, source_patch):
        journal_label[box.slices] = label_patch
        journal_source[box.slices] = source_patch

    doc.add_commit_listener(replay_commit)
    doc.add_change_listener(changed_boxes.append)

    for op in ops:
        before_label, before_source = doc.label.copy(), doc.source.copy()
        changed_boxes.clear()
        run_edit(doc, op)
        # The commit listener alone is enough to rebuild the arrays (what the journal relies on).
        assert np.array_equal(journal_label, doc.label) and np.array_equal(journal_source, doc.source)
        # Every changed pixel lies inside a box a change listener was told about.
        changed = (before_label != doc.label) | (before_source != doc.source)
        covered = np.zeros_like(changed)
        for box in changed_boxes:
            covered[box.slices] = True
        assert not (changed & ~covered).any()
        assert doc.source.max() <= 3

    edited = snapshot(doc)
    while doc.can_undo:
        doc.undo()
    assert snapshot(doc) == original
    while doc.can_redo:
        doc.redo()
    assert snapshot(doc) == edited
    assert np.array_equal(journal_label, doc.label) and np.array_equal(journal_source, doc.source)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    ops=st.lists(edit, min_size=1, max_size=12),
    limit=st.integers(0, 4_000) | st.integers(0, 400_000),
)
def test_memory_cap_holds_and_kept_steps_undo_to_the_right_state(seed, ops, limit):
    doc = make_document(seed, limit=limit)
    states = [snapshot(doc)]
    for op in ops:
        run_edit(doc, op)
        assert doc.undo_bytes <= limit
        if states[-1] != snapshot(doc):
            states.append(snapshot(doc))
    edited = snapshot(doc)
    undone = 0
    while doc.can_undo:
        doc.undo()
        undone += 1
        assert doc.undo_bytes <= limit
    # Only the newest steps are kept, and undoing them walks back through the real states.
    assert undone <= len(states) - 1
    assert snapshot(doc) == states[len(states) - 1 - undone]
    while doc.can_redo:
        doc.redo()
    assert snapshot(doc) == edited
