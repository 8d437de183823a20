"""The race of torch against ONNX Runtime (core/models/onnx_runtime.py): whichever runtime wins,
the proposals are torch's, and a graph that disagrees with torch never serves a proposal."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from segstudio.core.inference import predict, runtime_kind
from segstudio.core.models import ModelBundle
from segstudio.core.models.onnx_runtime import (ORT_PASSES, TORCH_PASSES, RuntimeRace, agrees, chosen_runtime,
                                                race_for, torch_alone)
from segstudio.core.models.optimise import inference_copy
from segstudio.core.progress import drive

pytestmark = pytest.mark.usefixtures("one_torch_thread")
RACE_PASSES = TORCH_PASSES + ORT_PASSES


def decisive_unet(seed: int = 0) -> ModelBundle:
    torch.manual_seed(seed)
    bundle = ModelBundle.create("unet", ["background", "cell", "debris"], depth=2, width=8)
    with torch.no_grad():
        bundle.model.net.head.weight.mul_(20)
    return bundle


def test_proposals_are_the_same_whichever_runtime_wins():
    bundle = decisive_unet()
    image = np.random.default_rng(0).integers(0, 256, (45, 70, 3), dtype=np.uint8)  # not a multiple of the stride
    torch_only = drive(predict(bundle, image, device="cpu", mixed_precision=False))
    passes = [drive(predict(bundle, image, device="cpu", mixed_precision=False)) for _ in range(RACE_PASSES + 2)]
    kind = runtime_kind(bundle, False)
    assert chosen_runtime(kind, (1, 3, 45, 70)) in ("torch", "onnxruntime")
    for prediction in passes:
        assert (prediction.class_map == torch_only.class_map).mean() >= 0.999
        assert np.abs(prediction.confidence.astype(int) - torch_only.confidence.astype(int)).max() <= 1


class TracedBranch(nn.Module):
    """Branches on the data: a tracer bakes in the branch of its sample input (zeros), so the
    exported graph is wrong for every other input."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool(x.mean() > 0.5):
            return self.conv(x)
        return -self.conv(x)


def test_a_graph_that_disagrees_with_torch_never_serves(caplog):
    torch.manual_seed(0)
    model = TracedBranch().eval()
    race = RuntimeRace(model, kind=("traced-branch", 1))
    batch = torch.rand(1, 3, 24, 24) + 1.0  # mean > 0.5: torch takes the first branch

    def forward(b):
        with torch.inference_mode():
            return model(b)

    expected = forward(batch).numpy()
    for _ in range(RACE_PASSES + 2):
        np.testing.assert_allclose(race.run(batch, forward), expected, rtol=1e-5, atol=1e-5)
    assert race.runtime((1, 3, 24, 24)) == "torch"
    assert "disagrees" in caplog.text  # exported and refused, not merely failed to export


def test_a_model_that_cannot_be_exported_stays_on_torch():
    torch.manual_seed(0)
    bundle = ModelBundle.create("segnet", ["a", "b"])  # max_unpool's size check does not trace
    image = np.random.default_rng(1).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    first = drive(predict(bundle, image, device="cpu", mixed_precision=False))
    for _ in range(RACE_PASSES):
        again = drive(predict(bundle, image, device="cpu", mixed_precision=False))
        np.testing.assert_array_equal(again.class_map, first.class_map)
    assert chosen_runtime(runtime_kind(bundle, False), (1, 3, 32, 48)) == "torch"


def test_a_later_version_of_the_same_kind_does_not_race_again():
    first, second = decisive_unet(1), decisive_unet(2)
    image = np.random.default_rng(2).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    for _ in range(RACE_PASSES):
        drive(predict(first, image, device="cpu", mixed_precision=False))
    kind = runtime_kind(first, False)
    assert runtime_kind(second, False) == kind
    winner = chosen_runtime(kind, (1, 3, 40, 40))
    assert winner in ("torch", "onnxruntime")
    race = race_for(inference_copy(second.model, torch.device("cpu")), kind)
    expected = drive(predict(second, image, device="cpu", mixed_precision=False))
    if winner == "torch":  # decided at its first pass: no timing, no export
        assert race.runtime((1, 3, 40, 40)) == "torch"
    for _ in range(30):  # where ONNX Runtime won: torch until the lost time pays for the switch
        again = drive(predict(second, image, device="cpu", mixed_precision=False))
        assert (again.class_map == expected.class_map).mean() >= 0.999
        assert race.runtime((1, 3, 40, 40)) in (None, winner)


def test_a_race_lives_no_longer_than_its_model():
    import gc
    import weakref

    model = nn.Conv2d(3, 2, 3, padding=1).eval()
    race = weakref.ref(race_for(model, ("conv", 2)))
    del model
    gc.collect()
    assert race() is None


def test_without_onnxruntime_torch_runs_alone(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)  # import onnxruntime now fails
    assert race_for(nn.Conv2d(3, 2, 1), ("conv", 1)) is None


def test_within_torch_alone_no_model_races_and_after_it_they_do_again():
    """bench hitl pins torch so its figures repeat: the race decides by timing."""
    with torch_alone():
        assert race_for(nn.Conv2d(3, 2, 1), ("conv", 2)) is None
    assert race_for(nn.Conv2d(3, 2, 1), ("conv", 2)) is not None


def test_agreement_needs_the_same_classes_and_close_logits():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(1, 3, 20, 20)).astype(np.float32) * 10
    assert agrees(reference + 1e-5, reference)
    assert not agrees(-reference, reference)
    assert not agrees(reference[:, :2], reference)
    nan = reference.copy()
    nan[0, 0, 0, 0] = np.nan
    assert not agrees(nan, reference)


def test_two_models_switching_at_once_both_export(caplog):
    """Torch's exporter keeps global state: two exports at once must wait for each other, not fail."""
    import logging
    import threading

    caplog.set_level(logging.INFO, logger="segstudio.core.models.onnx_runtime")
    torch.manual_seed(0)
    models = [nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 2, 1)).eval() for _ in range(2)]
    batch = torch.rand(1, 3, 64, 64)
    barrier = threading.Barrier(2)

    def race(index: int) -> None:
        model = models[index]
        runner = RuntimeRace(model, kind=("two-at-once", index))

        def forward(b):
            with torch.inference_mode():
                return model(b)

        for _ in range(TORCH_PASSES):
            runner.run(batch, forward)
        barrier.wait()
        runner.run(batch, forward)  # both export now

    threads = [threading.Thread(target=race, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "no ONNX Runtime" not in caplog.text
