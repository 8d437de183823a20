"""One writer per project: an OS file lock that dies with its process.

flock (POSIX) / msvcrt (Windows) locks are released by the operating system when the process
ends, even by kill -9, so a crash never leaves a stale lock behind. The lock file records who
holds it so the refusal can say where the project is open.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import sys
from pathlib import Path

from segstudio.core.atomic import is_read_only_error
from segstudio.core.errors import ProjectError, ProjectLockedError, ProjectReadOnlyError

LOCK_NAME = ".segstudio.lock"


class ProjectLock:
    def __init__(self, root: Path):
        self.path = root / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = self._open()
        if not _try_lock(fd):
            holder = _read_holder(fd)
            os.close(fd)
            raise ProjectLockedError(
                f"the project {self.path.parent} is already open{holder}. Close it there first "
                "(`segstudio info` and `segstudio export` can read it meanwhile)."
            )
        try:  # who holds it is only a courtesy to the next opener: a full disk must not stop us
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
        except OSError:
            pass
        self._fd = fd

    def _open(self) -> int:
        """The lock file, created if needed; never through a link, never a folder or a device."""
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ProjectError(f"{self.path} is a link: SegStudio writes nothing through links. "
                                   "Delete it to open the project.") from exc
            if exc.errno == errno.EISDIR:
                raise ProjectError(f"{self.path} is a folder, not a lock file. Remove it to open the project.") from exc
            if is_read_only_error(exc):
                raise ProjectReadOnlyError(f"{self.path.parent} is on read-only storage (or you may not write "
                                           "there): it can be opened read-only, but not changed") from exc
            raise ProjectError(f"cannot lock the project {self.path.parent}: {exc.strerror or exc}") from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ProjectError(f"{self.path} is not a regular file. Remove it to open the project.")
        return fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
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
