"""Pretrained weights: taken from the torch cache when there, never downloaded unasked, offline-safe."""

from __future__ import annotations

import pytest
import torch
from torchvision.models.segmentation import LRASPP_MobileNet_V3_Large_Weights, lraspp_mobilenet_v3_large

from segstudio.core.device import torch_threads
from segstudio.core.models import create_model
from segstudio.core.models.pretrained import cache_path, fetch_weights

WEIGHTS = LRASPP_MobileNet_V3_Large_Weights.DEFAULT


@pytest.fixture(autouse=True)
def private_hub(tmp_path):
    """A torch hub folder of our own: the real cache is neither read nor written."""
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    with torch_threads(1):
        yield tmp_path / "hub"
    torch.hub.set_dir(previous)


def test_missing_weights_leave_random_init_with_a_clear_message():
    model = create_model("lraspp_mobilenet_v3_large", 2, pretrained=True)
    assert "not in the torch cache" in model.pretrained_note and str(cache_path(WEIGHTS)) in model.pretrained_note
    assert "random initialisation" in model.pretrained_note


def test_no_download_when_the_network_is_off_even_if_asked(monkeypatch):
    monkeypatch.setenv("SEGSTUDIO_NO_NETWORK", "1")
    result = fetch_weights(WEIGHTS, allow_download=True)
    assert result.state is None and "network is off" in result.message
    assert not cache_path(WEIGHTS).exists()


def test_cached_coco_heads_load_except_the_classifier_for_another_class_count():
    torch.manual_seed(5)
    reference = lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21)
    path = cache_path(WEIGHTS)
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    model = create_model("lraspp_mobilenet_v3_large", 3, pretrained=True)
    assert "loaded pretrained weights" in model.pretrained_note and "left at random" in model.pretrained_note
    ours = model.net.net
    assert torch.equal(ours.backbone["4"].block[0][0].weight, reference.backbone["4"].block[0][0].weight)
    assert ours.classifier.high_classifier.weight.shape[0] == 3
    gray = create_model("lraspp_mobilenet_v3_large", 3, in_channels=1, pretrained=True)
    first = gray.net.net.backbone["0"][0].weight
    expected = reference.backbone["0"][0].weight.mean(dim=1, keepdim=True) * 3.0
    assert first.shape[1] == 1 and torch.allclose(first, expected)


def test_a_damaged_cache_file_is_reported_not_fatal():
    path = cache_path(WEIGHTS)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"truncated")
    model = create_model("lraspp_mobilenet_v3_large", 2, pretrained=True)
    assert "cannot read cached weights" in model.pretrained_note


def test_own_architectures_say_they_have_no_pretrained_weights():
    assert "no pretrained weights" in create_model("unet", 2, pretrained=True, depth=1, width=2).pretrained_note
