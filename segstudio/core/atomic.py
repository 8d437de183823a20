"""Atomic file writes: a temporary file beside the target, fsync, then os.replace.

A crash, a full disk or a read-only folder never leaves a half-written file in place of a good
one: either the new content is there completely, or the old file is untouched and SaveError
says why. Nothing is written through a link: `check_write_target` (behind every write here)
refuses a target that is a link, a folder or a device; for the files of a project (shared
folders) also a folder that is a link, and new project files are created with O_NOFOLLOW.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import tempfile
from pathlib import Path

import numpy as np

from segstudio.core.errors import SaveError

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once at import: os.umask can only be read by setting it


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # not on Windows, where links need privileges to make


def link_kind(path: str | os.PathLike) -> str | None:
    """What `path` is without following it: "link", "folder", "file", "special file", or None."""
    mode = os.lstat(path).st_mode if os.path.lexists(path) else None
    if mode is None:
        return None
    if stat.S_ISLNK(mode):
        return "link"
    return "folder" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "special file"


def check_write_target(path: str | os.PathLike, *, project_file: bool = False) -> Path:
    """`path` if writing it stays where it says: SaveError when it exists as anything but a
    regular file (a link, a folder, a fifo), and for a `project_file` also when its folder is
    a link (a person's own destinations, e.g. an export folder, may well be links)."""
    path = Path(path)
    checks = [(path, "file")] + ([(path.parent, "folder")] if project_file else [])
    try:
        for item, wanted in checks:
            kind = link_kind(item)
            if kind not in (None, wanted):
                raise SaveError(f"refused to write {path}: {item} is a {kind}, not a {wanted} "
                                "(nothing is written through links)")
    except OSError as exc:
        raise SaveError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def create_new_file(path: str | os.PathLike, mode: int = 0o666):
    """Open a new file of a project (it must not exist yet) for writing ("xb"), never through
    a link: neither the file nor its folder may be one."""
    path = check_write_target(path, project_file=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    return os.fdopen(os.open(path, flags, mode), "wb", buffering=0)


def is_read_only_error(exc: OSError) -> bool:
    return exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, project_file: bool = False) -> None:
    path = Path(path)
    tmp_name = None
    try:
        handle, tmp_name = temp_file_beside(path, project_file=project_file)
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
        fsync_dir(path.parent)
    except OSError as exc:
        raise SaveError(f"could not save {path}: {exc.strerror or exc}") from exc
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


def temp_file_beside(path: Path, *, project_file: bool = False) -> tuple:
    """A new temp file next to `path` (same file system, so os.replace is atomic), opened "wb".

    It gets the permissions `path` has, or the umask's for a new file (mkstemp alone gives 0600,
    which would leave exported datasets readable by their owner only).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    check_write_target(path, project_file=project_file)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".segstudio-tmp", dir=path.parent)
    try:
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_UMASK
        os.chmod(tmp_name, mode)
    except OSError:
        pass  # a file system without permissions (e.g. FAT): the default is fine
    return os.fdopen(fd, "wb"), tmp_name


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def encode_png(array: np.ndarray, palette: list[int] | None = None, compress_level: int = 1) -> bytes:
    """PNG bytes of a 2-D uint8/uint16 array (or HxWx3 uint8), optionally with a palette.

    Masks (2-D, no palette) go through OpenCV at zlib level 1 without PNG row filters: a map
    of class ids is flat, so filters only cost time, and an 8k label map writes and reads about
    three times faster than Pillow's level 1 for files about a third larger. They are ordinary
    grey PNGs (16-bit big-endian as the format says) that any reader opens.
    """
    array = np.ascontiguousarray(array)
    if palette is None and array.ndim == 2 and array.dtype in (np.uint8, np.uint16):
        import cv2

        params = [cv2.IMWRITE_PNG_COMPRESSION, compress_level, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
        ok, data = cv2.imencode(".png", array, params)
        if not ok:
            raise SaveError(f"could not encode a {array.shape[1]}x{array.shape[0]} {array.dtype} map as PNG")
        return data.tobytes()
    from PIL import Image

    image = Image.fromarray(array)
    if palette is not None:
        image = image.convert("P") if image.mode != "P" else image
        image.putpalette(palette)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def atomic_write_png(path: str | os.PathLike, array: np.ndarray, palette: list[int] | None = None, *,
                     project_file: bool = False) -> None:
    atomic_write_bytes(path, encode_png(array, palette), project_file=project_file)


def fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
