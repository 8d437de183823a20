"""Class maps from a network in training, and their scores against reviewed pixels.

This is the validation step of the trainer and the engine of `segstudio eval`. Big images are
cut into tiles with a context margin (the margin's logits are thrown away), so validation
memory stays bounded on 8k images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from segstudio.core.metrics import MetricAccumulator
from segstudio.core.compare import Evaluation, score_images
from segstudio.core.labels import IGNORE
from segstudio.core.training.dataset import ReviewedImage


# Accepted proposal pixels this close to a class edge are not evidence about edges. A person
# accepts a proposal once its errors are too small to be worth a stroke, and those errors sit
# along the edges, so the labels there are the proposing model's own edges: scored on them, that
# model beats any candidate. `bench hitl --model network` on nuclei kept the model of image 1
# for all 20 images: it scored 0.998 on a validation image it had proposed (3 strokes of
# correction), every later candidate 0.94-0.97.
ACCEPTED_EDGE_BAND = 2


def judged_target(target: np.ndarray, accepted: np.ndarray, band: int = ACCEPTED_EDGE_BAND) -> np.ndarray:
    """The target validation scores: `target` without the accepted pixels within `band` pixels of
    an edge between two reviewed classes (painted pixels all count)."""
    if band <= 0 or not accepted.any():
        return target
    reviewed = target != IGNORE
    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    highest = cv2.dilate(np.where(reviewed, target, 0).astype(target.dtype), kernel)
    lowest = cv2.erode(np.where(reviewed, target, np.iinfo(target.dtype).max).astype(target.dtype), kernel)
    near_edge = highest != lowest  # two reviewed classes within the band (unreviewed pixels never count)
    return np.where(near_edge & accepted & reviewed, IGNORE, target).astype(target.dtype)


class JudgedImage:
    """A cached validation image as the trainer's comparison reads it (cache.OnDisk underneath)."""

    def __init__(self, image):
        self.image, self.image_id, self.key = image, image.image_id, image.key

    @property
    def raw(self) -> np.ndarray:
        return self.image.raw

    @property
    def target(self) -> np.ndarray:
        return judged_target(np.asarray(self.image.target), self.image.accepted)


def _tiled_logits(model: nn.Module, pixels: np.ndarray, device: torch.device, tile: int, margin: int,
                  autocast: bool):
    """(y0, y1, x0, x1, logits of that kept region) for each tile of a C x H x W normalised input."""
    _, height, width = pixels.shape
    for y0, y1 in _spans(height, tile, margin):
        for x0, x1 in _spans(width, tile, margin):
            cy0, cx0 = max(0, y0 - margin), max(0, x0 - margin)
            cy1, cx1 = min(height, y1 + margin), min(width, x1 + margin)
            window = torch.from_numpy(np.ascontiguousarray(pixels[:, cy0:cy1, cx0:cx1]))[None].to(device)
            with torch.autocast(device.type, enabled=autocast):
                logits = model(window)
            yield y0, y1, x0, x1, logits[:, :, y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0].float()


@torch.no_grad()
def predict_classes(model: nn.Module, pixels: np.ndarray, device: torch.device, *, tile: int = 512,
                    margin: int = 32, autocast: bool = False, target: np.ndarray | None = None):
    """Arg-max class per pixel (H x W uint8) of a C x H x W normalised input.

    With a `target` (H x W, 255 = ignore) returns (classes, summed cross-entropy, labelled pixels)
    instead: the loss tells apart models whose class maps score the same.
    """
    out = np.zeros(pixels.shape[1:], np.uint8)
    loss_sum, counted = 0.0, 0
    for y0, y1, x0, x1, logits in _tiled_logits(model, pixels, device, tile, margin, autocast):
        out[y0:y1, x0:x1] = logits.argmax(1)[0].to("cpu", torch.uint8).numpy()
        if target is not None:
            labels = torch.from_numpy(target[y0:y1, x0:x1].astype(np.int64))[None].to(device)
            loss_sum += float(F.cross_entropy(logits, labels, ignore_index=255, reduction="sum"))
            counted += int((labels != 255).sum())
    return out if target is None else (out, loss_sum, counted)


@torch.no_grad()
def predict_confident(model: nn.Module, pixels: np.ndarray, device: torch.device, *, tile: int = 512,
                      margin: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(arg-max class H x W uint8, its probability H x W float32) of a C x H x W normalised input."""
    classes = np.zeros(pixels.shape[1:], np.uint8)
    confidence = np.zeros(pixels.shape[1:], np.float32)
    for y0, y1, x0, x1, logits in _tiled_logits(model, pixels, device, tile, margin, False):
        probability, chosen = logits.softmax(1).max(1)
        classes[y0:y1, x0:x1] = chosen[0].to("cpu", torch.uint8).numpy()
        confidence[y0:y1, x0:x1] = probability[0].cpu().numpy()
    return classes, confidence


def _spans(length: int, tile: int, margin: int) -> list[tuple[int, int]]:
    """The kept part of each tile along one axis: the whole axis when it fits in one tile."""
    if length <= tile:
        return [(0, length)]
    step = max(1, tile - 2 * margin)
    return [(start, min(length, start + step)) for start in range(0, length, step)]


def evaluate(model: nn.Module, images: Sequence[ReviewedImage], normalise: Callable[[np.ndarray], np.ndarray],
             num_classes: int, device: torch.device, *, tile: int = 512,
             autocast: bool = False) -> tuple[Evaluation, np.ndarray]:
    """The model's confusion counts per block of each image (for compare.decide), and
    [summed cross-entropy, labelled pixels].

    Returns counts (not scores) so distributed ranks can add theirs up.
    """
    loss = np.zeros(2, np.float64)
    was_training = model.training
    model.eval()

    def predict(image: ReviewedImage) -> np.ndarray:
        nonlocal loss
        prediction, loss_sum, counted = predict_classes(model, normalise(image.raw), device, tile=tile,
                                                        autocast=autocast, target=image.target)
        loss += (loss_sum, counted)
        return prediction

    try:
        evaluation = score_images(predict, images, num_classes)
    finally:
        model.train(was_training)
    return evaluation, loss


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
