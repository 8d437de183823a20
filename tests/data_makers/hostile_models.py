"""TorchScript archives that do file I/O when a method runs (or when they are loaded).

Each maker writes an archive whose payload, if it ever ran, would create `target` (5 bytes
of "p"): the tests check the file never appears. The scripted
classes live at module level because TorchScript compiles from source files.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

class InForward(nn.Module):
    def __init__(self, target: str):
        super().__init__()
        self.target = target
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        written = torch.from_file(self.target, True, 5, dtype=torch.uint8).fill_(112)
        return self.conv(x) + written.sum().float() * 0


class InHelper(nn.Module):
    """forward looks clean; the I/O sits in a method it calls only for wide inputs."""

    def __init__(self, target: str):
        super().__init__()
        self.target = target
        self.conv = nn.Conv2d(3, 2, 1)

    @torch.jit.export
    def helper(self, n: int) -> int:
        return int(torch.from_file(self.target, True, n, dtype=torch.uint8).fill_(112).sum()) * 0 + n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > 4096:
            self.helper(5)
        return self.conv(x)


class Payload(nn.Module):
    def __init__(self, target: str):
        super().__init__()
        self.target = target

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        written = torch.from_file(self.target, True, 5, dtype=torch.uint8).fill_(112)
        return x + written.sum().float() * 0


class InSubmodule(nn.Module):
    def __init__(self, target: str):
        super().__init__()
        self.inner = nn.Sequential(nn.Conv2d(3, 2, 1), Payload(target))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


def free_function(path: str, x: torch.Tensor) -> torch.Tensor:
    written = torch.from_file(path, True, 5, dtype=torch.uint8).fill_(112)
    return x + written.sum().float() * 0


class InFreeFunction(nn.Module):
    def __init__(self, target: str):
        super().__init__()
        self.target = target
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return free_function(self.target, self.conv(x))


class InUnusedMethod(nn.Module):
    """A method nothing calls: still refused (anyone holding the archive could call it)."""

    def __init__(self, target: str):
        super().__init__()
        self.target = target
        self.conv = nn.Conv2d(3, 2, 1)

    @torch.jit.export
    def unused(self) -> int:
        return int(torch.from_file(self.target, True, 5, dtype=torch.uint8).fill_(112).sum())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class InSetState(nn.Module):
    """__setstate__ runs inside torch.jit.load itself, before any graph can be inspected."""

    def __init__(self, target: str):
        super().__init__()
        self.target = target

    @torch.jit.export
    def __getstate__(self) -> tuple[str, bool]:
        return (self.target, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[str, bool]) -> None:
        self.target = state[0]
        self.training = state[1] or bool(torch.from_file(self.target, True, 5, dtype=torch.uint8).fill_(112).sum() < 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x[:, :1], x[:, 1:2]], 1)


class InHook(nn.Module):
    """A forward hook: not a method of the module, but run with every forward."""

    def __init__(self, target: str):
        super().__init__()
        self.target = target
        self.conv = nn.Conv2d(3, 2, 1)
        self.register_forward_hook(hook_with_io)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def hook_with_io(module: InHook, inputs: tuple[torch.Tensor], output: torch.Tensor) -> torch.Tensor:
    written = torch.from_file(module.target, True, 5, dtype=torch.uint8).fill_(112)
    return output + written.sum().float() * 0


class Printing(nn.Module):
    """No file, but output outside the allow-list: also refused (the list is an allow-list)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        print("hello from a model")
        return self.conv(x)


HOSTILE = {
    "forward": InForward, "helper": InHelper, "submodule": InSubmodule,
    "free_function": InFreeFunction, "unused_method": InUnusedMethod, "setstate": InSetState, "hook": InHook,
}


def save_scripted(module: nn.Module, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(module.eval()), str(path))
    return path


def make_hostile(kind: str, folder: Path, target: Path) -> Path:
    return save_scripted(HOSTILE[kind](str(target)), folder / f"hostile_{kind}.pt")
