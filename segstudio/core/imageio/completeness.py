"""Cheap checks that a PNG or JPEG file is whole before it joins a project.

The header alone gives the size, so `add` would accept a file cut short by a failed copy,
or a JPEG whose header claims 2.7 gigapixels in 633 bytes; it would only fail (or decode to
grey, or try to allocate gigabytes) when opened. These checks read the file's structure,
not its pixels:

- PNG: the chunks are walked up to IEND (a truncated file has none), and there is IDAT data.
- JPEG: the markers are walked up to the first scan (SOS); a file without one has no image
  data; after it must come an end-of-image marker (a cut-short file has none).
- Both: no more pixels than the file's compressed bytes can hold. The densest real encodings
  (deflate of 1-bit rows: about 8,300 pixels a byte; JPEG: at least two bits per 8 x 8 block,
  about 256 pixels a byte) stay far below MAX_PIXELS_PER_BYTE.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

from segstudio.core.errors import ImageReadError
from segstudio.core.imageio.headers import PNG_MAGIC

MAX_PIXELS_PER_BYTE = 20_000
_BLOCK = 1 << 20


def check_complete(path: Path, width: int, height: int, data: bytes | None = None) -> None:
    """ImageReadError when a PNG/JPEG is cut short, has no image data, or claims too many pixels.

    `data`: the whole file when the caller holds it already (add reads each file once)."""
    try:
        with (open(path, "rb") if data is None else io.BytesIO(data)) as handle:
            head = handle.read(8)
            size = handle.seek(0, 2)
            if head.startswith(PNG_MAGIC):
                _check_png(handle, size, path)
            elif head.startswith(b"\xff\xd8"):
                _check_jpeg(handle, size, path)
            else:
                return
    except OSError as exc:
        raise ImageReadError(path, exc.strerror or str(exc)) from exc
    if width * height > size * MAX_PIXELS_PER_BYTE:
        raise ImageReadError(path, f"its header claims {width} x {height} pixels, far more than its {size:,} bytes "
                                   "can hold: the file is damaged or made to exhaust memory")


def _check_png(handle, size: int, path: Path) -> None:
    offset, seen_data = 8, False
    while True:
        handle.seek(offset)
        header = handle.read(8)
        if len(header) < 8:
            raise ImageReadError(path, "the PNG file is cut short (it has no end chunk)")
        length, kind = struct.unpack(">I4s", header)
        seen_data |= kind == b"IDAT"
        if kind == b"IEND":
            if not seen_data:
                raise ImageReadError(path, "the PNG file has no image data")
            return
        offset += 12 + length
        if offset > size:
            raise ImageReadError(path, "the PNG file is cut short (a chunk runs past its end)")


def _check_jpeg(handle, size: int, path: Path) -> None:
    offset = 2
    while True:
        handle.seek(offset)
        marker = handle.read(4)
        if len(marker) < 2 or marker[0] != 0xFF:
            raise ImageReadError(path, "the JPEG file is cut short or damaged before its image data")
        kind = marker[1]
        if kind == 0xFF:  # fill byte
            offset += 1
            continue
        if kind == 0xDA:  # start of scan: the compressed data follows its header
            offset += 2 + struct.unpack(">H", marker[2:4])[0]
            handle.seek(offset)
            if handle.read(2) in (b"", b"\xff\xd9"):
                raise ImageReadError(path, "the JPEG file has no image data (its scan is empty)")
            break
        if kind == 0xD9:
            raise ImageReadError(path, "the JPEG file has no image data (no scan before its end)")
        if 0xD0 <= kind <= 0xD7 or kind == 0x01:
            offset += 2
            continue
        if len(marker) < 4:
            raise ImageReadError(path, "the JPEG file is cut short before its image data")
        offset += 2 + struct.unpack(">H", marker[2:4])[0]
    handle.seek(offset)
    previous = b""
    while block := handle.read(_BLOCK):  # scan data stuffs every 0xFF, so FF D9 can only be the end
        if b"\xff\xd9" in previous[-1:] + block:
            return
        previous = block
    raise ImageReadError(path, "the JPEG file is cut short (its image data has no end-of-image marker)")
