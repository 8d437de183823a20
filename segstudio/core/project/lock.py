"""One writer per project: an OS file lock that dies with its process.

flock (POSIX) / msvcrt (Windows) locks are released by the operating system when the process
ends, even by kill -9, so a crash never leaves a stale lock behind. The lock file records who
holds it so the refusal can say where the project is open.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

from segstudio.core.errors import ProjectLockedError

LOCK_NAME = ".segstudio.lock"


class ProjectLock:
    def __init__(self, root: Path):
        self.path = root / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            holder = _read_holder(fd)
            os.close(fd)
            raise ProjectLockedError(
                f"the project {self.path.parent} is already open{holder}. Close it there first "
                "(`segstudio info` and `segstudio export` can read it meanwhile)."
            )
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            _unlock(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096) or b"{}")
        if info.get("pid") == os.getpid():
            return " in this program (another window)"
        return f" in process {info['pid']} on {info['host']}"
    except (OSError, ValueError, KeyError):
        return " in another program"


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
