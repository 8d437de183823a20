"""Which compute device runs the networks: CUDA, then Apple MPS, then the CPU.

The person can override the choice (settings, `--device`); asking for a device that is not
there is an error that says what is available instead of a silent fall back to the CPU.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from segstudio.core.errors import ModelError

_KNOWN = ("cuda", "mps", "cpu")


def available_devices() -> list[str]:
    """Device names usable here, best first: "cuda:0", "cuda:1", ..., "mps", "cpu"."""
    names = [f"cuda:{index}" for index in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if _mps_available():
        names.append("mps")
    names.append("cpu")
    return names


def pick_device(preference: str | torch.device | None = None) -> torch.device:
    """The device to compute on: the best one found, or the one asked for.

    `preference` is None / "" / "auto" (best found), "cuda", "cuda:N", "mps" or "cpu".
    Raises ModelError when the asked device is unknown or missing here.
    """
    if isinstance(preference, torch.device):
        preference = str(preference)
    wanted = (preference or "auto").strip().lower()
    if wanted == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind, _, index = wanted.partition(":")
    if kind not in _KNOWN or (index and (kind != "cuda" or not index.isdigit())):
        raise ModelError(f"unknown device {preference!r}: use auto, cuda, cuda:N, mps or cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ModelError(f"device {preference!r} asked for, but no CUDA GPU is usable here "
                             f"(available: {', '.join(available_devices())})")
        number = int(index or 0)
        if number >= torch.cuda.device_count():
            raise ModelError(f"device {preference!r} asked for, but only {torch.cuda.device_count()} "
                             f"CUDA device(s) exist (available: {', '.join(available_devices())})")
        return torch.device("cuda", number)
    if kind == "mps" and not _mps_available():
        raise ModelError(f"device 'mps' asked for, but Apple MPS is not usable here "
                         f"(available: {', '.join(available_devices())})")
    return torch.device(kind)


def training_threads() -> int:
    """Torch threads the app trains with: every core but one, which the GUI keeps."""
    return max(1, (os.cpu_count() or 2) - 1)


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (AVX512-BF16 or AMX): autocast then about halves
    CPU inference time. Elsewhere bfloat16 is emulated and slower, so it stays off."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            flags = next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run a block with `count` CPU threads for torch (small work on a busy machine: 1)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(count)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
