"""Atomic file writes: a temporary file beside the target, fsync, then os.replace.

A crash, a full disk or a read-only folder never leaves a half-written file in place of a good
one: either the new content is there completely, or the old file is untouched and SaveError
says why.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np

from segstudio.core.errors import SaveError


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".segstudio-tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
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


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def encode_png(array: np.ndarray, palette: list[int] | None = None, compress_level: int = 1) -> bytes:
    """PNG bytes of a 2-D uint8/uint16 array (or HxWx3 uint8), optionally with a palette.

    Level 1 compression: masks are mostly flat, so it is small and several times faster
    than the default.
    """
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(array))  # uint16 2-D arrays become mode "I;16"
    if palette is not None:
        image = image.convert("P") if image.mode != "P" else image
        image.putpalette(palette)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def atomic_write_png(path: str | os.PathLike, array: np.ndarray, palette: list[int] | None = None) -> None:
    atomic_write_bytes(path, encode_png(array, palette))


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
