"""U-Net (Ronneberger et al. 2015): an encoder-decoder whose decoder sees the encoder's features.

Every stage is two 3x3 convolutions with batch norm; the decoder upsamples with a transposed
convolution and concatenates the encoder output of the same scale (the skip connection), which
is what keeps boundaries sharp. `depth` stages halve the resolution; widths double per stage
starting at `width`. Input sizes must be multiples of 2**depth (the wrapper pads).
"""

from __future__ import annotations

import torch
from torch import nn


def conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(*conv_bn_relu(in_channels, out_channels), *conv_bn_relu(out_channels, out_channels))


class UpBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.conv = double_conv(out_channels * 2, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([self.up(x), skip], dim=1))


class UNet(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, depth: int = 4, width: int = 32):
        super().__init__()
        if depth < 1 or width < 1:
            raise ValueError("U-Net depth and width must be at least 1")
        widths = [width * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList([double_conv(in_channels, widths[0])])
        self.down.extend(double_conv(widths[i], widths[i + 1]) for i in range(depth))
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(UpBlock(widths[i + 1], widths[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips: list[torch.Tensor] = []
        for index, block in enumerate(self.down):
            if index > 0:
                skips.append(x)
                x = self.pool(x)
            x = block(x)
        for index, block in enumerate(self.up):
            x = block(x, skips[len(skips) - 1 - index])
        return self.head(x)
