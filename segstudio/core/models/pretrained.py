"""Pretrained weights from torchvision's weight enums, offline first.

Weights found in the torch hub cache (`torch.hub.get_dir()/checkpoints`) are used as they are.
A download happens only when the caller asks for it (`allow_download=True`) and the
environment does not forbid the network (`SEGSTUDIO_NO_NETWORK=1`, set by the tests). When the
file is missing the caller gets a message saying which file and where it belongs, and the
model keeps its random initialisation. Files are read with `torch.load(weights_only=True)`:
no arbitrary objects are unpickled, not even from the cache.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeightsResult:
    """What happened when pretrained weights were asked for; `message` is for the person."""

    state: dict[str, torch.Tensor] | None
    message: str


def network_allowed() -> bool:
    return os.environ.get("SEGSTUDIO_NO_NETWORK", "") not in {"1", "true", "yes"}


def cache_path(weights) -> Path:
    """Where torch keeps the file of a torchvision weight enum entry."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def fetch_weights(weights, *, allow_download: bool = False, progress: bool = True) -> WeightsResult:
    """The state dict of a weight enum entry from the cache, or downloaded on request."""
    path = cache_path(weights)
    if not path.exists():
        if not allow_download:
            return WeightsResult(None, f"pretrained weights {weights} are not in the torch cache ({path}); "
                                       "using random initialisation (ask for a download to fetch them)")
        if not network_allowed():
            return WeightsResult(None, f"pretrained weights {weights} are missing and the network is off "
                                       "(SEGSTUDIO_NO_NETWORK); using random initialisation")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(weights.url, str(path), hash_prefix=_hash_prefix(path), progress=progress)
        except Exception as exc:  # noqa: BLE001 - offline, proxy, disk full: all mean "carry on without"
            return WeightsResult(None, f"could not download {weights.url}: {exc}; using random initialisation")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged cache file must not stop model creation
        return WeightsResult(None, f"cannot read cached weights {path}: {exc}; using random initialisation")
    return WeightsResult(state, f"loaded pretrained weights {weights}")


def load_matching(module: nn.Module, state: dict[str, torch.Tensor], strip_prefix: str = "") -> tuple[int, int]:
    """Copy every tensor whose name and shape match; returns (copied, skipped).

    Heads for another number of classes and auxiliary classifiers are skipped, which is what
    fine-tuning from COCO/VOC heads or ImageNet backbones needs.
    """
    own = module.state_dict()
    matched = {}
    for key, value in state.items():
        name = key[len(strip_prefix):] if strip_prefix and key.startswith(strip_prefix) else key
        if name in own and own[name].shape == value.shape:
            matched[name] = value
    module.load_state_dict(matched, strict=False)
    return len(matched), len(state) - len(matched)


def _hash_prefix(path: Path) -> str | None:
    """torchvision file names end in -<sha256 prefix>.pth; check it on download."""
    stem = path.stem
    if "-" in stem:
        candidate = stem.rsplit("-", 1)[1]
        if len(candidate) >= 6 and all(c in "0123456789abcdef" for c in candidate):
            return candidate
    return None
