"""Autosave with a real MaskDocument and project: when edits reach the journal, when they are
folded into labels/, what happens when a write fails, and recovery after a crash."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from segstudio.core.autosave import Autosaver, SaveState, recover
from segstudio.core.document import MaskDocument
from segstudio.core.errors import SaveError
from segstudio.core.geometry import BBox
from segstudio.core.journal import JournalError, JournalWriter, ProjectJournal, encode_record, read_journal_file
from segstudio.core.project import Project, Source

SHAPE = (40, 56)


class FakeClock:
    """Time that moves only when the test says so: ticks are deterministic."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def project(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.full((*SHAPE, 3), 30 + 50 * i, np.uint8)).save(folder / f"im{i}.png")
    with Project.create(tmp_path / "proj", ["background", "cell"]) as project:
        project.add_images([folder])
        yield project


def _document(project, index=0) -> MaskDocument:
    image_id = project.images()[index].id
    return MaskDocument(image_id, project.read_label(image_id), project.read_source(image_id))


def _journal_records(project, image_id) -> int:
    return sum(len(read_journal_file(path).records) for _, path in ProjectJournal(project).files(image_id))


def test_an_edit_reaches_the_journal_after_flush_delay_and_labels_after_idle(project):
    clock = FakeClock()
    doc = _document(project)
    saver = Autosaver(project, doc, flush_delay=1.0, idle_fold_after=10.0, clock=clock)
    states = []
    saver.add_state_listener(states.append)

    doc.paint_segment((5, 5), (30, 20), 3, 1)
    assert saver.state.state is SaveState.PENDING
    clock.now += 0.5
    saver.tick()
    assert _journal_records(project, doc.image_id) == 0
    clock.now += 0.5
    saver.tick()
    assert _journal_records(project, doc.image_id) == 1
    assert saver.state.state is SaveState.SAVED and saver.has_unfolded_edits
    assert not project.has_masks(doc.image_id)

    clock.now += 10
    saver.tick()
    np.testing.assert_array_equal(project.read_label(doc.image_id), doc.label)
    np.testing.assert_array_equal(project.read_source(doc.image_id), doc.source)
    assert ProjectJournal(project).image_ids() == []
    assert not saver.has_unfolded_edits
    assert [str(s) for s in states] == ["pending", "saving", "saved", "saving", "saved"]


def test_undo_and_redo_are_journaled_like_any_edit(project):
    doc = _document(project)
    original = doc.label.copy()
    saver = Autosaver(project, doc)
    doc.paint_segment((2, 2), (50, 30), 4, 1)
    doc.flood_fill(0, 39, 0)
    doc.undo()
    doc.undo()
    saver.flush()
    assert _journal_records(project, doc.image_id) == 4
    saver.fold()
    np.testing.assert_array_equal(project.read_label(doc.image_id), original)
    doc.redo()
    saver.close()
    np.testing.assert_array_equal(project.read_label(doc.image_id), doc.label)
    assert (project.read_source(doc.image_id) == Source.HUMAN).any()
    doc.undo()  # after close the document is no longer followed
    assert not saver.has_unfolded_edits


def test_switching_images_folds_the_previous_one(project):
    first, second = _document(project, 0), _document(project, 1)
    saver = Autosaver(project, first)
    first.paint_segment((10, 10), (10, 10), 5, 1)
    saver.set_document(second)
    np.testing.assert_array_equal(project.read_label(first.image_id), first.label)
    assert ProjectJournal(project).image_ids() == []


def test_a_switch_can_leave_the_fold_to_the_next_tick(project):
    first, second = _document(project, 0), _document(project, 1)
    saver = Autosaver(project, first)
    first.paint_segment((10, 10), (10, 10), 5, 1)
    saver.set_document(second, fold_previous=False)
    assert _journal_records(project, first.image_id) == 1 and not project.has_masks(first.image_id)
    label, source = saver.read_masks(first.image_id)  # reopening before the fold sees the edit
    np.testing.assert_array_equal(label, first.label)
    np.testing.assert_array_equal(source, first.source)

    second.paint_segment((1, 1), (20, 1), 2, 1)
    saver.tick()
    np.testing.assert_array_equal(project.read_label(first.image_id), first.label)
    assert ProjectJournal(project).image_ids() == [second.image_id]  # waits for its quiet spell
    saver.close()
    np.testing.assert_array_equal(project.read_label(second.image_id), second.label)
    assert ProjectJournal(project).image_ids() == []


def test_a_failed_journal_write_keeps_the_edits_and_retries(project):
    clock = FakeClock()
    doc = _document(project)
    saver = Autosaver(project, doc, clock=clock)
    journal_dir = project.journal_dir
    journal_dir.rmdir()
    journal_dir.write_bytes(b"")  # a real OSError: the journal folder is a plain file now

    doc.paint_segment((5, 5), (40, 30), 3, 1)
    clock.now += 1.5
    saver.tick()  # never raises: the state says what went wrong
    assert saver.state.failed and saver.state.reason.startswith("could not")
    assert str(journal_dir) in saver.state.reason
    assert saver.has_unfolded_edits
    with pytest.raises(SaveError):
        saver.set_document(_document(project, 1))
    assert saver.document is doc  # still on the image whose edits are not safe yet
    assert not project.has_masks(doc.image_id)

    journal_dir.unlink()
    journal_dir.mkdir()
    doc.paint_segment((40, 5), (40, 30), 3, 1)  # later edits stay behind the kept ones
    clock.now += 1.0
    saver.tick()
    assert saver.state.failed  # waits retry_after (2 s) before trying again
    clock.now += 1.5
    saver.tick()
    assert saver.state.state is SaveState.SAVED
    assert _journal_records(project, doc.image_id) == 2
    saver.close()
    np.testing.assert_array_equal(project.read_label(doc.image_id), doc.label)


def test_a_failed_fold_keeps_the_old_masks_and_the_journal(project):
    clock = FakeClock()
    first, second = _document(project, 0), _document(project, 1)
    saver = Autosaver(project, first, clock=clock)
    first.paint_segment((3, 3), (3, 3), 2, 1)
    saver.fold()
    stored = (project.labels_dir / f"{first.image_id}.png").read_bytes()
    first.paint_segment((20, 20), (30, 30), 2, 1)

    sources = project.root / "sources"
    sources.rename(project.root / "sources-away")
    sources.write_bytes(b"")
    with pytest.raises(SaveError, match="could not save"):
        saver.set_document(second)
    assert saver.document is first
    saver.set_document(second, fold_previous=False)  # the person moves on; the fold is retried
    saver.tick()
    assert saver.state.failed and saver.state.reason.startswith("could not save")
    assert (project.labels_dir / f"{first.image_id}.png").read_bytes() == stored
    assert ProjectJournal(project).image_ids() == [first.image_id]

    sources.unlink()
    (project.root / "sources-away").rename(sources)
    clock.now += 2.5
    saver.tick()
    assert saver.state.state is SaveState.SAVED
    np.testing.assert_array_equal(project.read_label(first.image_id), first.label)
    assert ProjectJournal(project).image_ids() == []


def test_the_background_thread_flushes_without_ticks_from_outside(project):
    doc = _document(project)
    saver = Autosaver(project, doc, flush_delay=0.05, idle_fold_after=60)
    saver.start(interval=0.02)
    try:
        doc.paint_segment((1, 1), (9, 9), 2, 1)
        deadline = time.monotonic() + 10
        while _journal_records(project, doc.image_id) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _journal_records(project, doc.image_id) == 1
    finally:
        saver.close()
    np.testing.assert_array_equal(project.read_label(doc.image_id), doc.label)


def test_recover_folds_what_a_crash_left_and_says_so(project):
    doc = _document(project)
    saver = Autosaver(project, doc)
    for x in range(5, 50, 10):
        doc.paint_segment((x, 5), (x, 30), 2, 1)
    saver.flush()  # on disk in the journal, never folded: then the "crash"
    root, name = project.root, project.image(doc.image_id).name
    project.close()

    with Project.open(root) as reopened:
        report = recover(reopened)
        assert [(i.image_id, i.name, i.edits) for i in report.images] == [(doc.image_id, name, 5)]
        assert report.summary() == f"Recovered 5 unsaved edits on 1 image ({name})."
        np.testing.assert_array_equal(reopened.read_label(doc.image_id), doc.label)
        assert ProjectJournal(reopened).image_ids() == []
        assert reopened.history(limit=1)[0]["kind"] == "journal_recovered"
        assert not recover(reopened)  # nothing left the second time


def test_recover_sets_aside_a_journal_that_does_not_fit_and_drops_orphans(project):
    journal = ProjectJournal(project)
    image_id = project.images()[0].id
    box = BBox(0, 0, 2, 2)
    patch = np.zeros((2, 2), np.uint8)
    for target, shape in ((image_id, (7, 7)), (999, SHAPE)):  # wrong size; an image that is gone
        writer = JournalWriter(journal.path(target, 1))
        writer.write([encode_record(box, shape, patch, patch)])
        writer.close()

    report = recover(project)
    assert report.images == []
    assert len(report.failed) == 1 and "7x7" in report.failed[0][1]
    assert "Could not recover" in report.summary()
    names = sorted(p.name for p in project.journal_dir.iterdir())
    assert names == [f"{image_id}.000001.journal.unusable"]
    assert not project.has_masks(image_id)


def test_edits_still_in_the_journal_are_folded_under_their_old_ids_before_a_class_goes(project):
    doc = _document(project)
    saver = Autosaver(project, doc)
    doc.paint_segment((5, 5), (30, 5), 3, 1)
    saver.flush()  # unsaved in labels/ when the class goes (the GUI folds first; this is the fallback)
    project.remove_class(0)  # "cell" becomes id 0; the journal said 1, and is folded before the renumbering
    saver.fold()
    label = project.read_label(doc.image_id)
    assert project.class_names() == ["cell"] and label[5, 5] == 0 and (label == 0).sum() > 20
    assert list(project.journal_dir.iterdir()) == [] and not saver.has_unfolded_edits


def test_edits_of_an_image_removed_meanwhile_are_dropped_quietly(project):
    doc = _document(project)
    saver = Autosaver(project, doc)
    doc.paint_segment((5, 5), (30, 5), 3, 1)
    project.remove_image(doc.image_id)
    saver.close()
    assert saver.state.state is SaveState.SAVED
    assert list(project.journal_dir.iterdir()) == []


def test_read_masks_sees_the_edits_whether_or_not_the_thread_has_folded_them(project):
    first, second = _document(project, 0), _document(project, 1)
    saver = Autosaver(project, first, flush_delay=0.01)
    saver.start(interval=0.001)
    try:
        for round_no in range(15):
            first.paint_segment((2 * round_no, 0), (2 * round_no, 39), 1, round_no % 2)
            saver.set_document(second, fold_previous=False)  # the thread folds `first` meanwhile
            label, source = saver.read_masks(first.image_id)
            np.testing.assert_array_equal(label, first.label)
            np.testing.assert_array_equal(source, first.source)
            saver.set_document(first, fold_previous=False)
    finally:
        saver.close()
    np.testing.assert_array_equal(project.read_label(first.image_id), first.label)
