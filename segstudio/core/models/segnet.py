"""SegNet (Badrinarayanan et al. 2017): an encoder-decoder that upsamples with pooling indices.

Each encoder stage remembers where its 2x2 max-pool took each maximum; the matching decoder
stage puts values back at exactly those places (max-unpooling) and convolutions fill in the
rest. Cheaper in memory than U-Net's concatenated skips. `depth` stages, widths doubling from
`width` (capped at 8x).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segstudio.core.models.unet import conv_bn_relu


class SegNet(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, depth: int = 4, width: int = 32):
        super().__init__()
        if depth < 1 or width < 1:
            raise ValueError("SegNet depth and width must be at least 1")
        widths = [width * 2 ** min(level, 3) for level in range(depth)]
        self.encoders = nn.ModuleList(
            nn.Sequential(*conv_bn_relu(c_in, c_out), *conv_bn_relu(c_out, c_out))
            for c_in, c_out in zip([in_channels, *widths[:-1]], widths)
        )
        # decoder i undoes encoder k = depth-1-i: widths[k] channels back to the width before it
        self.decoders = nn.ModuleList(
            nn.Sequential(*conv_bn_relu(widths[k], widths[k]), *conv_bn_relu(widths[k], widths[max(k - 1, 0)]))
            for k in reversed(range(depth))
        )
        self.head = nn.Conv2d(width, num_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        indices: list[torch.Tensor] = []
        sizes: list[list[int]] = []
        for encoder in self.encoders:
            x = encoder(x)
            sizes.append([x.shape[-2], x.shape[-1]])
            x, where = F.max_pool2d_with_indices(x, 2, 2)
            indices.append(where)
        for index, decoder in enumerate(self.decoders):
            level = len(indices) - 1 - index
            x = F.max_unpool2d(x, indices[level], 2, 2, output_size=sizes[level])
            x = decoder(x)
        return self.head(x)
