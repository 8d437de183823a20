"""Proposals: a model bundle and an image in, a class map with confidence and entropy out.

`predict` is a work generator (Progress events, a StopFlag, a result): large images go
through overlapping tiles whose logits are blended and streamed band by band (see
models/tiling.py), so memory stays bounded by the image width, not its area. When a visible
region is given it is predicted first and yielded as a `RegionPrediction`, so the canvas can
show it while the rest runs. The network runs from a tuned copy (batch norm folded, channels-last weights; models/optimise.py;
the input NCHW on CPUs), in mixed precision on a GPU (float16) and on CPUs with native bfloat16;
on CPUs freed memory stays in the process for the next layer (models/allocator.py), and each
input shape races torch against ONNX Runtime on its first passes and keeps the faster
(models/onnx_runtime.py).

The result is a `core.prediction.Prediction`; `core.prediction.apply_prediction` stores it (the
uncertainty, and the class map as one undoable edit of the pixels nobody has reviewed).
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from segstudio.core.device import cpu_has_native_bf16
from segstudio.core.geometry import BBox
from segstudio.core.imageio.channels import match_channels
from segstudio.core.models.allocator import keep_freed_memory
from segstudio.core.models.bundle import ModelBundle
from segstudio.core.models.onnx_runtime import race_for
from segstudio.core.models.optimise import inference_copy
from segstudio.core.models.tiling import BandAccumulator, TiledOutputs, tile_starts, window_1d
from segstudio.core.progress import Progress, StopFlag
from segstudio.core.errors import ModelError
from segstudio.core.labels import IGNORE, unlabelled_value
from segstudio.core.prediction import Prediction

if TYPE_CHECKING:
    from segstudio.core.project import Project


@dataclass(frozen=True)
class RegionPrediction:
    """The visible region's result, yielded before the whole image is done."""

    bbox: BBox
    prediction: Prediction


# Peak activation memory of one forward pass per input pixel, float32 on a CPU, measured with
# random weights at 1024 x 1024 (resource.ru_maxrss growth, torch 2.x, 2 classes; issue 15):
# unet 592, segnet 304, fcn_resnet50 265, deeplabv3_resnet50 346, deeplabv3_mobilenet_v3_large 88,
# lraspp_mobilenet_v3_large 129 bytes. Rounded up by a third for other class counts and versions.
ACTIVATION_BYTES_PER_PIXEL = {
    "unet": 800, "segnet": 400, "fcn_resnet50": 360, "deeplabv3_resnet50": 460,
    "deeplabv3_mobilenet_v3_large": 120, "lraspp_mobilenet_v3_large": 175,
}
UNKNOWN_BYTES_PER_PIXEL = 800  # imported TorchScript networks: as much as the hungriest known one
WHOLE_IMAGE_BUDGET = 1 << 30  # bytes of activations one pass may take


def default_tiling(bundle: ModelBundle, height: int, width: int) -> tuple[int, int]:
    """(tile, overlap) for an image when nobody chose them: the whole image in one pass when its
    activations fit WHOLE_IMAGE_BUDGET (no tile pays twice for the overlaps, and networks with
    global context, DeepLab's image pooling and LR-ASPP's, see the whole image as in training
    on whole images), else the biggest square tile that fits, never smaller than the bundle's,
    with an eighth of it overlapping. At 1024 x 1024 every architecture runs in one pass: tiles
    of 512 with 64 overlap cost 2.25 times the pixels (issue 15)."""
    per_pixel = ACTIVATION_BYTES_PER_PIXEL.get(bundle.arch, UNKNOWN_BYTES_PER_PIXEL)
    if height * width * per_pixel <= WHOLE_IMAGE_BUDGET:
        return max(height, width, 16), 0
    side = int((WHOLE_IMAGE_BUDGET / per_pixel) ** 0.5) // 32 * 32
    tile = max(bundle.tile_size, side)
    return tile, max(bundle.tile_overlap, tile // 8)


def predict(bundle: ModelBundle, image: np.ndarray, *, device: torch.device | str = "cpu", tile: int | None = None,
            overlap: int | None = None, region_first: BBox | None = None, crf: bool = False,
            mapping: dict[int, int] | None = None, batch_size: int | None = None,
            mixed_precision: bool | None = None,
            stop: StopFlag | None = None) -> Generator[Progress | RegionPrediction, None, Prediction | None]:
    """Predict one image (H x W or H x W x C raw pixels); returns None when stopped.

    `mapping` (model id -> project id, from `bundle.mapping_to`) renames the classes.
    `mixed_precision` None: float16 on CUDA, bfloat16 on CPUs that compute it natively.
    """
    device = torch.device(device)
    pixels = match_channels(image, bundle.in_channels)
    height, width = pixels.shape[:2]
    if tile is None:
        tile, chosen_overlap = default_tiling(bundle, height, width)
        overlap = chosen_overlap if overlap is None else int(overlap)
    tile = int(tile)
    overlap = min(bundle.tile_overlap, tile // 4) if overlap is None else int(overlap)
    if tile < 16 or not 0 <= overlap < tile // 2 + 1:
        raise ModelError(f"tile {tile} with overlap {overlap}: use tile >= 16 and overlap <= tile / 2")
    runner = _Runner(bundle, device, batch_size, mixed_precision)
    areas = []
    if region_first is not None:
        box = region_first.clip((height, width))
        grown = BBox(box.y0 - overlap, box.x0 - overlap, box.y1 + overlap, box.x1 + overlap).clip((height, width))
        if not box.is_empty and (grown.height, grown.width) != (height, width):
            areas.append(grown)
    areas.append(BBox(0, 0, height, width))
    total = sum(len(tile_starts(a.height, tile, overlap)) * len(tile_starts(a.width, tile, overlap)) for a in areas)
    done = 0
    result = None
    for area in areas:
        work = _predict_area(runner, bundle, pixels[area.slices], tile, overlap, crf, mapping, stop)
        while True:
            try:
                next(work)
            except StopIteration as finished:
                result = finished.value
                break
            done += 1
            yield Progress(done, total, "predicting visible region" if area is not areas[-1] else "predicting")
        if result is None:
            return None
        if area is not areas[-1]:
            yield RegionPrediction(area, result)
    return result


def _predict_area(runner: _Runner, bundle: ModelBundle, pixels: np.ndarray, tile: int, overlap: int, crf: bool,
                  mapping: dict[int, int] | None, stop: StopFlag | None) -> Generator[None, None, Prediction | None]:
    """Tiles over one H x W x C array; yields once per tile, returns the prediction."""
    height, width = pixels.shape[:2]
    num_classes = bundle.num_classes
    lut = _lookup_table(mapping, num_classes)
    class_dtype = lut.dtype if lut is not None else (np.uint8 if num_classes <= 255 else np.uint16)
    outputs = TiledOutputs.empty(height, width, class_dtype)
    ys, xs = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    tile_h, tile_w = min(tile, height), min(tile, width)
    single = len(ys) == len(xs) == 1
    weight = None if single else (
        window_1d(tile_h, overlap if len(ys) > 1 else 0)[:, None] * window_1d(tile_w, overlap if len(xs) > 1 else 0)[None])
    refine = _crf_refiner(pixels, bundle) if crf else None
    band = BandAccumulator(num_classes, 0 if single else tile_h, width, outputs, lut, refine)
    if single:  # the default up to the memory budget: one pass, no blending
        if stop is not None and stop.is_set():
            return None
        band.finish_whole(runner([pixels])[0])
        yield None
        return _prediction(outputs, height, width)
    for y0 in ys:
        band.advance(y0)
        for start in range(0, len(xs), runner.batch_size):
            if stop is not None and stop.is_set():
                return None
            group = xs[start:start + runner.batch_size]
            logits = runner([pixels[y0:y0 + tile_h, x0:x0 + tile_w] for x0 in group])
            for x0, tile_logits in zip(group, logits):
                band.add(tile_logits, y0, x0, weight)
                yield None
    band.finish(height)
    return _prediction(outputs, height, width)


def _prediction(outputs: TiledOutputs, height: int, width: int) -> Prediction:
    uncertainty = outputs.entropy_sum / max(1, height * width)
    return Prediction(outputs.class_map, outputs.confidence, outputs.entropy, float(uncertainty))


class _Runner:
    """The network on its device: normalised raw tiles in, float32 logits on the CPU out."""

    def __init__(self, bundle: ModelBundle, device: torch.device, batch_size: int | None,
                 mixed_precision: bool | None):
        norm = bundle.normalisation
        std = torch.tensor(norm.std, dtype=torch.float32).view(1, -1, 1, 1)
        self.factor = (norm.scale / std).to(device)  # input = raw * scale / std - mean / std
        self.offset = (torch.tensor(norm.mean, dtype=torch.float32).view(1, -1, 1, 1) / std).to(device)
        self.device = device
        self.gpu = device.type == "cuda"
        self.model = inference_copy(bundle.model, device)
        # The weights are channels-last (models/optimise.py); on a CPU the input stays NCHW: oneDNN's
        # first-layer kernels read 3 plain planes faster than interleaved pixels, and the layers after
        # it are channels-last anyway (DeepLab MobileNetV3 at 1024: 434 vs 549 ms, LR-ASPP 199 vs 212,
        # U-Net the same; issue 15). cuDNN gets channels-last input as before.
        self.channels_last = device.type == "cuda"
        if device.type == "cpu":
            keep_freed_memory(WHOLE_IMAGE_BUDGET)
        self.batch_size = int(batch_size or (4 if self.gpu else 1))
        mixed = mixed_precision_for(device, mixed_precision)
        self.autocast = (torch.autocast(device.type, dtype=torch.float16 if self.gpu else torch.bfloat16)
                         if mixed else nullcontext())
        self.race = race_for(self.model, runtime_kind(bundle, mixed)) if device.type == "cpu" else None

    def __call__(self, tiles: list[np.ndarray]) -> np.ndarray:
        raw = np.stack(tiles)
        if raw.dtype not in (np.uint8, np.float32):
            raw = raw.astype(np.float32)  # 16-bit and others: torch has few integer kernels for them
        # N x H x W x C memory seen as N x C x H x W is channels-last already; raw bytes go to the device
        source = torch.from_numpy(raw).to(self.device).permute(0, 3, 1, 2)
        if self.channels_last:
            batch = source.float()
        else:  # one pass converts and reorders into plain NCHW floats
            batch = torch.empty(source.shape, dtype=torch.float32, device=self.device).copy_(source)
        batch = batch.mul_(self.factor).sub_(self.offset)
        if self.race is not None:
            return self.race.run(batch, self._forward)
        return self._forward(batch).float().cpu().numpy()

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), self.autocast:
            return self.model(batch)


def mixed_precision_for(device: torch.device, requested: bool | None) -> bool:
    """Whether proposals on `device` run in mixed precision: as requested (None: float16 on CUDA,
    bfloat16 on CPUs that compute it natively); never on other devices."""
    if device.type not in ("cpu", "cuda"):
        return False
    if requested is not None:
        return bool(requested)
    return device.type == "cuda" or cpu_has_native_bf16()


def runtime_kind(bundle: ModelBundle, mixed_precision: bool) -> tuple:
    """What the speed of a forward pass depends on, for models/onnx_runtime.py's race (options
    such as a U-Net's width and depth included)."""
    options = tuple(sorted((k, repr(v)) for k, v in bundle.options.items()))
    return bundle.arch, options, bundle.in_channels, bundle.num_classes, bool(mixed_precision)


def _lookup_table(mapping: dict[int, int] | None, num_classes: int) -> np.ndarray | None:
    if mapping is None:
        return None
    dtype = np.dtype(np.uint16 if max(mapping.values(), default=0) >= IGNORE else np.uint8)
    unmapped = unlabelled_value(dtype)
    return np.asarray([mapping.get(i, unmapped) for i in range(num_classes)], dtype)


def _crf_refiner(pixels: np.ndarray, bundle: ModelBundle):
    from segstudio.core.crf import refine_probabilities

    norm = bundle.normalisation

    def refine(probs: np.ndarray, y0: int) -> np.ndarray:
        guide = np.clip(norm.unit(pixels[y0:y0 + probs.shape[1]]) * np.float32(255.0), 0, 255)
        return refine_probabilities(probs, guide)

    return refine


@dataclass(frozen=True)
class ImageProposal:
    """One image's prediction, yielded by `propose_images` for the caller to apply."""

    image_id: int
    name: str
    prediction: Prediction


def propose_images(project: Project, model, image_ids: list[int], *, device: torch.device | str = "cpu",
                   crf: bool = False, mapping: dict[int, int] | None = None, stop: StopFlag | None = None
                   ) -> Generator[Progress | ImageProposal, None, tuple[int, list[str]]]:
    """Predict each image and yield it as an ImageProposal; returns (predicted, problems).

    Applying is left to the caller (the GUI applies on its own thread, through the open
    document when the image is the one being edited). Per-tile progress is reported for a
    single image, per-image progress for several. Without a `mapping` (that the person
    confirmed) a bundle for other classes is refused with the reason. `model` is a ModelBundle or
    a `core.proposers.Proposer` of any kind (an instant classifier): a proposer must have the
    project's classes, and `device`, `crf` and `mapping` are for bundles alone.
    """
    from segstudio.core.errors import ImageReadError
    from segstudio.core.imageio import read_image
    from segstudio.core.progress import drive
    from segstudio.core.proposers import check_classes

    if not isinstance(model, ModelBundle):
        check_classes(model, project.class_names())
    elif mapping is None:
        mapping = model.mapping_to(project.class_names())
    problems: list[str] = []
    done = 0
    for index, image_id in enumerate(image_ids):
        record = project.image(image_id)
        if len(image_ids) > 1:
            yield Progress(index, len(image_ids), f"proposing {record.name}")
        try:
            raw = read_image(record.path).raw
        except ImageReadError as exc:
            problems.append(str(exc))
            continue
        work = predict(model, raw, device=device, crf=crf, mapping=mapping, stop=stop) \
            if isinstance(model, ModelBundle) else model.predict(raw, stop=stop)
        prediction = (yield from work) if len(image_ids) == 1 else drive(work)
        if prediction is None:
            break
        done += 1
        yield ImageProposal(image_id, record.name, prediction)
    return done, problems
