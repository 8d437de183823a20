"""Keep freed memory in the process for the next layer, as ONNX Runtime's arena does.

A forward pass at 1024 x 1024 allocates and frees tens of megabytes per layer. glibc hands
blocks above its mmap threshold (at most 32 MiB, adapted as blocks are freed) straight back
to the kernel and trims the heap top above twice that, so the next layer's output is fresh
pages again: LR-ASPP MobileNetV3 at 1024 x 1024 took 38,000-65,000 page faults and 120-200 ms
of system time per proposal on 2 cores, a third of its wall time, where ONNX Runtime (which
allocates from its own arena) took none (issue 15, `segstudio bench predict`).

`keep_freed_memory(nbytes)` fixes both thresholds at `nbytes` for the rest of the process
(glibc only; a no-op elsewhere); inference.py passes its WHOLE_IMAGE_BUDGET, so blocks up to
1 GiB come from the heap and up to 1 GiB of free heap stays mapped: the activation budget one
pass may use anyway. The cost is that the peak of a pass stays resident after it, as ORT's
arena keeps its peak.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import threading

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h

_lock = threading.Lock()
_kept: list[int] = []  # the thresholds set, once per process


def keep_freed_memory(nbytes: int) -> bool:
    """Set glibc's mmap and trim thresholds to `nbytes` unless done before (the first call
    wins); True when the thresholds are set."""
    with _lock:
        if not _kept:
            _kept.append(nbytes if _set_thresholds(nbytes) else 0)
        return _kept[0] > 0


def _set_thresholds(nbytes: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    done = mallopt(M_MMAP_THRESHOLD, nbytes) == 1 and mallopt(M_TRIM_THRESHOLD, nbytes) == 1
    log.debug("malloc thresholds at %d bytes: %s", nbytes, done)
    return done
