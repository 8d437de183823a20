"""Defences for reading datasets someone else wrote (docs/architecture.md, "Reliability and safety").

An annotation file names image files, carries embedded images and is parsed as JSON; each of
these can be hostile or simply broken. Everything here raises FormatError with a message that
names the file and the reason, so an importer can report it per file and carry on.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import ntpath
import os
import posixpath
from pathlib import Path
from typing import Any

from segstudio.core.errors import FormatError

MAX_JSON_BYTES = 512 * 2**20
"""Annotation JSON files larger than this are refused instead of read into memory."""

MAX_EMBEDDED_PIXELS = 64 * 2**20
"""Largest image (width x height) accepted from a labelme file's embedded imageData."""


def safe_join(root: Path, relative: str, base: Path | None = None) -> Path:
    """`base / relative` (base defaults to root), refusing any path that is absolute or leaves
    `root`, lexically (`../../x`) or through a symbolic link."""
    text = str(relative).strip()
    if not text:
        raise FormatError("empty image path")
    if "\x00" in text:
        raise FormatError(f"image path {relative!r} contains a NUL byte")
    if posixpath.isabs(text) or ntpath.isabs(text) or ntpath.splitdrive(text)[0]:
        raise FormatError(f"image path {relative!r} is absolute; only paths inside the dataset folder are read")
    root = Path(os.path.abspath(root))
    joined = Path(os.path.normpath(Path(base or root).absolute() / text.replace("\\", "/")))
    if not joined.is_relative_to(root):
        raise FormatError(f"image path {relative!r} leaves the dataset folder")
    if not joined.resolve().is_relative_to(root.resolve()):
        raise FormatError(f"image path {relative!r} leads outside the dataset folder (through a link)")
    return joined


def load_json(path: Path) -> Any:
    """Parse a JSON file, turning truncation and encoding damage into a clear FormatError."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FormatError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if size > MAX_JSON_BYTES:
        raise FormatError(f"{path} is {size / 2**20:.0f} MiB; annotation files over "
                          f"{MAX_JSON_BYTES // 2**20} MiB are refused")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path} is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except OSError as exc:
        raise FormatError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        ending = text.rstrip()[-1:]
        hint = " (the file looks truncated)" if ending not in ("}", "]") else ""
        raise FormatError(f"{path} is not valid JSON{hint}: {exc.msg} at line {exc.lineno} "
                          f"column {exc.colno}") from exc


def decode_embedded_image(data: str, origin: Path, max_pixels: int = MAX_EMBEDDED_PIXELS) -> tuple[bytes, str]:
    """Base64 image bytes and their file suffix, after checking the size in the header only.

    The pixel count is read from the image header (PIL opens lazily) before anything is
    decoded, so a small file that claims a gigantic image is refused without using the memory.
    """
    from PIL import Image, UnidentifiedImageError

    if len(data) > (max_pixels * 4 * 4) // 3 + 1024:
        raise FormatError(f"{origin}: embedded image data is {len(data) / 2**20:.0f} MiB, too large")
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise FormatError(f"{origin}: embedded image data is not base64: {exc}") from exc
    try:
        with Image.open(io.BytesIO(raw)) as image:  # header only; no pixel is decoded here
            width, height = image.size
            kind = (image.format or "png").lower()
    except Image.DecompressionBombError as exc:
        raise FormatError(f"{origin}: embedded image is too large, refused before decoding: {exc}") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise FormatError(f"{origin}: embedded image data is not a readable image: {exc}") from exc
    if width * height > max_pixels:
        raise FormatError(f"{origin}: embedded image is {width}x{height} pixels, over the "
                          f"{max_pixels // 2**20} Mpx limit for embedded images; refused before decoding")
    suffix = {"jpeg": ".jpg", "tiff": ".tif"}.get(kind, f".{kind}")
    return raw, suffix
