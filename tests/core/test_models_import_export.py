"""Models from outside come in safely; our models go out as ONNX and TorchScript that match torch."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.models.segmentation import lraspp_mobilenet_v3_large

from segstudio.core.errors import ModelError
from segstudio.core.inference import predict
from segstudio.core.model_export import export_bundle, export_onnx, onnx_max_difference, sidecar_path
from segstudio.core.models import ModelBundle, import_model
from segstudio.core.progress import drive

CLASSES = ["background", "cell"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return ModelBundle.create("unet", CLASSES, depth=2, width=8)


class Payload:
    """Unpickling this would run code: it creates a file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("suffix", [".pth", ".pt"])
def test_a_pickle_checkpoint_with_a_payload_is_refused_and_never_runs(tmp_path, suffix):
    marker = tmp_path / "payload-ran"
    checkpoint = tmp_path / f"evil{suffix}"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "extra": Payload(marker)}, checkpoint)
    with pytest.raises(ModelError, match="refused .*pickled Python objects"):
        import_model(checkpoint, classes=CLASSES, arch="unet")
    assert not marker.exists()
    raw = tmp_path / "plain.pkl"  # old-style pickle (not a zip): same answer
    raw.write_bytes(pickle.dumps({"w": Payload(marker)}))
    with pytest.raises(ModelError, match="refused"):
        import_model(raw, classes=CLASSES, arch="unet")
    assert not marker.exists()


def test_a_torchvision_state_dict_imports_and_predicts_like_torchvision(tmp_path):
    torch.manual_seed(1)
    theirs = lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=2).eval()
    torch.save(theirs.state_dict(), tmp_path / "lraspp.pth")
    bundle = import_model(tmp_path / "lraspp.pth", classes=CLASSES, arch="lraspp_mobilenet_v3_large")
    x = torch.randn(1, 3, 64, 96)
    with torch.inference_mode():
        assert torch.allclose(bundle.model(x), theirs(x)["out"], atol=1e-5)
    image = (np.random.default_rng(0).random((70, 90, 3)) * 255).astype(np.uint8)
    assert drive(predict(bundle, image)).class_map.shape == (70, 90)
    with pytest.raises(ModelError, match="do not fit the declared model: .*of another shape"):
        import_model(tmp_path / "lraspp.pth", classes=["a", "b", "c"], arch="lraspp_mobilenet_v3_large")
    with pytest.raises(ModelError, match="say which architecture"):
        import_model(tmp_path / "lraspp.pth", classes=CLASSES)


def test_a_torchscript_model_from_elsewhere_imports_predicts_and_saves(tmp_path):
    class Outside(torch.nn.Module):  # returns a dict at half resolution, like many segmentation nets
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 2, 3, stride=2, padding=1)

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"out": self.conv(x)}

    torch.jit.save(torch.jit.script(Outside().eval()), tmp_path / "outside.pt")
    bundle = import_model(tmp_path / "outside.pt", classes=CLASSES)
    image = (np.random.default_rng(0).random((50, 61, 3)) * 255).astype(np.uint8)
    before = drive(predict(bundle, image))
    assert before.class_map.shape == (50, 61)
    loaded = ModelBundle.load(bundle.save(tmp_path / "bundle"))
    assert loaded.arch == "torchscript" and np.array_equal(drive(predict(loaded, image)).class_map, before.class_map)
    with pytest.raises(ModelError, match="expected 3 class channels"):
        import_model(tmp_path / "outside.pt", classes=["a", "b", "c"])


def test_bundles_refuse_damaged_or_foreign_files(tmp_path, tiny):
    folder = tiny.save(tmp_path / "bundle")
    meta = json.loads((folder / "model.json").read_text())
    assert meta["architecture"] == "unet" and meta["classes"][1] == {"id": 1, "name": "cell", "color": [128, 0, 0]}
    assert set(meta) >= {"normalisation", "tile", "seed", "training_data_hash", "metrics", "created_at",
                         "segstudio_version", "input_channels", "options", "version"}
    (folder / "weights.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ModelError, match="cannot read weights"):
        ModelBundle.load(folder)
    os.remove(folder / "model.json")
    with pytest.raises(ModelError, match="model.json is missing"):
        ModelBundle.load(folder)


@pytest.mark.slow
def test_onnx_export_matches_torch_at_any_size(tmp_path, tiny):
    pytest.importorskip("onnxruntime")
    import onnx

    path = export_onnx(tiny, tmp_path / "model.onnx")
    sample = np.random.default_rng(0).standard_normal((2, 3, 45, 61)).astype(np.float32)
    assert onnx_max_difference(path, tiny, sample) < 1e-4
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert [c["name"] for c in json.loads(props["classes"])] == CLASSES
    sidecar = json.loads(sidecar_path(path).read_text())
    assert sidecar["preprocessing"]["mean"] == list(tiny.normalisation.mean) and sidecar["input"]["channels"] == 3


def test_torchscript_export_runs_without_segstudio_and_comes_back_in(tmp_path, tiny):
    (path,) = drive(export_bundle(tiny, tmp_path, ["torchscript"]))
    extra = {"segstudio.json": ""}
    scripted = torch.jit.load(str(path), _extra_files=extra)
    assert [c["name"] for c in json.loads(extra["segstudio.json"])["classes"]] == CLASSES
    x = torch.randn(1, 3, 45, 61)
    with torch.inference_mode():
        assert torch.allclose(scripted(x), tiny.model.eval()(x), atol=1e-5)
    back = import_model(path, classes=CLASSES)
    assert drive(predict(back, np.zeros((30, 40, 3), np.uint8))).class_map.shape == (30, 40)
    with pytest.raises(ModelError, match="unknown export format"):
        drive(export_bundle(tiny, tmp_path, ["tflite"]))


def test_a_safetensors_state_dict_imports_with_its_declared_architecture(tmp_path, tiny):
    from safetensors.torch import save_file

    inner = {k.removeprefix("net."): v.contiguous() for k, v in tiny.model.state_dict().items()}
    save_file(inner, str(tmp_path / "unet.safetensors"))  # keys as the bare network names them
    bundle = import_model(tmp_path / "unet.safetensors", classes=CLASSES, arch="unet", depth=2, width=8)
    x = torch.randn(1, 3, 40, 48)
    with torch.inference_mode():
        assert torch.equal(bundle.model.eval()(x), tiny.model.eval()(x))
    with pytest.raises(ModelError, match="do not fit the declared model: missing"):
        import_model(tmp_path / "unet.safetensors", classes=CLASSES, arch="unet", depth=3, width=8)
