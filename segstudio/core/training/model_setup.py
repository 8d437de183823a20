"""The network a run starts from: the project's best model (warm start) or a new one.

A new model takes its input channels and normalisation from the project's images, its classes
from the project. 8-bit images keep the container scale (1/255, ImageNet statistics for RGB);
16-bit and float images are normalised by their data: robust per-channel percentiles measured
on a sample of the project's images and stored in model.json, so training, prediction and
export apply the same transform. A warm start is declined when the best model's normalisation
leaves the project's images almost flat (an old model that divided 12-bit data by 65535).
"""

from __future__ import annotations

import numpy as np

from segstudio.core.errors import ModelError, SegStudioError
from segstudio.core.models.bundle import ModelBundle
from segstudio.core.models.classes import Normalisation
from segstudio.core.training.config import DEFAULT_TRAIN_ARCH

SAMPLE_IMAGES = 16  # images read to measure a data normalisation
SAMPLE_PIXELS = 65536  # pixels taken from each
MIN_CONTRAST = 0.5  # the data's percentile span, in model input units, below which a model sees a flat image


def project_classes(project) -> list:
    """The project's classes in id order (model output channel i is class id i)."""
    return sorted(project.classes(), key=lambda c: c.id)


def image_format(project) -> tuple[int, str]:
    """(channels, dtype) of the project's images: 1 for grey, 3 for colour (alpha dropped)."""
    from segstudio.core.imageio import probe_image
    from segstudio.core.imageio.channels import model_channels

    records = project.images(order="added")
    if not records:
        raise SegStudioError("the project has no images")
    for record in records:
        try:
            info = probe_image(record.path)
        except SegStudioError:
            continue
        return model_channels(info.channels), str(info.dtype)
    raise SegStudioError("none of the project's images can be read")


def sample_pixels(project, in_channels: int, *, images: int = SAMPLE_IMAGES, pixels: int = SAMPLE_PIXELS,
                  seed: int = 0) -> np.ndarray:
    """N x C raw pixels from up to `images` of the project's images, evenly spread over the list."""
    from segstudio.core.imageio import read_image
    from segstudio.core.inference import match_channels

    records = project.images(order="added")
    rng = np.random.default_rng(seed)
    chosen = sorted(set(np.linspace(0, len(records) - 1, min(images, len(records))).round().astype(int)))
    parts = []
    for index in chosen:
        try:
            raw = match_channels(read_image(records[index].path).raw, in_channels)
        except SegStudioError:
            continue
        flat = raw.reshape(-1, in_channels)
        take = rng.choice(len(flat), pixels, replace=False) if len(flat) > pixels else slice(None)
        parts.append(flat[take])
    return np.concatenate(parts) if parts else np.zeros((0, in_channels))


def normalisation_for(project, channels: int, dtype: str) -> Normalisation:
    """The container scale for 8-bit images, percentiles of the data for 16-bit and float ones."""
    if dtype == "uint8":
        return Normalisation.default(channels, dtype)
    return Normalisation.from_data(sample_pixels(project, channels))


def initial_bundle(project, config) -> tuple[ModelBundle, bool, str]:
    """(bundle, warm_started, note): the note says why a best model could not be used."""
    if project.num_classes > 254:
        raise SegStudioError("training supports at most 254 classes (255 is the ignore value)")
    classes = project_classes(project)
    channels, dtype = image_format(project)
    best = project.best_model() if config.warm_start else None
    note = ""
    wanted = normalisation_for(project, channels, dtype)
    if best is not None:
        try:
            bundle = ModelBundle.load(best.path)
        except ModelError as exc:
            note = f"best model {best.version} cannot be loaded ({exc}); starting from a new model"
        else:
            if config.arch and bundle.arch != config.arch:
                note = f"best model {best.version} is a {bundle.arch}; starting a new {config.arch}"
            elif bundle.class_names != [c.name for c in classes]:
                note = f"best model {best.version} has other classes; starting from a new model"
            elif bundle.in_channels != channels:
                note = f"best model {best.version} expects {bundle.in_channels} channels; starting from a new model"
            elif wanted.low is not None and bundle.normalisation.contrast(wanted.low, wanted.high) < MIN_CONTRAST:
                note = (f"best model {best.version} sees this project's {dtype} images as almost flat "
                        f"(it scales them by their pixel type); starting a new model normalised by the data")
            else:
                bundle.model.train()
                return bundle, True, f"warm start from {best.version}"
    bundle = ModelBundle.create(config.arch or DEFAULT_TRAIN_ARCH, classes, in_channels=channels,
                                normalisation=wanted, **config.model_options)
    bundle.model.train()
    return bundle, False, note
