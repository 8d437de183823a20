"""Class maps from a network in training, and their scores against reviewed pixels.

This is the validation step of the trainer and the engine of `segstudio eval`. Big images are
cut into tiles with a context margin (the margin's logits are thrown away), so validation
memory stays bounded on 8k images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from segstudio.core.metrics import MetricAccumulator
from segstudio.core.labels import IGNORE
from segstudio.core.training.dataset import ReviewedImage


@torch.no_grad()
def predict_classes(model: nn.Module, pixels: np.ndarray, device: torch.device, *, tile: int = 512,
                    margin: int = 32, autocast: bool = False, target: np.ndarray | None = None):
    """Arg-max class per pixel (H x W uint8) of a C x H x W normalised input.

    With a `target` (H x W, 255 = ignore) returns (classes, summed cross-entropy, labelled pixels)
    instead: the loss tells apart models whose class maps score the same.
    """
    _, height, width = pixels.shape
    out = np.zeros((height, width), np.uint8)
    loss_sum, counted = 0.0, 0
    for y0, y1 in _spans(height, tile, margin):
        for x0, x1 in _spans(width, tile, margin):
            cy0, cx0 = max(0, y0 - margin), max(0, x0 - margin)
            cy1, cx1 = min(height, y1 + margin), min(width, x1 + margin)
            window = torch.from_numpy(np.ascontiguousarray(pixels[:, cy0:cy1, cx0:cx1]))[None].to(device)
            with torch.autocast(device.type, enabled=autocast):
                logits = model(window)
            logits = logits[:, :, y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0].float()
            out[y0:y1, x0:x1] = logits.argmax(1)[0].to("cpu", torch.uint8).numpy()
            if target is not None:
                labels = torch.from_numpy(target[y0:y1, x0:x1].astype(np.int64))[None].to(device)
                loss_sum += float(F.cross_entropy(logits, labels, ignore_index=IGNORE, reduction="sum"))
                counted += int((labels != IGNORE).sum())
    return out if target is None else (out, loss_sum, counted)


def _spans(length: int, tile: int, margin: int) -> list[tuple[int, int]]:
    """The kept part of each tile along one axis: the whole axis when it fits in one tile."""
    if length <= tile:
        return [(0, length)]
    step = max(1, tile - 2 * margin)
    return [(start, min(length, start + step)) for start in range(0, length, step)]


def evaluate(model: nn.Module, images: Sequence[ReviewedImage], normalise: Callable[[np.ndarray], np.ndarray],
             num_classes: int, device: torch.device, *, tile: int = 512, boundary_tolerance: int | None = None,
             autocast: bool = False) -> tuple[MetricAccumulator, np.ndarray]:
    """Confusion counts of the model's predictions against the reviewed pixels of `images`, and
    [summed cross-entropy, labelled pixels].

    Returns sums (not scores) so distributed ranks can add theirs up.
    """
    accumulator = MetricAccumulator(num_classes, boundary_tolerance=boundary_tolerance)
    loss = np.zeros(2, np.float64)
    was_training = model.training
    model.eval()
    try:
        for image in images:
            prediction, loss_sum, counted = predict_classes(model, normalise(image.raw), device, tile=tile,
                                                            autocast=autocast, target=image.target)
            accumulator.add(image.target, prediction)
            loss += (loss_sum, counted)
    finally:
        model.train(was_training)
    return accumulator, loss


def evaluate_project(project, *, version: str | None = None, split: str = "val", device: str | None = None,
                     tolerance: int = 2):
    """(Scores, bundle, image count) of a model version on the reviewed pixels of a split."""
    from segstudio.core.device import pick_device
    from segstudio.core.errors import SegStudioError
    from segstudio.core.models.bundle import ModelBundle
    from segstudio.core.training.dataset import load_reviewed
    from segstudio.core.training.policy import candidate_image_ids

    records = {m.version: m for m in project.models()}
    record = records.get(version) if version else project.best_model()
    if record is None:
        raise SegStudioError(f"no model {version} in the project" if version else "the project has no model yet")
    bundle = ModelBundle.load(record.path)
    if bundle.class_names != project.class_names():
        raise SegStudioError(f"model {record.version} has classes {bundle.class_names}, "
                             f"the project {project.class_names()}")
    wanted = {r.id for r in project.images() if split == "all" or r.split.value == split}
    images = load_reviewed(project, [i for i in candidate_image_ids(project) if i in wanted], bundle.in_channels)
    if not images:
        raise SegStudioError(f"no image of the {split} split has reviewed pixels")
    target = pick_device(device)
    bundle.model.to(target)
    accumulator = MetricAccumulator(bundle.num_classes, boundary_tolerance=tolerance)
    for image in images:
        accumulator.add(image.target, predict_classes(bundle.model, bundle.normalisation.apply(image.raw), target,
                                                     tile=bundle.tile_size))
    bundle.version = record.version
    return accumulator.scores(), bundle, len(images)
