"""FCN, DeepLabV3 and LR-ASPP from torchvision, adapted to any class count and channel count.

The builders make the network with our class count and no weights; pretrained weights
(`pretrained=True` or "full": COCO-with-VOC-labels heads; "backbone": ImageNet backbone only)
are then copied where names and shapes match, so the final classifier layers for another
class count start fresh. For `in_channels != 3` the first convolution is replaced; when it had
pretrained RGB weights, the new one starts from their channel mean (a standard warm start).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torchvision import models as tvm
from torchvision.models import segmentation as tvs

from segstudio.core.errors import ModelError
from segstudio.core.models.pretrained import fetch_weights, load_matching
from segstudio.core.models.wrapper import OutOnly


@dataclass(frozen=True)
class TorchvisionFamily:
    builder: Callable[..., nn.Module]
    full_weights: object  # segmentation weight enum entry (COCO with VOC labels)
    backbone_weights: object  # ImageNet classification weight enum entry
    backbone_prefix: str  # prefix of backbone keys in the classification state dict to strip
    first_conv: Callable[[nn.Module], tuple[nn.Module, str]]  # (parent, attribute) of the first conv


def _resnet_first_conv(net: nn.Module) -> tuple[nn.Module, str]:
    return net.backbone, "conv1"


def _mobilenet_first_conv(net: nn.Module) -> tuple[nn.Module, str]:
    return net.backbone["0"], "0"


FAMILIES: dict[str, TorchvisionFamily] = {
    "fcn_resnet50": TorchvisionFamily(
        tvs.fcn_resnet50, tvs.FCN_ResNet50_Weights.DEFAULT, tvm.ResNet50_Weights.IMAGENET1K_V1, "",
        _resnet_first_conv),
    "deeplabv3_resnet50": TorchvisionFamily(
        tvs.deeplabv3_resnet50, tvs.DeepLabV3_ResNet50_Weights.DEFAULT, tvm.ResNet50_Weights.IMAGENET1K_V1, "",
        _resnet_first_conv),
    "deeplabv3_mobilenet_v3_large": TorchvisionFamily(
        tvs.deeplabv3_mobilenet_v3_large, tvs.DeepLabV3_MobileNet_V3_Large_Weights.DEFAULT,
        tvm.MobileNet_V3_Large_Weights.IMAGENET1K_V1, "features.", _mobilenet_first_conv),
    "lraspp_mobilenet_v3_large": TorchvisionFamily(
        tvs.lraspp_mobilenet_v3_large, tvs.LRASPP_MobileNet_V3_Large_Weights.DEFAULT,
        tvm.MobileNet_V3_Large_Weights.IMAGENET1K_V1, "features.", _mobilenet_first_conv),
}


def build_torchvision(arch: str, num_classes: int, in_channels: int, pretrained: bool | str = False,
                      allow_download: bool = False) -> tuple[nn.Module, str]:
    """(network returning a logits tensor, note about pretrained weights)."""
    family = FAMILIES[arch]
    kwargs = {"aux_loss": False} if "resnet" in arch else {}
    net = family.builder(weights=None, weights_backbone=None, num_classes=num_classes, **kwargs)
    note = ""
    if pretrained:
        mode = "full" if pretrained is True else str(pretrained)
        if mode not in {"full", "backbone"}:
            raise ModelError(f"pretrained must be False, True, 'full' or 'backbone', not {pretrained!r}")
        if mode == "full":
            result = fetch_weights(family.full_weights, allow_download=allow_download)
            target, prefix = net, ""
        else:
            result = fetch_weights(family.backbone_weights, allow_download=allow_download)
            target, prefix = net.backbone, family.backbone_prefix
        note = result.message
        if result.state is not None:
            copied, skipped = load_matching(target, result.state, prefix)
            note = f"{note} ({copied} tensors copied, {skipped} left at random for this class count)"
    if in_channels != 3:
        _replace_first_conv(net, family, in_channels, warm=bool(pretrained) and "loaded" in note)
    return OutOnly(net), note


def _replace_first_conv(net: nn.Module, family: TorchvisionFamily, in_channels: int, warm: bool) -> None:
    parent, name = family.first_conv(net)
    old = parent[int(name)] if isinstance(parent, nn.Sequential) else getattr(parent, name)
    new = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride, old.padding,
                    old.dilation, old.groups, old.bias is not None)
    if warm:
        with torch.no_grad():
            mean = old.weight.mean(dim=1, keepdim=True)
            new.weight.copy_(mean.repeat(1, in_channels, 1, 1) * (3.0 / in_channels))
    if isinstance(parent, nn.Sequential):
        parent[int(name)] = new
    else:
        setattr(parent, name, new)
