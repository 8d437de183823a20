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

MAX_YAML_BYTES = 2**20
"""data.yaml files larger than this are refused (a YOLO config is a few hundred bytes)."""


def inside(root: Path, path: Path) -> bool:
    """Whether `path`, with every link followed, lies inside `root` (also with links followed)."""
    try:
        return path.resolve().is_relative_to(Path(root).resolve())
    except (OSError, RuntimeError):  # a link loop
        return False


def dataset_files(root: Path, folder: Path, pattern: str, recursive: bool = True) -> list[Path]:
    """Regular files under `folder` matching `pattern`, sorted, leaving out hidden files and
    every path that leads outside the dataset folder `root` through a link. The one way the
    importers list files, so that no link makes them read (or copy) something outside."""
    if not folder.is_dir() or not inside(root, folder):
        return []
    found = folder.rglob(pattern) if recursive else folder.glob(pattern)
    return sorted(p for p in found if not p.name.startswith(".") and inside(root, p) and p.is_file())


def dataset_file(root: Path, path: Path) -> Path | None:
    """`path` when it is a regular file inside `root` (links followed), else None."""
    return path if path.is_file() and inside(root, path) else None


MAX_TEXT_BYTES = 64 * 2**20
"""Class lists, split lists and colour tables larger than this are refused."""


def dataset_text(root: Path, path: Path) -> str | None:
    """A small text file of the dataset (class list, split list, label map): None when it does
    not exist; refused when a link leads outside the dataset folder, when it is too large or
    not UTF-8. Nothing of its content is put in a message."""
    if not path.exists() and not path.is_symlink():
        return None
    if not inside(root, path) or not path.is_file():
        raise FormatError(f"{path} is not a regular file inside the dataset folder (a link leading outside?); refused")
    try:
        if path.stat().st_size > MAX_TEXT_BYTES:
            raise FormatError(f"{path} is over {MAX_TEXT_BYTES // 2**20} MiB; refused")
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise FormatError(f"cannot read {path}: {exc.strerror or exc}") from None


def load_yaml(path: Path) -> Any:
    """Parse a small YAML file safely: size-bounded, plain data only, no anchors or aliases
    (so a 700-byte alias bomb cannot expand into gigabytes)."""
    import yaml

    class _NoAliases(yaml.SafeLoader):
        def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's own signature
            if self.check_event(yaml.AliasEvent):
                raise FormatError(f"{path} uses YAML aliases (*name); they are refused in dataset files")
            return super().compose_node(parent, index)

    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise FormatError(f"{path} is {size // 1024} KiB; YAML dataset files over "
                              f"{MAX_YAML_BYTES // 1024} KiB are refused")
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise FormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return yaml.load(text, Loader=_NoAliases)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise FormatError(f"{path} nests lists or mappings too deeply to be a dataset file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise FormatError(f"{path} is not valid YAML{where}") from None


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
    if not inside(root, joined):
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
    except RecursionError:
        raise FormatError(f"{path} nests arrays or objects too deeply to be an annotation file") from None
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
