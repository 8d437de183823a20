"""The header parsers behind probe_image: Pillow's answer or none at all, never another one."""

from __future__ import annotations

import io
import struct
import tempfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from segstudio.core.errors import ImageReadError
from segstudio.core.imageio import HEAD_BYTES, decoders, headers, probe_image, read_image
from tests.data_makers.awkward_images import make_corpus


def _pillow(path: Path):
    """What probe_image answered before the parsers: Pillow's reading of the header."""
    info, orientation = decoders.probe_pil(path)
    return info, orientation


def _png(array: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", **options)
    return buffer.getvalue()


def _jpeg(array: np.ndarray, mode: str | None = None, **options) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(array)
    (image.convert(mode) if mode else image).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def _plain_files() -> dict[str, bytes]:
    """Files the parsers must answer themselves: every PNG layout Pillow and OpenCV write, common JPEGs."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (21, 34, 3), dtype=np.uint8)
    grey = rgb[:, :, 0]
    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    files = {
        "grey8.png": _png(grey), "rgb8.png": _png(rgb), "rgba8.png": _png(np.dstack([rgb, grey])),
        "grey_alpha8.png": _png(np.dstack([grey, grey]), ),
        "bilevel.png": _png(grey > 128),
        "grey16.png": cv2.imencode(".png", grey.astype(np.uint16) * 250)[1].tobytes(),
        "rgb16.png": cv2.imencode(".png", rgb.astype(np.uint16) * 250)[1].tobytes(),
        "rgba16.png": cv2.imencode(".png", np.dstack([rgb, grey]).astype(np.uint16) * 250)[1].tobytes(),
        "rgb_with_trns.png": _png(rgb, transparency=(1, 2, 3)),
        "jpeg_rgb.jpg": _jpeg(rgb), "jpeg_grey.jpg": _jpeg(grey), "jpeg_cmyk.jpg": _jpeg(rgb, "CMYK"),
        "jpeg_progressive.jpg": _jpeg(rgb, progressive=True),
        "jpeg_icc.jpg": _jpeg(rgb, icc_profile=b"\0" * 3000),
        "jpeg_restart.jpg": _jpeg(rgb, restart_marker_blocks=1),
    }
    for bits in (1, 2, 4, 8):
        buffer = io.BytesIO()
        palette.save(buffer, "PNG", bits=bits)
        files[f"palette{bits}.png"] = buffer.getvalue()
    buffer = io.BytesIO()
    palette.save(buffer, "PNG", transparency=0)
    files["palette_transparent.png"] = buffer.getvalue()
    return files


PLAIN = sorted(_plain_files())


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("plain")
    paths = {}
    for name, data in _plain_files().items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    return paths


@pytest.mark.parametrize("name", PLAIN)
def test_plain_headers_are_parsed_and_agree_with_pillow(plain, name):
    data = plain[name].read_bytes()
    info = headers.sniff(data)
    assert info is not None, "a plain file must not need Pillow"
    assert (info, 1) == _pillow(plain[name])
    assert headers.sniff(data[:HEAD_BYTES]) == info  # what probe_image reads of a file
    loaded = read_image(plain[name])
    assert (info.height, info.width, info.channels) == loaded.raw.shape and info.dtype == str(loaded.raw.dtype)


def test_every_file_of_the_awkward_corpus_gets_pillows_answer_or_none():
    with tempfile.TemporaryDirectory() as folder:
        answered = 0
        for case in make_corpus(Path(folder)):
            if not case.path.is_file():
                continue
            data = case.path.read_bytes()
            info = headers.sniff(data)
            if info is None:
                continue
            answered += 1
            assert (info, 1) == _pillow(case.path), case.name  # Pillow reads the same header, damaged or not
        assert answered >= 5


def _exif_jpeg(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _jpeg(np.zeros((10, 20, 3), np.uint8), exif=exif.tobytes())


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _with_chunk_before_data(png: bytes, kind: bytes, payload: bytes) -> bytes:
    at = png.index(b"IDAT") - 4
    return png[:at] + _chunk(kind, payload) + png[at:]


@pytest.mark.parametrize("case", ["exif jpeg", "xmp jpeg", "png exif", "apng", "bad ihdr crc", "short head",
                                  "jpeg 12 bit", "not an image"])
def test_what_could_change_the_answer_is_left_to_pillow(tmp_path, case):
    png = _png(np.zeros((10, 20, 3), np.uint8))
    data = {
        "exif jpeg": _exif_jpeg(6),
        "xmp jpeg": _jpeg(np.zeros((10, 20, 3), np.uint8), xmp=b'<x tiff:Orientation="6"/>'),
        "png exif": _with_chunk_before_data(png, b"eXIf", b"MM\x00*\x00\x00\x00\x08\x00\x00"),
        "apng": _with_chunk_before_data(png, b"acTL", struct.pack(">II", 2, 0)),
        "bad ihdr crc": png[:29] + bytes([png[29] ^ 0xFF]) + png[30:],
        "short head": png[:30],
        "jpeg 12 bit": None,
        "not an image": b"GIF89a" + b"\0" * 40,
    }[case]
    if data is None:
        jpeg = bytearray(_jpeg(np.zeros((8, 8, 3), np.uint8)))
        jpeg[jpeg.index(b"\xff\xc0") + 4] = 12
        data = bytes(jpeg)
    assert headers.sniff(data) is None


def test_an_orientation_in_exif_or_xmp_still_turns_the_probed_size(tmp_path):
    path = tmp_path / "turned.jpg"
    path.write_bytes(_exif_jpeg(6))
    assert (probe_image(path).width, probe_image(path).height) == (10, 20)
    path.write_bytes(_jpeg(np.zeros((10, 20, 3), np.uint8), xmp=b'<x tiff:Orientation="8"/>'))
    assert (probe_image(path).width, probe_image(path).height) == (10, 20) == read_image(path).raw.shape[1::-1]


def test_a_header_beyond_the_first_bytes_is_still_read(tmp_path):
    """A text chunk bigger than HEAD_BYTES before the image data: Pillow reads the file itself."""
    path = tmp_path / "chatty.png"
    png = _png(np.zeros((10, 20, 3), np.uint8))
    path.write_bytes(_with_chunk_before_data(png, b"tEXt", b"comment\0" + b"x" * (2 * HEAD_BYTES)))
    assert headers.sniff(path.read_bytes()[:HEAD_BYTES]) is None
    info = probe_image(path)
    assert (info.width, info.height, info.channels) == (20, 10, 3)


def test_a_broken_header_is_the_same_typed_error_as_before(tmp_path):
    path = tmp_path / "broken.png"
    png = _png(np.zeros((10, 20, 3), np.uint8))
    path.write_bytes(png[:29] + bytes([png[29] ^ 0xFF]) + png[30:])
    with pytest.raises(ImageReadError, match="broken.png"):
        probe_image(path)
    path.write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        probe_image(path)
    with pytest.raises(ImageReadError, match="empty"):
        probe_image(path, head=b"")
