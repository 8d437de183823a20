"""The table of architectures and `create_model`, the one way to build a network.

Each entry is a small spec; the contract suite (tests/contracts/test_model_contract.py) runs
every entry through the same checks, so adding an architecture is one builder and one line.
Reading the table imports no torch (builders import their network when called), so menus
and `--help` can list architectures without loading it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from typing import TYPE_CHECKING

from segstudio.core.errors import ModelError

if TYPE_CHECKING:
    from torch import nn

    from segstudio.core.models.wrapper import SegmentationModel

log = logging.getLogger(__name__)

# builder(num_classes, in_channels, pretrained, allow_download, **options) -> (net, note)
Builder = Callable[..., "tuple[nn.Module, str]"]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Builder
    description: str
    supports_pretrained: bool
    tile_size: int  # default sliding-window tile for inference
    stride: int  # input sizes are padded to a multiple of this (own nets: 2**depth)
    default_options: dict[str, Any] = field(default_factory=dict)


def _own(module: str, name: str) -> Builder:
    def build(num_classes: int, in_channels: int, pretrained: bool | str = False,
              allow_download: bool = False, **options: Any) -> tuple[nn.Module, str]:
        import importlib

        cls = getattr(importlib.import_module(module), name)
        note = f"{name} has no pretrained weights; random initialisation" if pretrained else ""
        try:
            return cls(in_channels, num_classes, **options), note
        except TypeError as exc:
            raise ModelError(f"bad option for {cls.__name__}: {exc}") from exc
    return build


def _torchvision(arch: str) -> Builder:
    def build(num_classes: int, in_channels: int, pretrained: bool | str = False,
              allow_download: bool = False, **options: Any) -> tuple[nn.Module, str]:
        from segstudio.core.models.torchvision_nets import build_torchvision

        if options:
            raise ModelError(f"{arch} takes no options (got {', '.join(sorted(options))})")
        return build_torchvision(arch, num_classes, in_channels, pretrained, allow_download)
    return build


ARCHITECTURES: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("unet", _own("segstudio.core.models.unet", "UNet"), "U-Net: encoder-decoder with skip connections; sharp boundaries, trains "
              "from scratch on few images", False, 512, 1, {"depth": 4, "width": 32}),
    ModelSpec("segnet", _own("segstudio.core.models.segnet", "SegNet"), "SegNet: encoder-decoder upsampling with max-pooling indices; light "
              "on memory", False, 512, 1, {"depth": 4, "width": 32}),
    ModelSpec("fcn_resnet50", _torchvision("fcn_resnet50"), "FCN with a ResNet-50 backbone (torchvision)",
              True, 512, 32),
    ModelSpec("deeplabv3_mobilenet_v3_large", _torchvision("deeplabv3_mobilenet_v3_large"),
              "DeepLabV3 (atrous convolution, ASPP) on MobileNetV3-Large (torchvision)", True, 768, 32),
    ModelSpec("deeplabv3_resnet50", _torchvision("deeplabv3_resnet50"),
              "DeepLabV3 (atrous convolution, ASPP) on ResNet-50 (torchvision); accurate, slow on CPU",
              True, 512, 32),
    ModelSpec("lraspp_mobilenet_v3_large", _torchvision("lraspp_mobilenet_v3_large"),
              "LR-ASPP on MobileNetV3-Large (torchvision); the fast default for proposals on a CPU",
              True, 1024, 32),
)}

DEFAULT_ARCH = "lraspp_mobilenet_v3_large"

# Bounds on every number that sizes a network, checked before anything is allocated (a
# model.json from elsewhere asking for width 100000 would want hundreds of gigabytes).
MAX_CLASSES = 65_535
MAX_IN_CHANNELS = 64
OPTION_BOUNDS = {"depth": (1, 8), "width": (1, 512)}
MAX_DEEPEST_WIDTH = 8192  # width * 2**depth: channels of the deepest stage


def check_sizes(arch: str, num_classes: int, in_channels: int, options: dict[str, Any]) -> None:
    """ModelError unless every size is a whole number within its bound."""
    bounded(f"{arch}: classes", num_classes, 1, MAX_CLASSES)
    bounded(f"{arch}: input channels", in_channels, 1, MAX_IN_CHANNELS)
    for key, (low, high) in OPTION_BOUNDS.items():
        if key in options:
            bounded(f"{arch} option {key}", options[key], low, high)
    if "width" in options and "depth" in options and options["width"] * 2 ** options["depth"] > MAX_DEEPEST_WIDTH:
        raise ModelError(f"{arch}: width {options['width']} and depth {options['depth']} give "
                         f"{options['width'] * 2 ** options['depth']} channels in the deepest stage; "
                         f"at most {MAX_DEEPEST_WIDTH}")


def bounded(name: str, value: Any, low: int, high: int) -> int:
    """`value` when it is an int (not a bool) in low..high; ModelError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ModelError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return value


def create_model(arch: str, num_classes: int, in_channels: int = 3, pretrained: bool | str = False, *,
                 allow_download: bool = False, **options: Any) -> "SegmentationModel":
    """A network that maps N x in_channels x H x W floats to N x num_classes x H x W logits.

    `pretrained`: False, True / "full" (COCO/VOC heads where they exist) or "backbone"
    (ImageNet). Missing weights never fail: the note on `model.pretrained_note` says why the
    model kept its random initialisation. `options` are the architecture's own (U-Net:
    depth, width).
    """
    from segstudio.core.models.wrapper import SegmentationModel

    spec = ARCHITECTURES.get(arch)
    if spec is None:
        raise ModelError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    if int(num_classes) < 1 or int(in_channels) < 1:
        raise ModelError(f"a model needs at least 1 class and 1 input channel "
                         f"(got {num_classes} classes, {in_channels} channels)")
    merged = {**spec.default_options, **options}
    check_sizes(arch, int(num_classes), int(in_channels), merged)
    net, note = spec.builder(int(num_classes), int(in_channels), pretrained, allow_download, **merged)
    if note:
        log.info("%s: %s", arch, note)
    stride = spec.stride
    if "depth" in merged:
        stride = max(stride, 2 ** int(merged["depth"]))
    return SegmentationModel(net, arch=arch, num_classes=num_classes, in_channels=in_channels, stride=stride,
                             options=merged, pretrained_note=note)
