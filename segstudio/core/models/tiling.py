"""Sliding-window tiling with blended logits, streamed one band of tile rows at a time.

A 16k x 16k image never has full-resolution float logits in memory: tiles of one row are
added (weighted by a smooth window) into a band buffer of K x tile x W floats; once the next
tile row starts below a band's first rows, those rows are final and leave the buffer as
compact outputs (class index, confidence and entropy in 8 bits). Overlapping tiles fade into
each other, so tile seams do not show in the class map.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

FINAL_VALUES_PER_CHUNK = 1 << 22  # finalise K x rows x W values at a time: bounds the softmax temporaries
# (16 MiB a temporary) yet is a handful of chunks at 1024 x 1024, not 32 rounds of ten small ops


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Starts of windows of size min(tile, length) covering [0, length); the last one ends flush."""
    if length <= tile:
        return [0]
    step = max(1, tile - overlap)
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def window_1d(size: int, overlap: int) -> np.ndarray:
    """1 in the middle, a smoothstep fall towards both ends over `overlap` pixels (never 0)."""
    weight = np.ones(size, np.float32)
    ramp = min(overlap, size // 2)
    if ramp > 0:
        t = (np.arange(ramp, dtype=np.float32) + 0.5) / ramp
        smooth = np.maximum(t * t * (3 - 2 * t), 1e-3)
        weight[:ramp] = smooth
        weight[size - ramp:] = np.minimum(weight[size - ramp:], smooth[::-1])
    return weight


@dataclass
class TiledOutputs:
    """Compact per-pixel outputs, filled band by band."""

    class_map: np.ndarray  # H x W uint8/uint16
    confidence: np.ndarray  # H x W uint8: max probability * 255
    entropy: np.ndarray  # H x W uint8: entropy / log(K) * 255
    entropy_sum: float = 0.0  # of the normalised entropy, for the image-level mean

    @classmethod
    def empty(cls, height: int, width: int, class_dtype: np.dtype) -> TiledOutputs:
        return cls(np.zeros((height, width), class_dtype), np.zeros((height, width), np.uint8),
                   np.zeros((height, width), np.uint8))


# refine(probabilities K x h x W, y0) -> probabilities: the CRF hook
Refiner = Callable[[np.ndarray, int], np.ndarray]


class BandAccumulator:
    """Weighted logit sums for the rows of the current tile row, finalised as the band moves."""

    def __init__(self, num_classes: int, tile_height: int, width: int, outputs: TiledOutputs,
                 lut: np.ndarray | None = None, refine: Refiner | None = None):
        self.sums = np.zeros((num_classes, tile_height, width), np.float32)
        self.weights = np.zeros((tile_height, width), np.float32)
        self.top = 0  # image row of buffer row 0
        self.outputs = outputs
        self.lut = lut
        self.refine = refine
        self.log_k = float(np.log(num_classes)) if num_classes > 1 else 1.0

    def add(self, logits: np.ndarray, y0: int, x0: int, weight: np.ndarray | None) -> None:
        """Add one tile's K x h x w logits at image position (y0, x0); weight None means 1."""
        h, w = logits.shape[1:]
        rows = slice(y0 - self.top, y0 - self.top + h)
        self.sums[:, rows, x0:x0 + w] += logits if weight is None else logits * weight
        self.weights[rows, x0:x0 + w] += 1.0 if weight is None else weight

    def advance(self, new_top: int) -> None:
        """Rows above `new_top` are final: write them out and shift the buffer."""
        shift = new_top - self.top
        if shift <= 0:
            return
        self._finalise(0, shift)
        keep = self.weights.shape[0] - shift
        self.sums[:, :keep] = self.sums[:, shift:]
        self.sums[:, keep:] = 0
        self.weights[:keep] = self.weights[shift:]
        self.weights[keep:] = 0
        self.top = new_top

    def finish(self, height: int) -> None:
        self._finalise(0, height - self.top)

    def finish_whole(self, logits: np.ndarray) -> None:
        """The whole image was one tile: its K x H x W logits are final as they are (no weighted
        sum to copy them into and divide back out)."""
        self._summarise_rows(torch.from_numpy(logits), 0)

    def _finalise(self, start: int, stop: int) -> None:
        sums = torch.from_numpy(self.sums[:, start:stop])
        self._summarise_rows(sums / torch.from_numpy(self.weights[None, start:stop]), start)

    def _summarise_rows(self, logits: torch.Tensor, start: int) -> None:
        """Softmax (then the CRF, on the whole band) and summary of K x h x W logits, in chunks
        of rows; `start` is the buffer row of logits' first row."""
        num_classes, height, width = logits.shape
        chunk = height if self.refine is not None else max(1, FINAL_VALUES_PER_CHUNK // max(1, num_classes * width))
        for a in range(0, height, chunk):
            if num_classes == 2 and self.refine is None:
                self._store(self.top + start + a, summarise_two(logits[:, a:a + chunk], self.lut))
                continue
            probs = torch.softmax(logits[:, a:a + chunk], dim=0)
            if self.refine is not None:
                probs = torch.from_numpy(self.refine(probs.numpy(), self.top + start + a))
            self._store(self.top + start + a, summarise(probs, self.log_k, self.lut))

    def _store(self, y: int, out: tuple[np.ndarray, np.ndarray, np.ndarray, float]) -> None:
        classes, confidence, entropy, entropy_sum = out
        rows = slice(y, y + classes.shape[0])
        self.outputs.class_map[rows] = classes
        self.outputs.confidence[rows] = confidence
        self.outputs.entropy[rows] = entropy
        self.outputs.entropy_sum += entropy_sum


def summarise(probs: torch.Tensor, log_k: float, lut: np.ndarray | None) -> tuple:
    """(class index, confidence u8, normalised entropy u8, entropy sum) of K x h x W probabilities."""
    confidence, best = probs.max(dim=0)
    entropy = (-(probs * probs.clamp_min(1e-12).log()).sum(dim=0) / log_k).clamp_(0.0, 1.0)
    best = best.numpy()
    classes = lut[best] if lut is not None else best
    return classes, _to_u8(confidence), _to_u8(entropy), float(entropy.sum(dtype=torch.float64))


def summarise_two(logits: torch.Tensor, lut: np.ndarray | None) -> tuple:
    """`summarise` of 2 x h x W logits without the softmax: everything follows from the difference
    d of the two logits (confidence = sigmoid(|d|); entropy in bits = log2(1 + e^-|d|) + |d| e^-|d|
    / (1 + e^-|d|) / ln 2), a third of the passes over memory: 7 against 21 ms at 1024 x 1024,
    a tenth of LR-ASPP's proposal (issue 15). Ties go to class 0, as argmax's do."""
    difference = logits[1] - logits[0]
    best = (difference > 0).to(torch.uint8).numpy()
    margin = difference.abs_()
    other = torch.exp(-margin)  # e^-|d|: the other class's share, unnormalised
    total = other + 1.0
    confidence = total.reciprocal()
    entropy = ((total.log() + margin * other * confidence) / math.log(2.0)).clamp_(0.0, 1.0)
    classes = lut[best] if lut is not None else best
    return classes, _to_u8(confidence), _to_u8(entropy), float(entropy.sum(dtype=torch.float64))


def _to_u8(values: torch.Tensor) -> np.ndarray:
    return (values * 255.0).round_().clamp_(0, 255).to(torch.uint8).numpy()
