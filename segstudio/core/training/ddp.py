"""Multi-process training under `torchrun`: DistributedDataParallel, NCCL on GPUs, Gloo on CPU.

`torchrun --nproc_per_node N -m segstudio train PROJECT` starts N copies of the same command;
torchrun sets RANK / WORLD_SIZE / LOCAL_RANK. Every rank draws its own patches (the
sampler's seed includes the rank), validates its share of the validation images (confusion counts are summed
across ranks, so every rank takes the same keep decision), and only rank 0 writes to the project.
Without those variables the context is a single process and every method is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn


@dataclass
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: torch.device) -> DistributedContext:
        """Join the process group torchrun prepared; a single-process context without torchrun."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls()
        context = cls(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        return context

    def device_for(self, device: torch.device) -> torch.device:
        """One GPU per rank: cuda:LOCAL_RANK."""
        if self.enabled and device.type == "cuda":
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return device

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        if not self.enabled:
            return model
        return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def shard(self, items: list) -> list:
        """This rank's share of a list (validation images)."""
        return items[self.rank::self.world_size] if self.enabled else items

    def sum_counts(self, array: np.ndarray) -> np.ndarray:
        """Element-wise sum of a numeric array (counts, loss sums) over all ranks."""
        if not self.enabled:
            return array
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        tensor = tensor.to(self._collective_device())
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.cpu().numpy()

    def any(self, flag: bool) -> bool:
        """True on every rank when any rank says True (stop requests, time limits)."""
        if not self.enabled:
            return flag
        tensor = torch.tensor([1 if flag else 0], device=self._collective_device())
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return bool(tensor.item())

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def shutdown(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()

    def _collective_device(self) -> torch.device:
        return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
