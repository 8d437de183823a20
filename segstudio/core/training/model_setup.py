"""The network a run starts from: the project's best model (warm start) or a new one.

A new model takes its input channels and normalisation from the project's images (a 16-bit
grey microscopy image gets scale 1/65535 and one channel), its classes from the project.
"""

from __future__ import annotations

from segstudio.core.errors import ModelError, SegStudioError
from segstudio.core.models.bundle import ModelBundle
from segstudio.core.models.classes import Normalisation

DEFAULT_TRAIN_ARCH = "unet"  # trains from scratch on a handful of images (no pretrained weights here)


def project_classes(project) -> list:
    """The project's classes in id order (model output channel i is class id i)."""
    return sorted(project.classes(), key=lambda c: c.id)


def image_format(project) -> tuple[int, str]:
    """(channels, dtype) of the project's images: 1 for grey, 3 for colour (alpha dropped)."""
    from segstudio.core.imageio import probe_image

    records = project.images(order="added")
    if not records:
        raise SegStudioError("the project has no images")
    for record in records:
        try:
            info = probe_image(record.path)
        except SegStudioError:
            continue
        return (1 if info.channels == 1 else 3), str(info.dtype)
    raise SegStudioError("none of the project's images can be read")


def initial_bundle(project, config) -> tuple[ModelBundle, bool, str]:
    """(bundle, warm_started, note): the note says why a best model could not be used."""
    if project.num_classes > 254:
        raise SegStudioError("training supports at most 254 classes (255 is the ignore value)")
    classes = project_classes(project)
    channels, dtype = image_format(project)
    best = project.best_model() if config.warm_start else None
    note = ""
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
            else:
                bundle.model.train()
                return bundle, True, f"warm start from {best.version}"
    bundle = ModelBundle.create(config.arch or DEFAULT_TRAIN_ARCH, classes, in_channels=channels,
                                normalisation=Normalisation.default(channels, dtype), **config.model_options)
    bundle.model.train()
    return bundle, False, note
