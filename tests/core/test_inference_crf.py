"""Does the CRF-style refinement help? Measured on generated shapes with a blurry prediction.

The scenes are flat-coloured shapes with noise; the "model" is the ground truth seen at 1/8
resolution, upsampled and jittered: what a small, coarse network gives. Run with `-s` to see
the figures (mIoU and accuracy within 3 px of a boundary, with and without refinement).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from segstudio.core.crf import refine_probabilities
from segstudio.core.inference import predict
from segstudio.core.models import ModelBundle
from segstudio.core.progress import drive

NUM_CLASSES = 3


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def scene(seed: int, size: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image H x W x 3 float 0..255, ground truth H x W, blurry probabilities K x H x W)."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((size, size), np.uint8)
    for _ in range(6):
        cls = int(rng.integers(1, NUM_CLASSES))
        cx, cy = (int(v) for v in rng.integers(16, size - 16, 2))
        radius = int(rng.integers(8, 30))
        if rng.random() < 0.5:
            cv2.circle(truth, (cx, cy), radius, cls, -1)
        else:
            cv2.rectangle(truth, (cx - radius, cy - radius // 2), (cx + radius, cy + radius // 2), cls, -1)
    colours = rng.integers(30, 226, (NUM_CLASSES, 3)).astype(np.float32)
    image = np.clip(colours[truth] + rng.normal(0, 10, (size, size, 3)), 0, 255).astype(np.float32)
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[truth]
    coarse = cv2.resize(cv2.resize(one_hot, (size // 8, size // 8), interpolation=cv2.INTER_AREA), (size, size),
                        interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)
    logits = np.log(np.clip(coarse, 1e-3, 1)) + rng.normal(0, 0.3, coarse.shape).astype(np.float32)
    probs = np.exp(logits - logits.max(axis=0))
    return image, truth, probs / probs.sum(axis=0)


def mean_iou(pred: np.ndarray, truth: np.ndarray) -> float:
    ious = [((pred == c) & (truth == c)).sum() / ((pred == c) | (truth == c)).sum()
            for c in range(NUM_CLASSES) if ((pred == c) | (truth == c)).any()]
    return float(np.mean(ious))


def boundary_accuracy(pred: np.ndarray, truth: np.ndarray, width: int = 3) -> float:
    edges = cv2.morphologyEx(truth, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    band = cv2.dilate(edges.astype(np.uint8), np.ones((2 * width + 1,) * 2, np.uint8)) > 0
    return float((pred[band] == truth[band]).mean())


def test_refinement_sharpens_blurry_predictions_along_colour_edges():
    scores = {"plain": [], "crf": []}
    for seed in range(4):
        image, truth, probs = scene(seed)
        refined = refine_probabilities(probs, image)
        assert refined.shape == probs.shape and np.allclose(refined.sum(axis=0), 1, atol=1e-4)
        for name, p in (("plain", probs), ("crf", refined)):
            pred = p.argmax(axis=0)
            scores[name].append((mean_iou(pred, truth), boundary_accuracy(pred, truth)))
    plain, crf = np.mean(scores["plain"], axis=0), np.mean(scores["crf"], axis=0)
    print(f"\nCRF experiment (4 scenes 160x160, 1/8-resolution prediction): "
          f"mIoU {plain[0]:.3f} -> {crf[0]:.3f}, boundary accuracy (3 px) {plain[1]:.3f} -> {crf[1]:.3f}")
    assert crf[0] > plain[0] + 0.02 and crf[1] > plain[1] + 0.03


def test_refinement_of_big_inputs_goes_block_by_block_without_seams():
    image, _, probs = scene(7, size=160)
    tall_image, tall_probs = np.concatenate([image] * 5), np.concatenate([probs] * 5, axis=1)  # 800 rows > 1 block
    refined = refine_probabilities(tall_probs, tall_image)
    alone = refine_probabilities(probs, image)
    # the middle copy sees the same neighbourhood as the scene alone except near its top/bottom edge
    middle = refined[:, 2 * 160 + 40:3 * 160 - 40]
    assert (middle.argmax(axis=0) == alone[:, 40:-40].argmax(axis=0)).mean() > 0.97


def test_predict_with_crf_runs_through_the_tiles():
    torch.manual_seed(0)
    bundle = ModelBundle.create("unet", ["a", "b"], depth=2, width=8)
    image = (scene(1, size=96)[0]).astype(np.uint8)
    plain = drive(predict(bundle, image, tile=64, overlap=16))
    refined = drive(predict(bundle, image, tile=64, overlap=16, crf=True))
    assert refined.class_map.shape == plain.class_map.shape == (96, 96)
    assert refined.uncertainty != plain.uncertainty
