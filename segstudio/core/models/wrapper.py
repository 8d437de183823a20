"""The one shape every architecture has to the rest of the app.

`SegmentationModel` takes N x C x H x W floats of ANY height and width and returns N x K x H x W
logits: it pads the input up to the network's stride (edge pixels repeated) and crops the logits
back, so U-Net and SegNet work on odd sizes like 97 x 131 and tiles of any size. It is plain
TorchScript-able torch code so that the same module exports to TorchScript and ONNX.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class SegmentationModel(nn.Module):
    """A network plus what it was built from (`arch`, `num_classes`, `in_channels`, `options`)."""

    def __init__(self, net: nn.Module, *, arch: str, num_classes: int, in_channels: int, stride: int,
                 options: dict[str, Any] | None = None, pretrained_note: str = ""):
        super().__init__()
        self.net = net
        self.stride = int(stride)
        self.arch = arch
        self.num_classes = int(num_classes)
        self.in_channels = int(in_channels)
        self.options: dict[str, Any] = dict(options or {})
        self.pretrained_note = pretrained_note

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2], x.shape[-1]
        pad_h = (self.stride - height % self.stride) % self.stride
        pad_w = (self.stride - width % self.stride) % self.stride
        if torch.jit.is_scripting():
            x = F.pad(x, [0, pad_w, 0, pad_h], mode="replicate")
        elif pad_h > 0 or pad_w > 0 or torch.compiler.is_compiling():
            # exported graphs always pad (by 0 when it fits): a branch on the size would freeze there
            x = F.pad(x, [0, pad_w, 0, pad_h], mode="replicate")
        logits = self.net(x)
        return logits[:, :, :height, :width]


class OutOnly(nn.Module):
    """Unwraps torchvision's `{"out": logits, "aux": ...}` dict into the logits tensor."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)["out"]
