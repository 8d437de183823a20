"""Device choice: best found by default, explicit overrides honoured or refused clearly."""

from __future__ import annotations

import pytest
import torch

from segstudio.core.device import available_devices, pick_device
from segstudio.core.errors import ModelError


def test_cpu_is_always_there_and_last():
    assert available_devices()[-1] == "cpu"
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(" CPU ") == torch.device("cpu")


def test_auto_picks_the_best_found():
    expected = "cuda" if torch.cuda.is_available() else ("mps" if "mps" in available_devices() else "cpu")
    assert pick_device().type == expected
    assert pick_device("auto").type == expected


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "cpu:1", "tpu"])
def test_unknown_names_are_refused(name):
    with pytest.raises(ModelError, match="unknown device"):
        pick_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message when CUDA is missing")
@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_missing_cuda_says_what_is_available(name):
    with pytest.raises(ModelError, match="available: .*cpu"):
        pick_device(name)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_index_beyond_the_count_is_refused():
    assert pick_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(ModelError, match="CUDA device"):
        pick_device(f"cuda:{torch.cuda.device_count()}")
