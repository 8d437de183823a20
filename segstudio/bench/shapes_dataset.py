"""A generated segmentation dataset for the benchmarks: textured shapes of several classes.

`segstudio bench make-dataset DIR` writes DIR/images/*.png, DIR/masks/*.png (class index, 255
ignore) and DIR/classes.txt, the layout `bench hitl` reads. Each class has its own colour and
texture (stripes, checks, speckles) over a textured background, with per-image lighting and
noise, so a small network can learn it from a few images but not from colour alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from segstudio.core.atomic import atomic_write_png, atomic_write_text

CLASSES = ("background", "disc", "square", "triangle")


def _texture(kind: int, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """H x W float32 texture in 0..1 for a class; its scale and orientation vary per image."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    phase, angle = rng.uniform(0, 2 * np.pi, 2)
    if kind == 0:
        noise = cv2.GaussianBlur(rng.random(shape, dtype=np.float32), (0, 0), rng.uniform(2, 6))
        return (noise - noise.min()) / max(1e-6, float(np.ptp(noise)))
    if kind == 1:  # stripes
        along = yy * np.cos(angle) + xx * np.sin(angle)
        return 0.5 + 0.5 * np.sin(along * rng.uniform(0.5, 1.3) + phase)
    if kind == 2:  # checks
        frequency = rng.uniform(0.35, 0.8)
        return 0.5 + 0.5 * np.sign(np.sin(xx * frequency + phase) * np.sin(yy * frequency + phase))
    return (rng.random(shape, dtype=np.float32) > rng.uniform(0.5, 0.7)).astype(np.float32)  # speckles


_TINTS = np.array([[0.45, 0.45, 0.40], [0.85, 0.35, 0.30], [0.35, 0.75, 0.35], [0.35, 0.45, 0.85]], np.float32)


def make_sample(rng: np.random.Generator, size: int = 128, objects: tuple[int, int] = (2, 5)) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 image, uint8 class mask) with a few random shapes.

    Colours, texture scales, lighting and noise change from image to image, so a model needs
    several images to generalise (a held-out score keeps improving as images are added).
    """
    mask = np.zeros((size, size), np.uint8)
    for _ in range(int(rng.integers(objects[0], objects[1] + 1))):
        class_id = int(rng.integers(1, len(CLASSES)))
        radius = int(rng.integers(size // 12, size // 4))
        cy, cx = (int(v) for v in rng.integers(radius, size - radius, 2))
        if class_id == 1:
            cv2.circle(mask, (cx, cy), radius, class_id, -1)
        elif class_id == 2:
            cv2.rectangle(mask, (cx - radius, cy - radius), (cx + radius, cy + radius), class_id, -1)
        else:
            angle = rng.uniform(0, 2 * np.pi)
            points = [(cx + radius * np.cos(angle + k * 2 * np.pi / 3), cy + radius * np.sin(angle + k * 2 * np.pi / 3))
                      for k in range(3)]
            cv2.fillPoly(mask, [np.round(points).astype(np.int32)], class_id)
    image = np.zeros((size, size, 3), np.float32)
    tints = np.clip(_TINTS + rng.uniform(-0.1, 0.1, _TINTS.shape).astype(np.float32), 0.05, 1.0)
    for class_id in range(len(CLASSES)):
        region = mask == class_id
        if region.any():
            texture = _texture(class_id, mask.shape, rng)[:, :, None]
            image[region] = (tints[class_id] * (0.6 + 0.6 * texture))[region]
    ramp = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(1.0, 1.3), size, dtype=np.float32)
    image *= (ramp[:, None] if rng.random() < 0.5 else ramp[None, :])[:, :, None]  # uneven lighting
    image += rng.normal(0, rng.uniform(0.02, 0.08), image.shape).astype(np.float32)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8), mask


def write_dataset(folder: str | Path, count: int = 40, size: int = 128, seed: int = 0) -> Path:
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    for index in range(count):
        image, mask = make_sample(rng, size)
        atomic_write_png(folder / "images" / f"{index:04d}.png", image)
        atomic_write_png(folder / "masks" / f"{index:04d}.png", mask)
    atomic_write_text(folder / "classes.txt", "\n".join(CLASSES) + "\n")
    return folder


def create_shapes_project(root: str | Path, count: int = 6, size: int = 64, *, seed: int = 0,
                          labelled: int | None = None):
    """A project of `count` generated images; the first `labelled` (default all) fully painted.

    Images are written to root/../<root name>-images so the project refers to them in place.
    Returns the open Project (the caller closes it).
    """
    from segstudio.core.project import Project

    root = Path(root)
    images = root.parent / f"{root.name}-images"
    rng = np.random.default_rng(seed)
    samples = [make_sample(rng, size) for _ in range(count)]
    for index, (image, _mask) in enumerate(samples):
        atomic_write_png(images / f"{index:04d}.png", image)
    project = Project.create(root, classes=CLASSES)
    records = sorted(project.add_images([images], recursive=False).added, key=lambda r: r.name)
    for record, (_image, mask) in list(zip(records, samples))[:count if labelled is None else labelled]:
        project.write_masks(record.id, mask, np.full(mask.shape, 3, np.uint8))
    return project


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="where to write images/, masks/ and classes.txt")
    parser.add_argument("--count", type=int, default=40, help="number of images (default 40)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    folder = write_dataset(args.folder, args.count, args.size, args.seed)
    print(f"wrote {args.count} images of {args.size} x {args.size} px, {len(CLASSES)} classes, to {folder}")
    return 0
