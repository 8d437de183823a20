"""Segmentation networks: the architecture table, model bundles and import of outside models.

    create_model(arch, num_classes, in_channels=3, pretrained=False, **options) -> nn.Module
    ARCHITECTURES: dict[str, ModelSpec]
    ModelBundle.create(arch, classes, ...) / .save(folder) / ModelBundle.load(folder)
    import_model(path, classes=[...], arch=...) -> ModelBundle

Names are imported on first use (PEP 562), so listing architectures does not load torch.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "ARCHITECTURES": "registry", "DEFAULT_ARCH": "registry", "ModelSpec": "registry", "create_model": "registry",
    "ModelBundle": "bundle", "ModelClass": "classes", "Normalisation": "classes", "import_model": "importing",
    "SegmentationModel": "wrapper",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
