"""The threads that read and scale big images in blocks: one pool for the process.

Both jobs run in code that frees the GIL (os.preadv, OpenCV), so blocks spread over the cores;
the threads start once and sleep between images.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_pool: list[ThreadPoolExecutor] = []
_pool_lock = threading.Lock()


def cores() -> int:
    """Threads worth using for one image (more only add overhead on a memory-bound step)."""
    return min(os.cpu_count() or 1, 8)


def pool() -> ThreadPoolExecutor:
    with _pool_lock:
        if not _pool:
            _pool.append(ThreadPoolExecutor(cores(), thread_name_prefix="segstudio-image"))
        return _pool[0]
