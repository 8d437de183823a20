"""Bring in a model made elsewhere: a TorchScript file or a torchvision-format state dict.

The person declares the class list (and, for a state dict, the architecture it fits). Files
are opened without unpickling arbitrary objects: state dicts with `torch.load(weights_only=True)`
(which refuses anything but tensors and plain containers) or safetensors. TorchScript is code:
it is loaded only when script_guard finds nothing but pure tensor operations in it.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from segstudio.core.errors import ModelError
from segstudio.core.models.bundle import TORCHSCRIPT_ARCH, ModelBundle, check_state, load_safetensors
from segstudio.core.models.classes import Normalisation, as_model_classes
from segstudio.core.models.registry import ARCHITECTURES, create_model
from segstudio.core.models.script_guard import check_archive, check_script

_NESTED_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")


class ScriptedModel(nn.Module):
    """A TorchScript network seen through our contract: logits tensor of the input's size."""

    def __init__(self, script: torch.jit.ScriptModule):
        super().__init__()
        self.script = script

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.script(x)
        if isinstance(out, dict):
            out = out["out"]
        if isinstance(out, (tuple, list)):
            out = out[0]
        if out.shape[-2:] != x.shape[-2:]:
            out = F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return out


def load_torchscript(path: str | Path) -> ScriptedModel:
    """A TorchScript file whose every operation is a pure tensor one (script_guard); else ModelError."""
    path = Path(path)
    check_archive(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated upstream, still the format
            script = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, OSError, ValueError) as exc:
        raise ModelError(f"cannot load TorchScript model {path}: {exc}") from exc
    check_script(script, path.name)
    return ScriptedModel(script.eval())


def is_torchscript(path: Path) -> bool:
    """TorchScript archives are zip files with a code/ folder; torch.save files have none."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name or name.startswith("code/") for name in archive.namelist())


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a .pth/.pt (weights only) or .safetensors file; pickled code is refused."""
    if path.suffix.lower() == ".safetensors":
        return load_safetensors(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelError(f"refused {path}: it holds pickled Python objects, not just tensors, and loading it "
                         f"could run code. Save the state dict (or safetensors) instead. ({exc})") from exc
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    for key in _NESTED_KEYS:
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
            break
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ModelError(f"{path} holds no state dict of tensors")
    return data


def fit_state_dict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """Rename keys of a torchvision (or our own) state dict to our wrapper's names and check them."""
    own = model.state_dict()
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.startswith(("aux_classifier.", "module.aux_classifier."))}
    best = max(("", "net.", "net.net."), key=lambda prefix: sum(prefix + k in own for k in state))
    return check_state({best + k: v for k, v in state.items()}, model, source)


def import_model(path: str | Path, *, classes, arch: str | None = None, in_channels: int = 3,
                 normalisation: Normalisation | None = None, **options) -> ModelBundle:
    """A bundle from an outside file: TorchScript (any arch) or a state dict (needs `arch`)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    model_classes = as_model_classes(classes)
    if path.suffix.lower() != ".safetensors" and is_torchscript(path):
        model = load_torchscript(path)
        _check_outputs(model, len(model_classes), in_channels, path)
        return ModelBundle(model=model, arch=TORCHSCRIPT_ARCH, classes=model_classes, in_channels=in_channels,
                           normalisation=normalisation)
    if arch is None:
        raise ModelError(f"{path.name} is a state dict: say which architecture it fits "
                         f"({', '.join(ARCHITECTURES)})")
    model = create_model(arch, len(model_classes), in_channels, False, **options)
    model.load_state_dict(fit_state_dict(model, read_state_dict(path), str(path)), strict=True)
    model.eval()
    bundle = ModelBundle.create(arch, model_classes, in_channels=in_channels, normalisation=normalisation, **options)
    bundle.model = model
    return bundle


def _check_outputs(model: nn.Module, num_classes: int, in_channels: int, path: Path) -> None:
    try:
        with torch.inference_mode():
            out = model(torch.zeros(1, in_channels, 64, 64))
    except Exception as exc:  # noqa: BLE001 - any failure means "does not fit what was declared"
        raise ModelError(f"{path.name} does not run on a 1 x {in_channels} x 64 x 64 input: {exc}") from exc
    if out.ndim != 4 or out.shape[1] != num_classes:
        raise ModelError(f"{path.name} outputs {tuple(out.shape)}; expected {num_classes} class channels "
                         f"for the declared classes")
