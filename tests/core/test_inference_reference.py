"""The proposal path (tuned network copy, NCHW input, one-pass finalise, freed memory kept) gives
what a plain float64 reference computes from the untouched network, on the bundled demo images."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from segstudio.core.imageio import read_image
from segstudio.core.inference import match_channels, predict
from segstudio.core.models import ModelBundle
from segstudio.core.models import tiling
from segstudio.core.models.allocator import keep_freed_memory
from segstudio.core.models.onnx_runtime import ORT_PASSES, TORCH_PASSES
from segstudio.core.progress import drive

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo" / "images"
CLASSES = ["background", "cell", "debris"]
RACE_PASSES = TORCH_PASSES + ORT_PASSES


def demo_image(name: str, side: int = 192) -> np.ndarray:
    return read_image(DEMO / name).raw[:side, :side]


def reference(bundle: ModelBundle, image: np.ndarray) -> dict[str, np.ndarray | float]:
    """The untouched network (no folding, no channels-last) in float32, softmax and its summary in float64."""
    norm = bundle.normalisation
    pixels = match_channels(image, bundle.in_channels).astype(np.float64)
    x = (pixels * norm.scale - np.asarray(norm.mean)) / np.asarray(norm.std)
    model = copy.deepcopy(bundle.model).eval()
    with torch.inference_mode():
        logits = model(torch.from_numpy(x.transpose(2, 0, 1)[None].astype(np.float32)))[0].double()
    probs = torch.softmax(logits, dim=0).numpy()
    top2 = np.sort(probs, axis=0)[-2:]
    entropy = np.clip(-(probs * np.log(np.maximum(probs, 1e-12))).sum(0) / np.log(len(probs)), 0, 1)
    return {"class_map": probs.argmax(0), "margin": top2[1] - top2[0], "confidence": probs.max(0) * 255,
            "entropy": entropy * 255, "uncertainty": float(entropy.mean())}


@pytest.mark.parametrize("arch, options", [("unet", {"depth": 2, "width": 8}),
                                           ("lraspp_mobilenet_v3_large", {}),
                                           ("deeplabv3_mobilenet_v3_large", {})])
@pytest.mark.parametrize("name", ["A9_p5d.png", "20P1_POS0007_D_1UL.png"])
@pytest.mark.parametrize("classes", [CLASSES, CLASSES[:2]])  # two classes take tiling.summarise_two
def test_the_proposal_equals_a_float64_reference_on_demo_images(arch, options, name, classes):
    torch.manual_seed(0)
    bundle = ModelBundle.create(arch, classes, **options)
    image = demo_image(name)
    ours = drive(predict(bundle, image))
    ref = reference(bundle, image)
    decided = ref["margin"] > 1e-4  # where float rounding cannot swap the two best classes
    assert decided.mean() > 0.9
    assert np.array_equal(ours.class_map[decided], ref["class_map"][decided])
    assert np.abs(ours.confidence - ref["confidence"]).max() <= 1.0
    assert np.abs(ours.entropy - ref["entropy"]).max() <= 1.0
    assert ours.uncertainty == pytest.approx(ref["uncertainty"], abs=1e-4)


@pytest.mark.parametrize("values", [1, 3 * 7 * 100])  # one row a chunk; 7 rows (not a divisor of any side)
@pytest.mark.parametrize("tile, overlap", [(4096, 0), (64, 16)])
def test_finalising_in_chunks_changes_nothing(monkeypatch, tile, overlap, values):
    torch.manual_seed(1)
    bundle = ModelBundle.create("unet", CLASSES, depth=2, width=8)
    image = demo_image("A9_p7d.png", 150)[:, :100]
    for _ in range(RACE_PASSES):  # the runtime race ends first (core/models/onnx_runtime.py): both runs on one
        drive(predict(bundle, image, tile=tile, overlap=overlap))
    whole = drive(predict(bundle, image, tile=tile, overlap=overlap))
    monkeypatch.setattr(tiling, "FINAL_VALUES_PER_CHUNK", values)
    chunked = drive(predict(bundle, image, tile=tile, overlap=overlap))
    for field in ("class_map", "confidence", "entropy"):
        assert np.array_equal(getattr(whole, field), getattr(chunked, field)), field
    assert whole.uncertainty == pytest.approx(chunked.uncertainty, abs=1e-6)


def _resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


@pytest.mark.skipif(not keep_freed_memory(1 << 30), reason="not glibc: the allocator is left as it is")
def test_freed_blocks_stay_mapped_for_the_next_layer():
    """A freed 64 MiB block stays in the process (glibc's defaults unmap it, and the next layer
    of that size faults in fresh pages) and the next one of that size reuses it."""
    block = np.ones(64 << 20, np.uint8)
    resident = _resident_bytes()
    del block
    assert resident - _resident_bytes() < 8 << 20
    again = np.ones(64 << 20, np.uint8)
    assert _resident_bytes() - resident < 8 << 20
    assert again.sum() == 64 << 20
