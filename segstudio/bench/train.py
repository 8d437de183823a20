"""`segstudio bench train`: training steps per second of the app's trainer against the strongest
plain training loop on the same model, batch, patch size and data, in one run.

The reference is a bare loop with every speed option the app uses and none of its extras: the
images normalised once and held in memory as float32 channels-last arrays, random crops and
flips by numpy slicing, the U-Net in channels-last layout, bfloat16 autocast on CPUs that
compute it natively (float16/bfloat16 on CUDA), cross-entropy, AdamW (foreach), no schedule,
no weight average, no validation. The app side is `segstudio.core.training.train` on a
project holding the same images as fully painted masks, with its defaults (channels-last,
autocast where native); it is also run in plain float32 NCHW (`fp32_steps_per_s`) to show what
the layout and precision options bring. The three run `--rounds` times, alternating; the
median of each is reported, after `--warmup` steps that are not timed. `--convergence N` also trains
N steps both ways from the same seed and reports loss and validation mIoU (layout and precision
must not change what is learnt).
"""

from __future__ import annotations

import argparse
import json
import statistics
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
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians count (default 3)")
    parser.add_argument("--images", type=int, default=8, help="generated images (default 8)")
    parser.add_argument("--size", type=int, default=256, help="image side (default 256)")
    parser.add_argument("--patch", type=int, default=128, help="training patch side (default 128)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--width", type=int, default=16, help="U-Net width (default 16)")
    parser.add_argument("--depth", type=int, default=3, help="U-Net depth (default 3)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: what the app trains with, "
                                                    "every core but one)")
    parser.add_argument("--convergence", type=int, default=0, metavar="STEPS",
                        help="also train STEPS steps with the app's layout and precision and in fp32 NCHW, same "
                             "seed, and report both loss curves and validation mIoU (default 0: skip)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    import torch

    from segstudio.bench.shapes_dataset import create_shapes_project
    from segstudio.core.device import pick_device, training_threads
    from segstudio.core.training.precision import autocast_settings

    args.threads = args.threads or training_threads()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    autocast, dtype = autocast_settings(device)
    wall: dict[str, list[float]] = {"app": [], "reference": [], "fp32": []}
    cpu: dict[str, list[float]] = {"app": [], "reference": [], "fp32": []}
    with tempfile.TemporaryDirectory(prefix="segstudio-bench-train-") as workdir:
        project = create_shapes_project(Path(workdir) / "project", count=args.images, size=args.size)
        try:
            samples = [_project_sample(project, record.id) for record in project.images()]
            for _ in range(args.rounds):
                for name, measure in (("reference", lambda: reference_steps_per_second(samples, args, device)),
                                      ("app", lambda: app_steps_per_second(project, args, device, fast=True)),
                                      ("fp32", lambda: app_steps_per_second(project, args, device, fast=False))):
                    rate, cpu_rate = measure()
                    wall[name].append(rate)
                    cpu[name].append(cpu_rate)
        finally:
            project.close()
    app, reference, fp32 = (statistics.median(wall[k]) for k in ("app", "reference", "fp32"))
    app_cpu, reference_cpu, fp32_cpu = (statistics.median(cpu[k]) for k in ("app", "reference", "fp32"))
    precision = str(dtype).replace("torch.", "") if autocast else "float32"
    plain = "plain loop: in-memory float32 NHWC images, numpy crop+flip, channels-last U-Net, "
    result = {"app_steps_per_s": round(app, 3), "reference_steps_per_s": round(reference, 3),
              "ratio": round(app / reference, 3), "fp32_steps_per_s": round(fp32, 3),
              "app_over_fp32": round(app / fp32, 3),
              "reference": plain + (f"{precision} autocast" if autocast else
                                    "float32 (no native bfloat16 on this CPU), AdamW, cross-entropy"),
              "per_cpu_second": {"app": round(app_cpu, 3), "reference": round(reference_cpu, 3),
                                 "fp32": round(fp32_cpu, 3), "ratio": round(app_cpu / reference_cpu, 3),
                                 "app_over_fp32": round(app_cpu / fp32_cpu, 3)},
              "precision": precision, "channels_last": device.type in ("cpu", "cuda"), "device": str(device),
              "threads": args.threads, "batch_size": args.batch_size, "patch": args.patch,
              "model": f"unet width {args.width} depth {args.depth}",
              "rounds": {k: [round(r, 3) for r in v] for k, v in wall.items()}}
    if args.convergence:
        result["convergence"] = convergence(args, device)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        if args.convergence:
            print(f"convergence: {result['convergence']}")
        print(f"device {device}, {args.threads} threads, {result['model']}, batch {args.batch_size} of {args.patch} px "
              f"patches, {precision}, {args.steps} timed steps x {args.rounds} rounds (medians)")
        print(f"app trainer:          {app:7.2f} steps/s  (rounds: {result['rounds']['app']})")
        print(f"reference loop:       {reference:7.2f} steps/s  (rounds: {result['rounds']['reference']})")
        print(f"app, fp32 NCHW:       {fp32:7.2f} steps/s  (rounds: {result['rounds']['fp32']})")
        print(f"ratio app / reference: {result['ratio']:.3f}; app / fp32: {result['app_over_fp32']:.3f}")
        print(f"per CPU second of this process: {result['per_cpu_second']}")
    return 0


def _project_sample(project: Project, image_id: int) -> tuple[np.ndarray, np.ndarray]:
    from segstudio.core.imageio import read_image

    return read_image(project.image(image_id).path).raw, project.read_label(image_id)


def _timed(step_times: list[tuple[float, float]], warmup: int) -> tuple[float, float]:
    """Steps per second between the end of the warm-up and the last step: per wall-clock second,
    and per second of CPU time of this process (steadier than wall time on a shared machine)."""
    timed = step_times[warmup:]
    steps = len(timed) - 1
    return steps / (timed[-1][0] - timed[0][0]), steps / (timed[-1][1] - timed[0][1])


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def app_steps_per_second(project, args, device, *, fast: bool) -> tuple[float, float]:
    """The app's trainer; `fast` False turns off channels-last and autocast (plain fp32 NCHW)."""
    from segstudio.core.progress import drive
    from segstudio.core.training import StepEvent, TrainConfig, train
    from segstudio.core.training.augment import AugmentConfig

    total = args.warmup + args.steps + 1
    config = TrainConfig(arch="unet", model_options={"width": args.width, "depth": args.depth}, max_steps=total,
                         batch_size=args.batch_size, min_steps_per_epoch=total, max_steps_per_epoch=total,
                         patience=10_000, augment=AugmentConfig(patch=args.patch), device=str(device),
                         threads=args.threads, deterministic=False, warm_start=False, channels_last=fast, amp=fast)
    times: list[tuple[float, float]] = []
    drive(train(project, config), lambda e: times.append(_now()) if isinstance(e, StepEvent) else None)
    return _timed(times, args.warmup)


def convergence(args, device) -> dict:
    """Same seed, data and steps with the app's options (channels-last, autocast where native)
    and in fp32 NCHW: mean training loss over the last quarter of the steps and the last
    validation mIoU of each, on a fresh project."""
    from segstudio.bench.shapes_dataset import create_shapes_project
    from segstudio.core.progress import drive
    from segstudio.core.training import StepEvent, TrainConfig, ValidationEvent, train
    from segstudio.core.training.augment import AugmentConfig

    report = {"steps": args.convergence}
    for name, fast in (("app_options", True), ("fp32_nchw", False)):
        with tempfile.TemporaryDirectory(prefix="segstudio-bench-converge-") as workdir:
            with create_shapes_project(Path(workdir) / "project", count=args.images, size=args.size) as project:
                config = TrainConfig(arch="unet", model_options={"width": args.width, "depth": args.depth},
                                     max_steps=args.convergence, batch_size=args.batch_size,
                                     augment=AugmentConfig(patch=args.patch), device=str(device),
                                     threads=args.threads, deterministic=True, warm_start=False,
                                     channels_last=fast, amp=fast, patience=10_000)
                losses, mious = [], []
                drive(train(project, config), lambda e: losses.append(e.loss) if isinstance(e, StepEvent) else
                      mious.append(e.miou) if isinstance(e, ValidationEvent) else None)
        tail = losses[-max(1, len(losses) // 4):]
        report[name] = {"final_loss": round(statistics.fmean(tail), 4), "val_miou": round(mious[-1], 4),
                        "loss_every_10": [round(v, 3) for v in losses[::10]]}
    return report


def reference_steps_per_second(samples, args, device) -> tuple[float, float]:
    """The strongest bare loop: see the module docstring."""
    import torch
    import torch.nn.functional as F

    from segstudio.core.models.classes import Normalisation
    from segstudio.core.models.registry import create_model
    from segstudio.core.training.precision import autocast_settings

    norm = Normalisation.default(3)
    images = [np.ascontiguousarray(norm.apply(raw).transpose(1, 2, 0)) for raw, _ in samples]  # H x W x C float32
    targets = [mask.astype(np.int64) for _, mask in samples]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    layout = torch.channels_last if device.type in ("cpu", "cuda") else torch.contiguous_format
    model = create_model("unet", 4, 3, width=args.width, depth=args.depth).to(device, memory_format=layout)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4, foreach=True)
    autocast, dtype = autocast_settings(device)
    scaler = torch.amp.GradScaler("cuda", enabled=autocast and dtype == torch.float16)
    patch, times = args.patch, []
    for _ in range(args.warmup + args.steps + 1):
        xs, ys = [], []
        for _ in range(args.batch_size):
            index = int(rng.integers(len(images)))
            height, width = targets[index].shape
            y0, x0 = int(rng.integers(height - patch + 1)), int(rng.integers(width - patch + 1))
            flip = slice(None, None, -1 if rng.random() < 0.5 else 1)
            xs.append(images[index][y0:y0 + patch, x0:x0 + patch][:, flip])
            ys.append(targets[index][y0:y0 + patch, x0:x0 + patch][:, flip])
        # N x H x W x C memory seen as N x C x H x W is channels-last already
        image = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).to(device, memory_format=layout)
        target = torch.from_numpy(np.stack(ys)).to(device)
        with torch.autocast(device.type, dtype=dtype, enabled=autocast):
            output = model(image)
        loss = F.cross_entropy(output.float(), target, ignore_index=255)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        times.append(_now())
    return _timed(times, args.warmup)
