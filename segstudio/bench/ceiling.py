"""`segstudio bench ceiling`: the held-out mIoU that perfect labels give, the bar for `bench hitl`.

`bench hitl` ends with the held-out mIoU of what the app proposes after `--images` corrected
images. Here the same images carry their true masks, every pixel, and the same last `--heldout`
images are held out. Two learners train on them:

- a plain training loop at its best on full labels (the anchor a user would write): the U-Net
  `bench hitl` trains (16/3), random and class-centred crops of the `bench hitl` patch with
  flips, class-frequency weighted cross-entropy, AdamW with warm-up and a cosine schedule over
  `--steps` steps, no validation split (every image trains), the held-out mIoU read every
  `--every` steps;
- the instant tier as the app builds it (the ladder's first rung), fitted on every image.

Nothing is corrected and nothing is held back, so this is what these models reach from those
images when labelling costs nothing: a bar for `bench hitl`'s final held-out mIoU, not a protocol.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from segstudio.bench.hitl import HitlOptions, read_dataset, read_truth, split_pool
from segstudio.core.errors import SegStudioError
from segstudio.core.imageio.channels import match_channels
from segstudio.core.labels import IGNORE
from segstudio.core.metrics import MetricAccumulator
from segstudio.core.progress import drive

WARMUP_STEPS = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    hitl = HitlOptions()
    parser.add_argument("--dataset", required=True, type=Path, help="folder with images/, masks/, classes.txt")
    parser.add_argument("--images", type=int, default=hitl.images, help="images trained on (as bench hitl)")
    parser.add_argument("--heldout", type=int, default=hitl.heldout, help="last N images held out (as bench hitl)")
    parser.add_argument("--steps", type=int, default=hitl.images * hitl.budget,
                        help="plain-loop steps (default: what bench hitl's network gets over its images)")
    parser.add_argument("--every", type=int, default=300, help="read the held-out mIoU every N steps")
    parser.add_argument("--width", type=int, default=hitl.width, help="U-Net width")
    parser.add_argument("--depth", type=int, default=hitl.depth, help="U-Net depth")
    parser.add_argument("--patch", type=int, default=hitl.patch, help="training patch side")
    parser.add_argument("--batch-size", type=int, default=hitl.batch_size)
    parser.add_argument("--lr", type=float, default=hitl.lr)
    parser.add_argument("--seed", type=int, default=hitl.seed)
    parser.add_argument("--device", help="auto, cuda, mps or cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: every core but one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the lines")


def run(args: argparse.Namespace) -> int:
    if args.steps < 1 or args.every < 1:
        raise SegStudioError("--steps and --every must be at least 1")
    names, pairs = read_dataset(args.dataset)
    pool, heldout = split_pool(args.dataset, pairs, args.images, args.heldout)
    train = [(_raw(image), read_truth(mask, len(names))) for image, mask in pool]
    test = [(_raw(image), read_truth(mask, len(names))) for image, mask in heldout]
    report = None if args.json else lambda step, miou: print(f"plain loop, step {step}: held-out mIoU {miou:.4f}",
                                                             flush=True)
    with tempfile.TemporaryDirectory(prefix="segstudio-ceiling-") as workdir:
        project = truth_project(Path(workdir) / "project", names, pool, train)
        try:
            curve = plain_loop(project, train, test, len(names), args, report)
            instant = instant_tier_miou(project, test, names, args.seed)
        finally:
            project.close()
    result = {"images": len(pool), "heldout": len(heldout), "steps": args.steps,
              "network": f"unet {args.width}/{args.depth}, batch {args.batch_size} of {args.patch} px",
              "network_curve": {str(step): miou for step, miou in curve}, "network_heldout_miou": curve[-1][1],
              "instant_heldout_miou": instant}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{len(pool)} images with their true masks, {len(heldout)} held out: plain loop ({result['network']}) "
              f"{curve[-1][1]:.4f} after {args.steps} steps; instant tier {instant:.4f}")
    return 0


def truth_project(root: Path, class_names: list[str], pool, train):
    """A scratch project holding the pool images with their true masks, reviewed and done: what the
    app's normalisation rule and instant tier read."""
    from segstudio.core.project import Project

    project = Project.create(root, classes=class_names)
    added = project.add_images([image for image, _ in pool], recursive=False)
    if added.failed:
        project.close()
        raise SegStudioError(f"cannot add {added.failed[0][0]}: {added.failed[0][1]}")
    records = {record.path.resolve(): record for record in added.added}
    for (image, _), (_, truth) in zip(pool, train):
        record = records[image.resolve()]
        project.write_masks(record.id, truth, np.where(truth != IGNORE, 3, 0).astype(np.uint8))
        project.mark_done(record.id)
    return project


def _raw(path: Path) -> np.ndarray:
    from segstudio.core.imageio import read_image

    return read_image(path).raw


def heldout_miou(test: list[tuple[np.ndarray, np.ndarray]], num_classes: int,
                 predict: Callable[[np.ndarray], np.ndarray]) -> float:
    """Pooled mIoU of `predict(raw)` over the held-out images, as `bench hitl` scores its models."""
    accumulator = MetricAccumulator(num_classes, boundary_tolerance=None)
    for raw, truth in test:
        accumulator.add(truth, predict(raw))
    miou = accumulator.scores().miou
    return float("nan") if math.isnan(miou) else round(float(miou), 4)


def plain_loop(project, train, test, num_classes: int, args, report=None) -> list[tuple[int, float]]:
    """[(step, held-out mIoU)] of a bare U-Net training loop on the full masks of `train` (the images
    of `project`, whose pixels set the normalisation as the app's trainer sets it)."""
    import torch
    import torch.nn.functional as F

    from segstudio.core.device import pick_device, training_threads
    from segstudio.core.models.registry import create_model
    from segstudio.core.training.losses import class_weights_from_counts
    from segstudio.core.training.model_setup import image_format, normalisation_for
    from segstudio.core.training.validation import predict_classes

    torch.set_num_threads(args.threads or training_threads())
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    device = pick_device(args.device)
    channels, dtype = image_format(project)
    normalisation = normalisation_for(project, channels, dtype)
    inputs = [normalisation.apply(match_channels(raw, channels)) for raw, _ in train]  # C x H x W float32
    targets = [truth for _, truth in train]
    counts = np.bincount(np.concatenate([t[t != IGNORE] for t in targets]), minlength=num_classes)[:num_classes]
    weights = torch.from_numpy(class_weights_from_counts(counts)).to(device)
    model = create_model("unet", num_classes, channels, width=args.width, depth=args.depth).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: min(1.0, (step + 1) / WARMUP_STEPS)
                                                 * 0.5 * (1 + math.cos(math.pi * min(step, args.steps) / args.steps)))

    def score() -> float:
        model.eval()
        with torch.no_grad():
            miou = heldout_miou(test, num_classes, lambda raw: predict_classes(
                model, normalisation.apply(match_channels(raw, channels)), device))
        model.train()
        return miou

    curve = []
    model.train()
    for step in range(1, args.steps + 1):
        crops = [crop(inputs, targets, args.patch, rng) for _ in range(args.batch_size)]
        image = torch.from_numpy(np.stack([c[0] for c in crops])).to(device)
        target = torch.from_numpy(np.stack([c[1] for c in crops]).astype(np.int64)).to(device)
        loss = F.cross_entropy(model(image), target, weight=weights, ignore_index=IGNORE)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % args.every == 0 or step == args.steps:
            curve.append((step, score()))
            if report:
                report(*curve[-1])
    return curve


def crop(inputs, targets, patch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One training crop: half centred on a pixel of a uniformly chosen class present in the image
    (rare classes are found), half anywhere; flipped at random; padded with ignore when the image is
    smaller than the patch."""
    index = int(rng.integers(len(inputs)))
    image, target = inputs[index], targets[index]
    height, width = target.shape
    ph, pw = min(patch, height), min(patch, width)
    present = [k for k in np.unique(target) if k != IGNORE]
    if present and rng.random() < 0.5:
        ys, xs = np.nonzero(target == present[int(rng.integers(len(present)))])
        at = int(rng.integers(len(ys)))
        y0, x0 = int(np.clip(ys[at] - ph // 2, 0, height - ph)), int(np.clip(xs[at] - pw // 2, 0, width - pw))
    else:
        y0, x0 = int(rng.integers(height - ph + 1)), int(rng.integers(width - pw + 1))
    x = image[:, y0:y0 + ph, x0:x0 + pw]
    y = target[y0:y0 + ph, x0:x0 + pw]
    if rng.random() < 0.5:
        x, y = x[:, :, ::-1], y[:, ::-1]
    if rng.random() < 0.5:
        x, y = x[:, ::-1], y[::-1]
    padded_x = np.zeros((image.shape[0], patch, patch), np.float32)
    padded_y = np.full((patch, patch), IGNORE, np.uint8)
    padded_x[:, :ph, :pw], padded_y[:ph, :pw] = x, y
    return padded_x, padded_y


def instant_tier_miou(project, test, class_names: list[str], seed: int) -> float:
    """The app's instant tier fitted on every reviewed image of `project`, as the ladder fits it,
    scored on the held-out images."""
    from segstudio.core.instant_tier import InstantTier
    from segstudio.core.training.policy import candidate_image_ids

    tier = InstantTier(class_names, seed=seed)
    ids = candidate_image_ids(project)
    drive(tier.refresh_samples(project, ids))
    model = tier.fit(ids)
    if model is None:
        raise SegStudioError("the instant tier found no labelled pixels to learn from")
    return heldout_miou(test, len(class_names), lambda raw: model.predict(raw)[0])
