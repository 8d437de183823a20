"""Every architecture in the registry passes the same suite.

Small inputs keep it fast; the ResNet-50 models are built once per module and reused.
"""

from __future__ import annotations

import pytest
import torch

from segstudio.core.models import ARCHITECTURES, ModelBundle, create_model

TINY = {"unet": {"depth": 2, "width": 8}, "segnet": {"depth": 2, "width": 8}}
CLASSES = ["background", "cell", "debris"]

# the ResNet-50 models take seconds per case on a CPU
pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.parametrize(
        "arch", [pytest.param(a, marks=pytest.mark.slow) if "resnet" in a else a for a in sorted(ARCHITECTURES)]),
]


@pytest.fixture(scope="module")
def built():
    cache: dict[str, torch.nn.Module] = {}

    def get(arch: str) -> torch.nn.Module:
        if arch not in cache:
            torch.manual_seed(0)
            cache[arch] = create_model(arch, len(CLASSES), 3, **TINY.get(arch, {}))
        return cache[arch]

    return get


def test_odd_sizes_give_logits_of_the_input_size(arch, built):
    model = built(arch).eval()
    with torch.inference_mode():
        logits = model(torch.randn(1, 3, 97, 131))
    assert logits.shape == (1, len(CLASSES), 97, 131)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("channels", [1, 4])
def test_any_number_of_input_channels(arch, channels):
    model = create_model(arch, 2, channels, **TINY.get(arch, {})).eval()
    with torch.inference_mode():
        logits = model(torch.randn(1, channels, 45, 63))
    assert logits.shape == (1, 2, 45, 63)


def test_a_train_step_lowers_the_loss(arch, built):
    model = built(arch).train()
    for module in model.modules():  # dropout off: the loss is then a function of the weights only
        if isinstance(module, torch.nn.Dropout):
            module.eval()
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(2, 3, 40, 40, generator=generator)
    target = (images[:, 0] > 0).long() + (images[:, 1] > 1).long()  # learnable from the pixels
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-4)
    losses = []
    for _ in range(4):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(images), target)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses


def test_bundle_round_trip_gives_identical_outputs(arch, built, tmp_path):
    model = built(arch).eval()
    bundle = ModelBundle(model=model, arch=arch, classes=CLASSES, options=model.options, version="v0007",
                         seed=42, metrics={"val_miou": 0.5})
    x = torch.randn(1, 3, 40, 56)
    with torch.inference_mode():
        before = bundle.model(x)
    bundle.save(tmp_path / "bundle")
    loaded = ModelBundle.load(tmp_path / "bundle")
    with torch.inference_mode():
        after = loaded.model(x)
    assert torch.equal(before, after)
    assert loaded.class_names == CLASSES
    assert (loaded.version, loaded.seed, loaded.metrics) == ("v0007", 42, {"val_miou": 0.5})
    assert loaded.normalisation == bundle.normalisation
