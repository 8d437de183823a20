"""16-bit and float images are normalised by their data, the same way in training, prediction
and export; model.json files with the old container normalisation load and behave as before."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from segstudio.core.inference import predict
from segstudio.core.model_export import export_torchscript, sidecar_path
from segstudio.core.models.bundle import ModelBundle
from segstudio.core.models.classes import Normalisation
from segstudio.core.progress import drive
from segstudio.core.project import Project
from segstudio.core.training import TrainConfig, train
from segstudio.core.training.augment import AugmentConfig
from segstudio.core.training.model_setup import initial_bundle

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def nuclei(seed: int, top: float, dtype, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Bright discs on a dim background, in a small part of the container's range."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    mask = np.zeros((size, size), np.uint8)
    for cy, cx in rng.integers(8, size - 8, (3, 2)):
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 < 36] = 1
    image = np.where(mask == 1, 0.8 * top, 0.1 * top) + rng.normal(0, 0.03 * top, mask.shape)
    return np.clip(image, 0, top).astype(dtype), mask


def input_span(normalisation: Normalisation, raw: np.ndarray) -> float:
    values = normalisation.apply(raw)
    return float(np.percentile(values, 99) - np.percentile(values, 1))


@pytest.mark.parametrize(("top", "dtype"), [(235, np.uint16), (4095, np.uint16), (3000.0, np.float32),
                                            (1e-3, np.float32)])
def test_data_normalisation_gives_full_contrast_where_the_container_gave_none(top, dtype):
    raw, _ = nuclei(0, top, dtype)
    by_data = Normalisation.from_data(raw.reshape(-1, 1))
    assert input_span(by_data, raw) > 3.0  # percentiles 0.5 / 99.5 land near -2 / +2
    assert abs(float(by_data.apply(raw).mean())) < 2.0
    container = Normalisation.default(1, str(np.dtype(dtype)))
    span = input_span(container, raw)
    assert span < 0.25 or span > 100  # almost flat (16x less contrast at most), or far out of range


def test_rgb_data_normalisation_keeps_imagenet_centring_per_channel():
    rng = np.random.default_rng(1)
    raw = np.stack([rng.integers(100, 300, (32, 32)), rng.integers(1000, 4000, (32, 32)),
                    rng.integers(0, 50, (32, 32))], axis=2).astype(np.uint16)
    norm = Normalisation.from_data(raw.reshape(-1, 3))
    unit = norm.unit(raw)
    assert unit.min() > -0.05 and unit.max() < 1.05  # each channel by its own range
    spans = [float(np.ptp(norm.apply(raw)[c])) for c in range(3)]
    assert min(spans) > 3.5


def test_model_json_round_trip_and_old_files_load_unchanged(tmp_path):
    raw, _ = nuclei(0, 235, np.uint16)
    new = Normalisation.from_data(raw.reshape(-1, 1))
    data = json.loads(json.dumps(new.to_json()))
    assert data["method"] == "percentiles" and data["percentiles"] == [0.5, 99.5]
    assert Normalisation.from_json(data) == new
    old_json = {"scale": 1 / 65535, "mean": [0.5], "std": [0.25]}  # what earlier versions wrote
    old = Normalisation.from_json(old_json)
    assert old.method == "container" and old.to_json() == old_json
    expected = (raw.astype(np.float32) / 65535 - 0.5) / 0.25
    assert np.allclose(old.apply(raw)[0], expected, atol=1e-5)


@pytest.fixture
def sixteen_bit_project(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    masks = []
    for index in range(4):
        image, mask = nuclei(index, 235, np.uint16)
        tifffile.imwrite(folder / f"{index}.tif", image)
        masks.append(mask)
    project = Project.create(tmp_path / "p", classes=("background", "nucleus"))
    records = sorted(project.add_images([folder], recursive=False).added, key=lambda r: r.name)
    for record, mask in zip(records, masks):
        project.write_masks(record.id, mask, np.full(mask.shape, 3, np.uint8))
    yield project
    project.close()


def tiny(**overrides) -> TrainConfig:
    values = dict(arch="unet", model_options={"width": 8, "depth": 2}, batch_size=4, patches_per_image=1,
                  min_steps_per_epoch=4, augment=AugmentConfig(patch=32), threads=1, device="cpu", lr=1e-2)
    return TrainConfig(**{**values, **overrides})


def test_train_predict_and_export_apply_the_same_data_normalisation(sixteen_bit_project, tmp_path):
    project = sixteen_bit_project
    drive(train(project, tiny(epochs=2)))
    bundle = ModelBundle.load(project.best_model().path)
    norm = bundle.normalisation
    assert norm.method == "percentiles" and 0 <= norm.low[0] < norm.high[0] <= 235
    raw = tifffile.imread(project.images()[0].path)[:, :, None]
    # prediction: the tiled runner's fused affine equals the training transform
    import torch
    with torch.no_grad():
        direct = bundle.model(torch.from_numpy(norm.apply(raw))[None]).argmax(1)[0].numpy()
    predicted = drive(predict(bundle, raw, device="cpu", mixed_precision=False))
    assert (predicted.class_map == direct).mean() > 0.99
    # export: the sidecar's formula and numbers give the same input
    path = export_torchscript(bundle, tmp_path / "model.torchscript.pt")
    pre = json.loads(sidecar_path(path).read_text())["preprocessing"]
    from_sidecar = (raw.astype(np.float32) * pre["scale"] - np.asarray(pre["mean"], np.float32)) / np.asarray(
        pre["std"], np.float32)
    assert np.allclose(from_sidecar.transpose(2, 0, 1), norm.apply(raw), atol=1e-4)


def test_an_old_model_that_sees_the_data_as_flat_is_not_warm_started(sixteen_bit_project):
    project = sixteen_bit_project
    drive(train(project, tiny(epochs=1)))
    best = project.best_model()
    meta_path = best.path / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["normalisation"] = {"scale": 1 / 65535, "mean": [0.5], "std": [0.25]}  # as older versions trained
    meta_path.write_text(json.dumps(meta))
    bundle, warm, note = initial_bundle(project, tiny())
    assert not warm and "almost flat" in note and bundle.normalisation.method == "percentiles"
