"""Header facts of plain PNG and JPEG files from their first bytes, without Pillow.

`probe_image` (and so `add`) needs each image's size. Pillow reads only the header too, but its
machinery (plug-in lookup, file objects, chunk handlers) costs about 60 us a file, more than
hashing a small file; these parsers cost a few. They answer only the plain cases, where the
answer is certainly the one Pillow and `read_image` give, and return None for everything else
so that Pillow reads the header as before:

- PNG: IHDR first, every chunk before the image data whole and with a good CRC (Pillow checks
  them too), a valid bit depth / colour type pair; not when an eXIf chunk could turn the
  picture or an acTL chunk makes it an animation.
- JPEG: the markers walked from SOI to the scan (SOS), one 8-bit frame of 1, 3 or 4 components;
  not when an APP1 segment (EXIF or XMP: orientation) or an MPF segment (several pictures) is
  there, nor on anything Pillow would step over as junk.
"""

from __future__ import annotations

import struct
import zlib

from segstudio.core.imageio.decoders import PNG_CHANNELS, ImageInfo

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}  # colour type -> bit depths
_PNG_UNSURE = (b"eXIf", b"acTL")
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_SEGMENTS = frozenset({0xC4, 0xCC, 0xDB, 0xDD, 0xE0, 0xFE} | set(range(0xE2, 0xF0)))  # skipped by length
_JPEG_CHANNELS = {1: 1, 3: 3, 4: 3}  # CMYK is shown as RGB


def sniff(head: bytes) -> ImageInfo | None:
    """ImageInfo of a plain PNG or JPEG from the file's first bytes (the whole file or a prefix
    that reaches the image data), or None: let Pillow read the header."""
    if head.startswith(PNG_MAGIC):
        return _png(head)
    if head.startswith(b"\xff\xd8\xff"):
        return _jpeg(head)
    return None


def _png(head: bytes) -> ImageInfo | None:
    offset, ihdr, transparent = 8, None, False
    while offset + 8 <= len(head):
        length, kind = struct.unpack_from(">I4s", head, offset)
        if kind == b"IDAT":
            break
        end = offset + 8 + length
        if end + 4 > len(head) or kind in _PNG_UNSURE or (ihdr is None) != (kind == b"IHDR"):
            return None
        if zlib.crc32(head[offset + 4:end]) != int.from_bytes(head[end:end + 4], "big"):
            return None  # Pillow refuses it ("broken PNG file"): let it say so
        if kind == b"IHDR":
            if length != 13:
                return None
            ihdr = head[offset + 8:end]
        transparent |= kind == b"tRNS"
        offset = end + 4
    else:
        return None  # the image data starts beyond these bytes
    if ihdr is None:
        return None
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", ihdr)
    if depth not in _PNG_DEPTHS.get(colour, ()) or compression or filtering or interlace > 1:
        return None
    if not 0 < width < 2**31 or not 0 < height < 2**31:
        return None
    channels = (4 if transparent else 3) if colour == 3 else PNG_CHANNELS[colour]
    return ImageInfo(width, height, channels, "uint16" if depth == 16 else "uint8", "PNG", 1)


def _jpeg(head: bytes) -> ImageInfo | None:
    offset, frame = 2, None
    while offset + 4 <= len(head):
        if head[offset] != 0xFF:
            return None
        marker = head[offset + 1]
        length = int.from_bytes(head[offset + 2:offset + 4], "big")
        if length < 2 or offset + 2 + length > len(head):
            return None
        segment = head[offset + 4:offset + 2 + length]
        if marker == 0xDA:  # start of scan: the header is complete
            break
        if marker in _JPEG_SOF:
            if frame is not None or len(segment) < 6:
                return None
            frame = segment
        elif marker == 0xE2 and segment.startswith(b"MPF\x00"):
            return None  # a multi-picture file
        elif marker not in _JPEG_SEGMENTS:
            return None  # APP1 (orientation), or anything unusual
        offset += 2 + length
    else:
        return None
    if frame is None or frame[0] != 8 or frame[5] not in _JPEG_CHANNELS:
        return None
    height, width = struct.unpack_from(">HH", frame, 1)
    if width == 0 or height == 0:
        return None
    return ImageInfo(width, height, _JPEG_CHANNELS[frame[5]], "uint8", "JPEG", 1)
