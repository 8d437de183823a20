"""`segstudio bench train`: training steps per second of the app's trainer against a plain
torchvision-style reference loop, on the same model, data, batch and device, in one run.

The reference is the loop of torchvision's segmentation reference scripts: a Dataset with
torchvision.transforms.v2 (random resize, flip, crop, normalise), a shuffling DataLoader,
CrossEntropyLoss(ignore_index=255), AdamW with a per-step schedule, `loss.item()` every step,
and autocast + GradScaler on CUDA (so both sides compute in the same precision). The app side
is `segstudio.core.training.train` on a project holding the same images as fully painted
masks. Both run `--rounds` times, alternating; the best round of each is compared, after
`--warmup` steps that are not timed (first-call set-up, lazy imports).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from segstudio.core.project import Project


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", help="auto (default), cuda, mps or cpu")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per side and round (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best counts (default 2)")
    parser.add_argument("--images", type=int, default=8, help="generated images (default 8)")
    parser.add_argument("--size", type=int, default=256, help="image side (default 256)")
    parser.add_argument("--patch", type=int, default=128, help="training patch side (default 128)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--width", type=int, default=16, help="U-Net width (default 16)")
    parser.add_argument("--depth", type=int, default=3, help="U-Net depth (default 3)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    import torch

    from segstudio.bench.shapes_dataset import create_shapes_project
    from segstudio.core.device import pick_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    app_rates, reference_rates = [], []
    with tempfile.TemporaryDirectory(prefix="segstudio-bench-train-") as workdir:
        project = create_shapes_project(Path(workdir) / "project", count=args.images, size=args.size)
        try:
            samples = [_project_sample(project, record.id) for record in project.images()]
            for _ in range(args.rounds):
                reference_rates.append(reference_steps_per_second(samples, args, device))
                app_rates.append(app_steps_per_second(project, args, device))
        finally:
            project.close()
    app, reference = max(app_rates), max(reference_rates)
    result = {"app_steps_per_s": round(app, 3), "reference_steps_per_s": round(reference, 3),
              "ratio": round(app / reference, 3), "device": str(device), "batch_size": args.batch_size,
              "patch": args.patch, "model": f"unet width {args.width} depth {args.depth}",
              "rounds": {"app": [round(r, 3) for r in app_rates], "reference": [round(r, 3) for r in reference_rates]}}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"device {device}, {result['model']}, batch {args.batch_size} of {args.patch} px patches, "
              f"{args.steps} timed steps x {args.rounds} rounds")
        print(f"app trainer:     {app:7.2f} steps/s  (rounds: {result['rounds']['app']})")
        print(f"reference loop:  {reference:7.2f} steps/s  (rounds: {result['rounds']['reference']})")
        print(f"ratio app / reference: {result['ratio']:.3f}")
    return 0


def _project_sample(project: Project, image_id: int) -> tuple[np.ndarray, np.ndarray]:
    from segstudio.core.imageio import read_image

    return read_image(project.image(image_id).path).raw, project.read_label(image_id)


def _timed(step_times: list[float], warmup: int) -> float:
    """Steps per second between the end of the warm-up and the last step."""
    timed = step_times[warmup:]
    return (len(timed) - 1) / (timed[-1] - timed[0])


def app_steps_per_second(project: Project, args, device) -> float:
    from segstudio.core.progress import drive
    from segstudio.core.training import StepEvent, TrainConfig, train
    from segstudio.core.training.augment import AugmentConfig

    total = args.warmup + args.steps + 1
    config = TrainConfig(arch="unet", model_options={"width": args.width, "depth": args.depth}, max_steps=total,
                         batch_size=args.batch_size, min_steps_per_epoch=total, patience=10_000,
                         augment=AugmentConfig(patch=args.patch), device=str(device), threads=args.threads,
                         deterministic=False, warm_start=False)
    times: list[float] = []
    drive(train(project, config), lambda e: times.append(time.perf_counter()) if isinstance(e, StepEvent) else None)
    return _timed(times, args.warmup)


def reference_steps_per_second(samples, args, device) -> float:
    """The torchvision reference training loop (references/segmentation/train.py), reduced to its core."""
    import torch
    from torch.utils.data import DataLoader, Dataset
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    from segstudio.core.models.classes import IMAGENET_MEAN, IMAGENET_STD
    from segstudio.core.models.registry import create_model

    transform = v2.Compose([
        v2.RandomResize(int(0.7 * args.size), int(1.4 * args.size)),
        v2.RandomHorizontalFlip(),
        v2.RandomCrop(args.patch, pad_if_needed=True, fill={tv_tensors.Mask: 255, "others": 0}),
        v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        v2.ToPureTensor(),
    ])

    class Segmentation(Dataset):
        def __len__(self) -> int:
            return 10_000

        def __getitem__(self, index: int):
            image, mask = samples[index % len(samples)]
            image, mask = transform(tv_tensors.Image(torch.from_numpy(image).permute(2, 0, 1)),
                                    tv_tensors.Mask(torch.from_numpy(mask.astype(np.int64))))
            return image, mask

    torch.manual_seed(0)
    model = create_model("unet", 4, 3, width=args.width, depth=args.depth).to(device)
    model.train()
    loader = DataLoader(Segmentation(), batch_size=args.batch_size, shuffle=True, drop_last=True)
    criterion = torch.nn.CrossEntropyLoss(ignore_index=255)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    total = args.warmup + args.steps + 1
    scheduler = torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=total, power=0.9)
    amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    times: list[float] = []
    for image, target in loader:
        image, target = image.to(device), target.to(device)
        with torch.autocast(device.type, enabled=amp):
            output = model(image)
            loss = criterion(output, target)
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        loss.item()  # the reference logs the loss every step
        times.append(time.perf_counter())
        if len(times) == total:
            break
    return _timed(times, args.warmup)
