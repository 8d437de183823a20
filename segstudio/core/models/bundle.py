"""A trained model as a folder anyone can open: model.json + weights.safetensors.

model.json says how the network is built (architecture, options, input channels), what its
outputs mean (classes with colours), how raw pixels become its input (normalisation), how to
run it (tile size and overlap) and where it came from (version, seed, training data hash,
metrics, times). Weights are safetensors, so loading never unpickles anything; imported
TorchScript models keep their TorchScript file instead (`arch` "torchscript").
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from segstudio import __version__
from segstudio.core.atomic import atomic_write_bytes, atomic_write_text
from segstudio.core.errors import ModelError
from segstudio.core.models.classes import ModelClass, Normalisation, as_model_classes, class_mapping
from segstudio.core.models.registry import ARCHITECTURES, MAX_CLASSES, MAX_IN_CHANNELS, bounded, create_model

FORMAT_VERSION = 1
MODEL_JSON = "model.json"
WEIGHTS_FILE = "weights.safetensors"
SCRIPT_FILE = "model.torchscript.pt"
TORCHSCRIPT_ARCH = "torchscript"
MAX_MODEL_JSON_BYTES = 1 << 20
MIN_TILE, MAX_TILE = 32, 8192  # a tile is one forward pass: 8192^2 is already gigabytes of activations


@dataclass
class ModelBundle:
    model: nn.Module
    arch: str
    classes: list[ModelClass]
    in_channels: int = 3
    normalisation: Normalisation | None = None
    options: dict[str, Any] = field(default_factory=dict)
    tile_size: int = 512
    tile_overlap: int = 64
    version: str = ""
    seed: int | None = None
    training_data_hash: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    segstudio_version: str = __version__

    def __post_init__(self) -> None:
        self.classes = as_model_classes(self.classes)
        if self.normalisation is None:
            self.normalisation = Normalisation.default(self.in_channels)
        self.normalisation.check(self.in_channels)
        if not self.created_at:
            self.created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")

    @classmethod
    def create(cls, arch: str, classes, *, in_channels: int = 3, pretrained: bool | str = False,
               allow_download: bool = False, normalisation: Normalisation | None = None,
               **options: Any) -> ModelBundle:
        """A new bundle with a freshly built network (random or pretrained weights)."""
        model_classes = as_model_classes(classes)
        model = create_model(arch, len(model_classes), in_channels, pretrained,
                             allow_download=allow_download, **options)
        spec = ARCHITECTURES[arch]
        return cls(model=model, arch=arch, classes=model_classes, in_channels=in_channels,
                   normalisation=normalisation, options=dict(model.options),
                   tile_size=spec.tile_size, tile_overlap=max(32, spec.tile_size // 8))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    def mapping_to(self, project_names, *, allow_mapping: bool = False) -> dict[int, int] | None:
        """None when the project has the same classes; a model->project id map when allowed.

        Raises ModelError saying what differs otherwise.
        """
        return class_mapping(self.class_names, list(project_names), allow_mapping=allow_mapping)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "architecture": self.arch,
            "options": self.options,
            "classes": [{"id": i, "name": c.name, "color": list(c.color)} for i, c in enumerate(self.classes)],
            "input_channels": self.in_channels,
            "normalisation": self.normalisation.to_json(),
            "tile": {"size": self.tile_size, "overlap": self.tile_overlap},
            "version": self.version,
            "seed": self.seed,
            "training_data_hash": self.training_data_hash,
            "metrics": self.metrics,
            "created_at": self.created_at,
            "segstudio_version": self.segstudio_version,
        }

    def save(self, folder: str | Path) -> Path:
        """Write the weights, then model.json (its presence marks a complete bundle)."""
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise ModelError(f"cannot save the model to {folder}: it is a file, not a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModelError(f"cannot save the model to {folder}: {exc.strerror or exc}") from exc
        if self.arch == TORCHSCRIPT_ARCH:
            atomic_write_bytes(folder / SCRIPT_FILE, _script_bytes(self.model))
        else:
            from safetensors.torch import save

            state = {k: v.detach().cpu().contiguous().clone() for k, v in self.model.state_dict().items()}
            atomic_write_bytes(folder / WEIGHTS_FILE, save(state, metadata={"architecture": self.arch}))
        atomic_write_text(folder / MODEL_JSON, json.dumps(self.to_json(), indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ModelBundle:
        """Read a bundle folder (on the CPU; move `.model` where it runs)."""
        folder = Path(folder)
        meta = read_model_json(folder)
        try:
            arch = str(meta["architecture"])
            classes = as_model_classes(_bounded_list(meta["classes"], MAX_CLASSES, "classes"))
            in_channels = bounded("input_channels", meta["input_channels"], 1, MAX_IN_CHANNELS)
            normalisation = Normalisation.from_json(meta["normalisation"])
            options = dict(meta.get("options") or {})
            tile = dict(meta.get("tile") or {})
            tile_size = bounded("tile size", tile.get("size", 512), MIN_TILE, MAX_TILE)
            tile_overlap = bounded("tile overlap", tile.get("overlap", 64), 0, tile_size // 2)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"{folder / MODEL_JSON} is incomplete or malformed: {exc!r}") from exc
        except ModelError as exc:
            raise ModelError(f"{folder / MODEL_JSON}: {exc}") from exc
        if arch == TORCHSCRIPT_ARCH:
            from segstudio.core.models.importing import load_torchscript

            model = load_torchscript(folder / SCRIPT_FILE)
        else:
            model = create_model(arch, len(classes), in_channels, False, **options)
            model.load_state_dict(read_safetensors(folder / WEIGHTS_FILE, model), strict=True)
        model.eval()
        return cls(model=model, arch=arch, classes=classes, in_channels=in_channels, normalisation=normalisation,
                   options=options, tile_size=tile_size, tile_overlap=tile_overlap,
                   version=str(meta.get("version", "")), seed=meta.get("seed"),
                   training_data_hash=str(meta.get("training_data_hash", "")), metrics=dict(meta.get("metrics") or {}),
                   created_at=str(meta.get("created_at", "")), segstudio_version=str(meta.get("segstudio_version", "")))


def read_model_json(folder: Path) -> dict[str, Any]:
    path = folder / MODEL_JSON
    if not path.is_file():
        raise ModelError(f"{folder} is not a model bundle: {MODEL_JSON} is missing")
    try:
        if path.stat().st_size > MAX_MODEL_JSON_BYTES:
            raise ModelError(f"{path} is {path.stat().st_size:,} bytes; a model.json is at most {MAX_MODEL_JSON_BYTES:,}")
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelError(f"cannot read {path}: {type(exc).__name__}: {str(exc)[:200]}") from exc
    if not isinstance(meta, dict):
        raise ModelError(f"{path} does not hold a JSON object")
    if not isinstance(meta.get("format", 0), int):
        raise ModelError(f"{path}: format must be a whole number, not {meta.get('format')!r}")
    if meta.get("format", 0) > FORMAT_VERSION:
        raise ModelError(f"{path} was written by a newer SegStudio (format {meta.get('format')}); please update")
    return meta


def _bounded_list(value: Any, limit: int, name: str) -> list:
    if not isinstance(value, list) or not 1 <= len(value) <= limit:
        raise ModelError(f"{name} must be a list of 1 to {limit} entries")
    return value


def read_safetensors(path: Path, model: nn.Module) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file, checked against the model's names and shapes."""
    return check_state(load_safetensors(path), model, str(path))


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise ModelError(f"weights file {path} is missing")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"cannot read weights {path}: {exc}") from exc


def check_state(state: dict[str, torch.Tensor], model: nn.Module, source: str) -> dict[str, torch.Tensor]:
    """The state itself when its names and shapes fit the model; else ModelError saying what differs."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected.keys() & state.keys() if expected[k].shape != state[k].shape]
    if missing or unexpected or wrong:
        detail = "; ".join(part for part in (
            f"missing {len(missing)} tensors (e.g. {missing[0]})" if missing else "",
            f"{len(unexpected)} unknown tensors (e.g. {unexpected[0]})" if unexpected else "",
            f"{len(wrong)} of another shape (e.g. {wrong[0]}: {tuple(state[wrong[0]].shape)} vs "
            f"{tuple(expected[wrong[0]].shape)})" if wrong else "",
        ) if part)
        raise ModelError(f"weights {source} do not fit the declared model: {detail}")
    return state


def _script_bytes(model: nn.Module) -> bytes:
    import io

    from segstudio.core.models.importing import ScriptedModel

    inner = model.script if isinstance(model, ScriptedModel) else model
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated upstream, still the format
        torch.jit.save(inner, buffer)
    return buffer.getvalue()
