"""The edit journal: records survive, a torn tail is dropped, replay and fold are exact, and a
failed write leaves what was on disk as it was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segstudio.core.errors import SaveError
from segstudio.core.geometry import BBox
from segstudio.core.journal import (
    JournalError, JournalWriter, ProjectJournal, apply_records, decode_records, encode_record,
    read_journal_file,
)
from segstudio.core.project import IGNORE, Project

SHAPE = (48, 64)


def _random_edit(rng: np.random.Generator, dtype=np.uint8) -> tuple[BBox, np.ndarray, np.ndarray]:
    y0, x0 = int(rng.integers(0, SHAPE[0] - 1)), int(rng.integers(0, SHAPE[1] - 1))
    y1, x1 = int(rng.integers(y0 + 1, SHAPE[0] + 1)), int(rng.integers(x0 + 1, SHAPE[1] + 1))
    box = BBox(y0, x0, y1, x1)
    label = rng.integers(0, 3, size=(box.height, box.width)).astype(dtype)
    source = rng.integers(0, 4, size=(box.height, box.width)).astype(np.uint8)
    return box, label, source


@pytest.fixture()
def edits():
    rng = np.random.default_rng(7)
    return [_random_edit(rng) for _ in range(6)]


def _expected(edits, label=None, source=None):
    label = np.full(SHAPE, IGNORE, np.uint8) if label is None else label.copy()
    source = np.zeros(SHAPE, np.uint8) if source is None else source.copy()
    for box, lab, src in edits:
        label[box.slices] = lab
        source[box.slices] = src
    return label, source


def _write(path: Path, edits) -> None:
    writer = JournalWriter(path)
    writer.write([encode_record(box, SHAPE, lab, src) for box, lab, src in edits])
    writer.close()


def test_records_survive_a_round_trip_through_the_file(tmp_path, edits):
    path = tmp_path / "1.000001.journal"
    writer = JournalWriter(path)
    writer.write([encode_record(box, SHAPE, lab, src) for box, lab, src in edits[:3]])
    writer.write([encode_record(box, SHAPE, lab, src) for box, lab, src in edits[3:]])
    writer.close()
    with pytest.raises(SaveError, match="could not open"):
        JournalWriter(path)  # never appends behind what may be a torn tail
    read = read_journal_file(path)
    assert read.dropped_bytes == 0
    assert [r.bbox for r in read.records] == [box for box, _, _ in edits]
    for record, (box, lab, src) in zip(read.records, edits):
        assert record.shape == SHAPE
        np.testing.assert_array_equal(record.label, lab)
        np.testing.assert_array_equal(record.source, src)


def test_uint16_labels_round_trip_and_old_uint8_records_widen():
    rng = np.random.default_rng(3)
    box, lab, src = _random_edit(rng, np.uint16)
    lab[0, 0] = 300
    (record,) = decode_records(encode_record(box, SHAPE, lab, src)).records
    assert record.label.dtype == np.uint16
    np.testing.assert_array_equal(record.label, lab)

    narrow = np.full((box.height, box.width), IGNORE, np.uint8)
    label16 = np.zeros(SHAPE, np.uint16)
    apply_records(decode_records(encode_record(box, SHAPE, narrow, src)).records, label16, np.zeros(SHAPE, np.uint8))
    assert (label16[box.slices] == 65535).all()  # unlabelled stays unlabelled, not class 255


def test_every_torn_tail_is_dropped_and_the_records_before_it_kept(tmp_path, edits):
    data = b"".join(encode_record(box, SHAPE, lab, src) for box, lab, src in edits)
    box, lab, src = edits[-1]
    last = len(encode_record(box, SHAPE, lab, src))
    whole = len(data)
    for cut in range(whole - last, whole):  # every length that tears the last record
        read = decode_records(data[:cut])
        assert len(read.records) == len(edits) - 1
        assert read.dropped_bytes == cut - (whole - last)
    assert len(decode_records(data).records) == len(edits)


@pytest.mark.parametrize("index", [0, 2], ids=["first", "middle"])
@pytest.mark.parametrize("where", [-3, 5, 9], ids=["payload", "length", "checksum"])
def test_a_damaged_record_costs_only_itself(edits, where, index):
    chunks = [encode_record(box, SHAPE, lab, src) for box, lab, src in edits]
    damaged = bytearray(chunks[index])
    damaged[where] ^= 0xFF
    read = decode_records(b"".join([*chunks[:index], bytes(damaged), *chunks[index + 1:]]))
    whole = decode_records(b"".join(chunks)).records
    assert [r.bbox for r in read.records] == [r.bbox for i, r in enumerate(whole) if i != index]
    assert read.skipped_records == 1 and read.dropped_bytes == 0


def test_a_record_for_another_image_size_is_refused(edits):
    records = decode_records(b"".join(encode_record(box, SHAPE, lab, src) for box, lab, src in edits)).records
    with pytest.raises(JournalError, match="64x48"):
        apply_records(records, np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8))


def test_patches_that_do_not_fit_their_box_are_refused():
    with pytest.raises(ValueError, match="do not match"):
        encode_record(BBox(0, 0, 2, 2), SHAPE, np.zeros((3, 2), np.uint8), np.zeros((2, 2), np.uint8))


def test_a_write_the_disk_refuses_raises_save_error_and_leaves_a_droppable_tail(tmp_path, edits):
    """A real kernel refusal mid-record (EFBIG from a file size limit, like a full disk)."""
    resource = pytest.importorskip("resource")
    import signal

    path = tmp_path / "1.000001.journal"
    writer = JournalWriter(path)
    writer.write([encode_record(box, SHAPE, lab, src) for box, lab, src in edits[:2]])
    good_size = path.stat().st_size
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (good_size + 100, limits[1]))
    try:
        with pytest.raises(SaveError, match="could not write the edit journal .* File too large"):
            writer.write([encode_record(box, SHAPE, lab, src) for box, lab, src in edits[2:]])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, old_handler)
        writer.close()
    read = read_journal_file(path)
    assert len(read.records) == 2 and read.dropped_bytes == 100


# ------------------------------------------------------------------ with a project


@pytest.fixture()
def project(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(2):
        Image.fromarray(np.full((*SHAPE, 3), 40 * i, np.uint8)).save(images / f"img{i}.png")
    with Project.create(tmp_path / "proj", ["background", "cell", "nucleus"]) as project:
        project.add_images([images])
        yield project


def _image_id(project) -> int:
    return project.images()[0].id


def test_fold_applies_the_journal_in_order_and_deletes_it(project, edits):
    image_id = _image_id(project)
    journal = ProjectJournal(project)
    _write(journal.path(image_id, 1), edits[:4])
    _write(journal.path(image_id, 2), edits[4:])
    assert journal.image_ids() == [image_id]

    label, source, read = journal.replay(image_id)
    expected_label, expected_source = _expected(edits)
    np.testing.assert_array_equal(label, expected_label)
    assert not project.has_masks(image_id)  # replay writes nothing

    journal.fold(image_id)
    np.testing.assert_array_equal(project.read_label(image_id), expected_label)
    np.testing.assert_array_equal(project.read_source(image_id), expected_source)
    assert journal.image_ids() == []
    assert not any(project.journal_dir.iterdir())


def test_folding_again_after_a_crash_before_the_delete_changes_nothing(project, edits):
    image_id = _image_id(project)
    journal = ProjectJournal(project)
    _write(journal.path(image_id, 1), edits)
    journal.fold(image_id)
    _write(journal.path(image_id, 1), edits)  # as if the crash came before the journal was deleted
    journal.fold(image_id)
    expected_label, expected_source = _expected(edits)
    np.testing.assert_array_equal(project.read_label(image_id), expected_label)
    np.testing.assert_array_equal(project.read_source(image_id), expected_source)


def test_fold_up_to_a_generation_keeps_the_newer_ones(project, edits):
    image_id = _image_id(project)
    journal = ProjectJournal(project)
    _write(journal.path(image_id, 1), edits[:3])
    _write(journal.path(image_id, 2), edits[3:])
    journal.fold(image_id, up_to=1)
    assert [g for g, _ in journal.files(image_id)] == [2]
    np.testing.assert_array_equal(project.read_label(image_id), _expected(edits[:3])[0])
    journal.fold(image_id)
    np.testing.assert_array_equal(project.read_label(image_id), _expected(edits)[0])


def test_a_failed_fold_keeps_the_old_masks_and_the_journal(project, edits):
    image_id = _image_id(project)
    journal = ProjectJournal(project)
    _write(journal.path(image_id, 1), edits[:2])
    journal.fold(image_id)
    before = project.read_label(image_id)
    before_bytes = (project.labels_dir / f"{image_id}.png").read_bytes()
    _write(journal.path(image_id, 1), edits[2:])

    # A real failure: sources/ is now a plain file, so the second PNG cannot be written.
    sources = project.root / "sources"
    moved = project.root / "sources-moved"
    sources.rename(moved)
    sources.write_bytes(b"not a folder")
    with pytest.raises(SaveError, match="could not save"):
        journal.fold(image_id)
    assert (project.labels_dir / f"{image_id}.png").read_bytes() == before_bytes
    assert journal.image_ids() == [image_id]
    assert not [p for p in project.labels_dir.iterdir() if p.name.startswith(".")]  # no temp files left

    sources.unlink()
    moved.rename(sources)
    journal.fold(image_id)
    np.testing.assert_array_equal(project.read_label(image_id), _expected(edits[2:], before)[0])
    assert journal.image_ids() == []


def test_removing_an_image_removes_its_journal(project, edits):
    image_id = _image_id(project)
    journal = ProjectJournal(project)
    _write(journal.path(image_id, 1), edits)
    project.remove_image(image_id)
    assert journal.image_ids() == []
