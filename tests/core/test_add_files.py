"""Adding images reads each file once: what it records for damaged and lying files, and copies made safe.

Add reads headers, never pixels (issue 15: decoding made add 7x its floor). So a file whose
structure is whole but whose header lies about its size is added with the header's size, and
opening it is where the damage shows: a clear ImageReadError for PNG, and for JPEG what every
decoder makes of it (libjpeg fills missing blocks with grey), at the header's size, so the masks
always fit the picture.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from segstudio.core.errors import ImageReadError
from segstudio.core.progress import drive
from segstudio.core.project import Project
from segstudio.core.project.opening import open_for_editing
from segstudio.core.workspace import Workspace

_PICTURE = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def _encoded(kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_PICTURE).save(buffer, kind)
    return buffer.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """The PNG with its IHDR changed to another size and a correct CRC: structurally whole."""
    png = _encoded("PNG")
    ihdr = struct.pack(">II", width, height) + png[24:29]
    return png[:16] + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + png[33:]


def _jpeg_claiming(width: int, height: int) -> bytes:
    jpeg = bytearray(_encoded("JPEG"))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(jpeg)


def _damaged_idat() -> bytes:
    png = bytearray(_encoded("PNG"))
    start = png.index(b"IDAT") + 4 + 100
    png[start:start + 16] = bytes(16)  # the compressed pixels (its CRC no longer matches either)
    return bytes(png)


HOSTILE = {
    "truncated.png": _encoded("PNG")[:-400],
    "truncated_in_header.png": _encoded("PNG")[:20],
    "claims_more.png": _png_claiming(200, 150),
    "claims_less.png": _png_claiming(32, 24),
    "damaged_pixels.png": _damaged_idat(),
    "claims_more.jpg": _jpeg_claiming(640, 480),
    "bomb.png": _png_claiming(30000, 30000),
    "jpeg_named.png": _encoded("JPEG"),
    "text.png": b"hello, I am not an image\n" * 20,
}


@pytest.fixture()
def added(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    for name, data in HOSTILE.items():
        (folder / name).write_bytes(data)
    with Project.create(tmp_path / "project", ["background", "cell"]) as project:
        report = project.add_images([folder])
        yield project, report


def test_add_refuses_what_its_structure_shows_and_names_why(added):
    _project, report = added
    failed = {path.name: reason for path, reason in report.failed}
    assert set(failed) == {"truncated.png", "truncated_in_header.png", "bomb.png", "text.png"}
    assert "cut short" in failed["truncated.png"]
    assert "truncated" in failed["truncated_in_header.png"] or "cut short" in failed["truncated_in_header.png"]
    assert "far more than" in failed["bomb.png"]
    assert "not an image" in failed["text.png"]
    assert all(name in report.summary(named=len(failed)) for name in failed)


def test_a_lying_header_is_added_at_its_size_and_opening_it_says_what_is_wrong(added):
    project, report = added
    sizes = {record.name: (record.width, record.height) for record in report.added}
    assert sizes == {"claims_more.png": (200, 150), "claims_less.png": (32, 24), "damaged_pixels.png": (64, 48),
                     "claims_more.jpg": (640, 480), "jpeg_named.png": (64, 48)}
    ids = {record.name: record.id for record in report.added}
    for name in ("claims_more.png", "claims_less.png", "damaged_pixels.png"):
        with pytest.raises(ImageReadError, match="image data is damaged") as info:
            open_for_editing(project, ids[name])
        assert name in str(info.value)
    opened = open_for_editing(project, ids["claims_more.jpg"])  # grey where the data runs out, as any viewer
    assert opened.image.display.shape == (480, 640, 3) and opened.label.shape == (480, 640)
    opened = open_for_editing(project, ids["jpeg_named.png"])
    decoded = np.array(Image.open(io.BytesIO(HOSTILE["jpeg_named.png"])))  # the content decides, not the name
    assert np.abs(opened.image.raw.astype(int) - decoded).max() <= 2
    assert any("JPEG" in note for note in opened.image.notes)


def test_the_workspace_keeps_the_open_image_when_a_lying_file_fails_to_open(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    Image.fromarray(_PICTURE).save(folder / "good.png")
    (folder / "lying.png").write_bytes(_png_claiming(200, 150))
    workspace = Workspace()
    try:
        workspace.create(tmp_path / "project", ["background", "cell"], [folder])
        ids = {record.name: record.id for record in workspace.project.images()}
        workspace.open_image(ids["good.png"])
        with pytest.raises(ImageReadError, match="lying.png"):
            workspace.open_image(ids["lying.png"])
        assert workspace.document.image_id == ids["good.png"]
    finally:
        workspace.close()


def test_copies_are_synced_with_their_batch_and_a_vanished_copy_is_reported(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(np.roll(_PICTURE, index, axis=0)).save(folder / f"im{index}.png")
    with Project.create(tmp_path / "project", ["background", "cell"]) as project:
        adding = project.iter_add_images([folder], copy=True)
        next(adding), next(adding)  # im0 copied, im1 in hand
        (project.root / "images" / "im0.png").unlink()  # lost before its batch was synced
        report = drive(adding)
        assert [record.name for record in report.added] == ["im1.png", "im2.png"]
        assert [(path, reason) for path, reason in report.failed] == [(folder / "im0.png", "No such file or directory")]
        for record in report.added:
            assert record.path.read_bytes() == (folder / record.name).read_bytes()
        assert sorted(p.name for p in (project.root / "images").iterdir()) == ["im1.png", "im2.png"]


def test_big_files_read_in_blocks_give_the_same_report(tmp_path, monkeypatch):
    """Files over images._WHOLE_FILE are hashed in blocks and checked from the file: same answers."""
    import segstudio.core.project.images as images

    folder = tmp_path / "files"
    folder.mkdir()
    for name, data in HOSTILE.items():
        (folder / name).write_bytes(data)
    reports = []
    for whole_file in (images._WHOLE_FILE, 64):
        monkeypatch.setattr(images, "_WHOLE_FILE", whole_file)
        monkeypatch.setattr(images, "_BLOCK", 100)  # several blocks per file, and a header split across them
        monkeypatch.setattr(Project, "_POOL_FROM_BYTES", 0)  # and read on the pool
        with Project.create(tmp_path / f"project{whole_file}", ["background", "cell"]) as project:
            report = project.add_images([folder])
            reports.append(([(r.name, r.width, r.height, r.checksum) for r in report.added], report.failed))
    assert reports[0] == reports[1] and len(reports[0][0]) == 5


@pytest.mark.parametrize("listed_size", [0, 10, "big"])
def test_a_file_that_changed_size_after_listing_is_hashed_and_checked_whole(tmp_path, listed_size):
    """Add reads as many bytes as the listing saw, plus one: a file that grew since is still
    hashed to its end (in blocks), and one that shrank is checked as the whole file it now is."""
    import hashlib

    import segstudio.core.project.images as images

    data = _encoded("png")
    path = tmp_path / "im.png"
    path.write_bytes(data)
    size = images._WHOLE_FILE + 1 if listed_size == "big" else listed_size
    [(checksum, width, height, error)] = images._examine_all([path], [size])
    assert (checksum, width, height, error) == (hashlib.sha256(data).hexdigest(), 64, 48, None)
    path.write_bytes(data[:len(data) // 2])  # cut short after the listing saw it whole
    [(checksum, _w, _h, error)] = images._examine_all([path], [len(data)])
    assert checksum == hashlib.sha256(data[:len(data) // 2]).hexdigest() and error is not None
