"""The arithmetic a training step runs in: mixed precision where the hardware computes it natively.

CUDA: bfloat16 where the GPU supports it, else float16 with a gradient scaler. CPU: bfloat16
autocast only on CPUs with native bfloat16 (AVX512-BF16 or AMX; there it runs about twice as
fast); elsewhere bfloat16 is emulated and slower than float32, so float32 stays.
"""

from __future__ import annotations

import torch

from segstudio.core.device import cpu_has_native_bf16


def autocast_settings(device: torch.device, wanted: bool = True, *,
                      cpu_bf16: bool | None = None) -> tuple[bool, torch.dtype]:
    """(autocast on, its dtype) for training on `device`; `cpu_bf16` None: when native."""
    if not wanted:
        return False, torch.float32
    if device.type == "cuda":
        return True, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and (cpu_has_native_bf16() if cpu_bf16 is None else cpu_bf16):
        return True, torch.bfloat16
    return False, torch.float32
