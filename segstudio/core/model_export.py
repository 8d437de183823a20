"""A trained model as a file that runs elsewhere: ONNX and TorchScript, with a sidecar JSON.

Both carry what a user of the file needs besides the weights: the classes (names, colours,
index = output channel), the input layout and how raw pixels become the input (scale, mean,
std), the tile size, and where the model came from. ONNX keeps these in its metadata_props as
well, TorchScript in an extra file inside the archive ("segstudio.json"). The ONNX graph takes
any batch, height and width (the padding to the network's stride is part of the graph).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import warnings
from collections.abc import Generator, Sequence
from pathlib import Path

import numpy as np
import torch

from segstudio.core.atomic import atomic_write_bytes, atomic_write_text
from segstudio.core.errors import ModelError
from segstudio.core.models.bundle import TORCHSCRIPT_ARCH, ModelBundle
from segstudio.core.models.importing import ScriptedModel
from segstudio.core.progress import Progress, StopFlag

FORMATS = ("onnx", "torchscript")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
INPUT_NAME, OUTPUT_NAME = "input", "logits"
MAX_SIDE = 32768


def export_bundle(bundle: ModelBundle, out_dir: str | Path, formats: Sequence[str] = FORMATS, *,
                  name: str = "model", stop: StopFlag | None = None) -> Generator[Progress, None, list[Path] | None]:
    """Write each format and its sidecar JSON into `out_dir`; returns the model files written."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ModelError(f"unknown export format {', '.join(unknown) or '(none)'}; use {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    written = []
    for index, fmt in enumerate(formats):
        if stop is not None and stop.is_set():
            return None
        yield Progress(index, len(formats), f"exporting {fmt}")
        path = out_dir / f"{name}{SUFFIXES[fmt]}"
        (export_onnx if fmt == "onnx" else export_torchscript)(bundle, path)
        written.append(path)
    yield Progress(len(formats), len(formats), "exported")
    return written


def describe(bundle: ModelBundle, fmt: str, file_name: str) -> dict:
    """What the sidecar JSON (and the ONNX metadata) says about the exported model."""
    norm = bundle.normalisation
    return {
        "format": fmt,
        "file": file_name,
        "architecture": bundle.arch,
        "classes": [{"id": i, "name": c.name, "color": list(c.color)} for i, c in enumerate(bundle.classes)],
        "input": {"name": INPUT_NAME, "layout": "NCHW", "dtype": "float32", "channels": bundle.in_channels,
                  "size": "any height and width"},
        "output": {"name": OUTPUT_NAME, "layout": "NCHW", "dtype": "float32",
                   "meaning": "per-class logits; argmax over channel axis 1 gives the class id"},
        "preprocessing": {"formula": "input[c] = (raw[c] * scale - mean[c]) / std[c]", **norm.to_json()},
        "tile": {"size": bundle.tile_size, "overlap": bundle.tile_overlap},
        "version": bundle.version,
        "metrics": bundle.metrics,
        "training_data_hash": bundle.training_data_hash,
        "segstudio_version": bundle.segstudio_version,
    }


def sidecar_path(model_path: Path) -> Path:
    """model.onnx -> model.onnx.json (classes and preprocessing beside the model)."""
    return model_path.with_name(model_path.name + ".json")


def export_onnx(bundle: ModelBundle, path: str | Path, *, opset: int = 18) -> Path:
    import onnx

    if bundle.arch == TORCHSCRIPT_ARCH:
        raise ModelError("an imported TorchScript model cannot be converted to ONNX here; export it from "
                         "where it was made")
    path = Path(path)
    model = _cpu_copy(bundle)
    sample = torch.zeros(1, bundle.in_channels, 64, 64)
    dims = {0: torch.export.Dim("batch", min=1, max=4096), 2: torch.export.Dim("height", min=1, max=MAX_SIDE),
            3: torch.export.Dim("width", min=1, max=MAX_SIDE)}
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # exporter chatter
            warnings.simplefilter("ignore")
            program = torch.onnx.export(model, (sample,), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                        dynamic_shapes={"x": dims}, opset_version=opset, dynamo=True, verbose=False)
    except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds; the person needs one message
        raise ModelError(f"ONNX export of {bundle.arch} failed: {exc}") from exc
    proto = program.model_proto
    info = describe(bundle, "onnx", path.name)
    onnx.helper.set_model_props(proto, {"segstudio": json.dumps(info), "classes": json.dumps(info["classes"]),
                                        "preprocessing": json.dumps(info["preprocessing"])})
    onnx.checker.check_model(proto)
    atomic_write_bytes(path, proto.SerializeToString())
    atomic_write_text(sidecar_path(path), json.dumps(info, indent=2) + "\n")
    return path


def export_torchscript(bundle: ModelBundle, path: str | Path) -> Path:
    path = Path(path)
    model = _cpu_copy(bundle)
    info = describe(bundle, "torchscript", path.name)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated upstream but still the portable format
        try:
            scripted = model.script if isinstance(model, ScriptedModel) else torch.jit.script(model)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"TorchScript export of {bundle.arch} failed: {exc}") from exc
        torch.jit.save(scripted, buffer, _extra_files={"segstudio.json": json.dumps(info)})
    atomic_write_bytes(path, buffer.getvalue())
    atomic_write_text(sidecar_path(path), json.dumps(info, indent=2) + "\n")
    return path


def onnx_max_difference(path: str | Path, bundle: ModelBundle, sample: np.ndarray) -> float:
    """Largest |onnxruntime - torch| logit difference on a float32 N x C x H x W sample."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (theirs,) = session.run([OUTPUT_NAME], {INPUT_NAME: sample.astype(np.float32)})
    with torch.inference_mode():
        ours = _cpu_copy(bundle)(torch.from_numpy(sample.astype(np.float32))).numpy()
    return float(np.abs(theirs - ours).max())


def _cpu_copy(bundle: ModelBundle) -> torch.nn.Module:
    return copy.deepcopy(bundle.model).cpu().eval()

