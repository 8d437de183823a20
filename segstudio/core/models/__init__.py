"""Segmentation networks: the architecture table, model bundles and import of outside models.

    create_model(arch, num_classes, in_channels=3, pretrained=False, **options) -> nn.Module
    ARCHITECTURES: dict[str, ModelSpec]
    ModelBundle.create(arch, classes, ...) / .save(folder) / ModelBundle.load(folder)
    import_model(path, classes=[...], arch=...) -> ModelBundle
"""

from segstudio.core.models.bundle import ModelBundle
from segstudio.core.models.classes import ModelClass, Normalisation
from segstudio.core.models.importing import import_model
from segstudio.core.models.registry import ARCHITECTURES, DEFAULT_ARCH, ModelSpec, create_model
from segstudio.core.models.wrapper import SegmentationModel

__all__ = ["ARCHITECTURES", "DEFAULT_ARCH", "ModelBundle", "ModelClass", "ModelSpec", "Normalisation",
           "SegmentationModel", "create_model", "import_model"]
