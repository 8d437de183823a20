"""`segstudio bench hitl`: how much annotation effort the model saves as it learns.

DIR holds images/, masks/ (class-index PNG, 255 = ignore) and classes.txt (one name a line).
The last `--heldout` images are held out; the others are annotated in name order by a
simulated annotator (segstudio.bench.annotator): the model the app would use proposes (`--model`:
the ladder, the instant tier, the network or instant + network alone; see hitl_model.py), the annotator corrects with
brush strokes until the image's IoU reaches the target (the instant tier re-proposes the unpainted
pixels every `--refresh-every` strokes, as the app's live refresh does), marks the image done, the
instant tier retrains and the app's trainer runs `--budget` steps before the next image. The same annotator
also labels each image from an empty mask (unassisted). Printed per image: strokes and pixels
corrected, assisted and unassisted, and the held-out mIoU of the current model; then the
effort ratio (assisted / unassisted strokes) over images 11-20 and the final held-out mIoU.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from segstudio.bench.annotator import Annotation, annotate
from segstudio.bench.hitl_model import MODES
from segstudio.bench.instant import FORESTS
from segstudio.core.errors import SegStudioError
from segstudio.core.models.onnx_runtime import torch_alone
from segstudio.core.progress import Progress, drive
from segstudio.core.labels import IGNORE
from segstudio.core.training.settings import TrainingSettings


@dataclass
class HitlRow:
    index: int  # 1-based position in the annotation order
    name: str
    assisted_strokes: int
    assisted_pixels: int
    unassisted_strokes: int
    unassisted_pixels: int
    assisted_iou: float
    model: str | None  # kind and version that proposed ("i0004", "nv0002"; None: no model yet)
    heldout_miou: float | None  # of the proposing model, after the learning that followed this image
    retrain_s: float = 0.0  # seconds spent retraining the instant tier (live refresh included)
    propose_s: float = 0.0  # seconds spent proposing (first proposal and live refreshes)
    prior_power: float | None = None  # how much class prior the instant tier keeps now (core/instant/prior.py)
    refresh_s: list[float] = field(default_factory=list)  # each live refresh of this image (retrain + propose)


@dataclass
class HitlOptions:
    device: str | None = None
    budget: int = 60
    images: int = 20
    heldout: int = 10
    radius: int = 8
    target_iou: float = 0.95
    max_strokes: int = 500
    seed: int = 0
    arch: str = "unet"
    width: int = 16
    depth: int = 3
    # The app's training patch: at 64 pixels the U-Net saw too little of a brain slice to tell deep
    # grey matter from cortex (its held-out IoU after 600 steps on 20 full masks: 0.01, at 128: 0.53)
    patch: int = TrainingSettings.patch
    batch_size: int = 8
    lr: float = 1e-3
    threads: int | None = None
    model: str = "ladder"  # one of hitl_model.MODES: ladder (what the app does), instant, network, ...
    refresh_every: int = 5  # live refresh of the open image after this many strokes (0: never)
    forest: str | None = None  # the instant arm's forest, a name of bench.instant.FORESTS (None: the tier's own)
    # "torch": the network runs on torch alone, so runs repeat pixel for pixel; "race": torch or ONNX
    # Runtime, whichever measures faster (as the app does; their logits differ in the last digits)
    runtime: str = "torch"


def read_dataset(folder: Path) -> tuple[list[str], list[tuple[Path, Path]]]:
    """(class names, [(image, mask)]) of a benchmark folder, with clear errors for what is missing."""
    from segstudio.core.imageio import IMAGE_EXTENSIONS

    classes_file, images_dir, masks_dir = folder / "classes.txt", folder / "images", folder / "masks"
    for needed in (classes_file, images_dir, masks_dir):
        if not needed.exists():
            raise SegStudioError(f"{folder} is not a benchmark dataset: {needed.name} is missing "
                                 "(make one with `segstudio bench make-dataset DIR`)")
    names = [line.strip() for line in classes_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    pairs = []
    for image in sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS):
        mask = masks_dir / f"{image.stem}.png"
        if not mask.is_file():
            raise SegStudioError(f"no mask {mask} for image {image}")
        pairs.append((image, mask))
    if len(names) < 2 or not pairs:
        raise SegStudioError(f"{folder} needs at least 2 classes and 1 image")
    return names, pairs


def read_truth(path: Path, num_classes: int) -> np.ndarray:
    from PIL import Image

    truth = np.asarray(Image.open(path))
    if truth.ndim != 2 or ((truth >= num_classes) & (truth != IGNORE)).any():
        raise SegStudioError(f"{path} must be a one-channel class-index PNG with ids < {num_classes} or 255")
    return truth.astype(np.uint8)


def marked_done(annotation: Annotation, target_iou: float) -> tuple[np.ndarray, np.ndarray]:
    """(label, source) of what the simulated person marks done: the corrected mask when it reached
    the target (painted pixels source 3, accepted proposal 2); only their strokes when they gave up
    at the stroke cap. A person does not mark done a mask they know is half wrong, and its accepted
    errors become labels that agree with the model that made them: on brain-aal the network
    proposed no deep grey matter, and the images given up on at IoU 0.5-0.85 then said there was none."""
    reviewed = annotation.painted if annotation.iou < target_iou else annotation.label != IGNORE
    label = np.where(reviewed, annotation.label, IGNORE).astype(np.uint8)
    source = np.where(annotation.painted, 3, np.where(reviewed, 2, 0)).astype(np.uint8)
    return label, source


def split_pool(folder: Path, pairs: list, images: int, heldout: int) -> tuple[list, list]:
    """(the first `images` pairs to learn from, the last `heldout` pairs to score on): one split for
    every benchmark that reads a `bench hitl` folder."""
    if heldout < 1 or images < 1:
        raise SegStudioError("--images and --heldout must be at least 1")
    if len(pairs) <= heldout:
        raise SegStudioError(f"{folder} has {len(pairs)} images; more than --heldout {heldout} are needed")
    return pairs[:-heldout][:images], pairs[-heldout:]


def run_hitl(folder: Path, options: HitlOptions) -> Generator[object, None, list[HitlRow]]:
    """Yields Progress and one HitlRow per image; returns all rows."""
    names, pairs = read_dataset(folder)
    pool, heldout = split_pool(folder, pairs, options.images, options.heldout)
    with tempfile.TemporaryDirectory(prefix="segstudio-hitl-") as workdir, \
            torch_alone(options.runtime == "torch"):
        rows = yield from _annotate_all(Path(workdir) / "project", names, pool, heldout, options)
    return rows


def _annotate_all(root: Path, names, pool, heldout, options: HitlOptions):
    from segstudio.bench.hitl_model import Learner
    from segstudio.core.project import Project

    project = Project.create(root, classes=names)
    model = None
    try:
        report = project.add_images([image for image, _ in pool], recursive=False)
        if report.failed:
            raise SegStudioError(f"cannot add {report.failed[0][0]}: {report.failed[0][1]}")
        records = {record.path.resolve(): record for record in report.added}
        model = Learner(project, options, names, [(image, read_truth(mask, len(names))) for image, mask in heldout])
        rows = []
        for position, (image_path, mask_path) in enumerate(pool, start=1):
            record = records[image_path.resolve()]
            truth = read_truth(mask_path, len(names))
            proposal, version = model.propose(record.path)
            first_proposal = (proposal.copy(), version)
            assisted = annotate(truth, proposal, radius=options.radius, target_iou=options.target_iou,
                                max_strokes=options.max_strokes, refresh=model.refresher(record.id, record.path),
                                refresh_every=options.refresh_every)
            unassisted = annotate(truth, np.full_like(truth, IGNORE), radius=options.radius,
                                  target_iou=options.target_iou, max_strokes=options.max_strokes)
            label, source = marked_done(assisted, options.target_iou)
            kind = {"i": "instant", "n": "network", "h": "hybrid"}.get((version or " ")[0])
            model.observe(record.id, record.path, label, (kind, first_proposal[0]) if kind else None)
            project.write_masks(record.id, label, source)
            project.mark_done(record.id)
            yield Progress(position - 1, len(pool), f"training after image {position}")
            yield from model.train(seed=options.seed + position)
            retrain_s, propose_s, refresh_s = model.take_seconds()
            row = HitlRow(position, image_path.name, assisted.strokes, assisted.pixels_corrected,
                          unassisted.strokes, unassisted.pixels_corrected, round(assisted.iou, 4), version,
                          model.heldout_miou(), retrain_s, propose_s,
                          model.instant.prior_power if model.instant is not None else None, refresh_s)
            rows.append(row)
            yield row
            yield Progress(position, len(pool), f"image {position}: {assisted.strokes} strokes")
        return rows
    finally:
        if model is not None:
            model.close()
        project.close()


def effort_ratio(rows: list[HitlRow], first: int = 11, last: int = 20) -> float | None:
    chosen = [row for row in rows if first <= row.index <= last]
    unassisted = sum(row.unassisted_strokes for row in chosen)
    return sum(row.assisted_strokes for row in chosen) / unassisted if unassisted else None


def summary(rows: list[HitlRow]) -> dict:
    final = rows[-1].heldout_miou if rows else None
    refreshes = [seconds for row in rows for seconds in row.refresh_s]
    return {"effort_ratio_11_20": effort_ratio(rows), "effort_ratio_all": effort_ratio(rows, 1, len(rows)),
            "final_heldout_miou": final, "live_refreshes": len(refreshes),
            "live_refresh_p50_s": round(float(np.percentile(refreshes, 50)), 3) if refreshes else None,
            "live_refresh_p95_s": round(float(np.percentile(refreshes, 95)), 3) if refreshes else None,
            "per_image": [asdict(row) for row in rows]}


def format_rows(rows: list[HitlRow]) -> str:
    header = (f"{'#':>3} {'image':<14} {'model':<7} {'assisted':>15} {'unassisted':>15} {'held-out mIoU':>14} "
              f"{'retrain s':>9} {'propose s':>9}")
    lines = [header, f"{'':>3} {'':<14} {'':<7} {'strokes':>7} {'pixels':>7} {'strokes':>7} {'pixels':>7}"]
    for row in rows:
        miou = "-" if row.heldout_miou is None else f"{row.heldout_miou:.3f}"
        lines.append(f"{row.index:>3} {row.name[:14]:<14} {row.model or '-':<7} {row.assisted_strokes:>7} "
                     f"{row.assisted_pixels:>7} {row.unassisted_strokes:>7} {row.unassisted_pixels:>7} {miou:>14} "
                     f"{row.retrain_s:>9.2f} {row.propose_s:>9.2f}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = HitlOptions()
    parser.add_argument("--dataset", required=True, type=Path, help="folder with images/, masks/, classes.txt")
    parser.add_argument("--device", help="auto, cuda, mps or cpu")
    parser.add_argument("--budget", type=int, default=defaults.budget, help="training steps after each image")
    parser.add_argument("--images", type=int, default=defaults.images, help="images to annotate")
    parser.add_argument("--heldout", type=int, default=defaults.heldout, help="last N images held out for mIoU")
    parser.add_argument("--radius", type=int, default=defaults.radius, help="brush radius in pixels")
    parser.add_argument("--target", type=float, default=defaults.target_iou, help="IoU at which an image is done")
    parser.add_argument("--max-strokes", type=int, default=defaults.max_strokes)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--lr", type=float, default=defaults.lr, help="learning rate of the trainer")
    parser.add_argument("--patch", type=int, default=defaults.patch,
                        help=f"the network's training patch side (default {defaults.patch}, the app's)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--model", choices=MODES, default=defaults.model,
                        help="what proposes: the ladder (as the app does), the instant tier, the network or "
                             "instant + network alone, or the anchor: ilastik's classifier in the instant tier's place")
    parser.add_argument("--refresh-every", type=int, default=defaults.refresh_every,
                        help="live refresh of the open image after this many strokes (0: never)")
    parser.add_argument("--forest", choices=sorted(FORESTS),
                        help="the instant tier's forest (candidates of `bench instant`; default: the tier's own)")
    parser.add_argument("--runtime", choices=("torch", "race"), default=defaults.runtime,
                        help="the network's runtime: torch alone (runs repeat exactly) or the app's race "
                             "between torch and ONNX Runtime (decided by timing)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


def run(args: argparse.Namespace) -> int:
    options = HitlOptions(device=args.device, budget=args.budget, images=args.images, heldout=args.heldout,
                          radius=args.radius, target_iou=args.target, max_strokes=args.max_strokes,
                          seed=args.seed, lr=args.lr, patch=args.patch, threads=args.threads, model=args.model,
                          refresh_every=args.refresh_every, forest=args.forest,
                          runtime=args.runtime)
    rows = drive(run_hitl(args.dataset, options), None if args.json else _print_row)
    result = summary(rows) | {"runtime": options.runtime, "patch": options.patch}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    ratio, final = result["effort_ratio_11_20"], result["final_heldout_miou"]
    print(format_rows(rows))
    print(f"effort ratio (assisted / unassisted strokes), images 11-20: "
          f"{'n/a (fewer than 11 images)' if ratio is None else f'{ratio:.3f}'}; "
          f"all images: {result['effort_ratio_all']:.3f}; final held-out mIoU: "
          f"{'n/a' if final is None or math.isnan(final) else f'{final:.3f}'}")
    if result["live_refreshes"]:
        print(f"live refreshes: {result['live_refreshes']}, retrain + re-proposal median "
              f"{result['live_refresh_p50_s']:.2f} s, p95 {result['live_refresh_p95_s']:.2f} s")
    return 0


def _print_row(event: object) -> None:
    if isinstance(event, HitlRow):
        miou = "-" if event.heldout_miou is None else f"{event.heldout_miou:.3f}"
        print(f"image {event.index} {event.name}: assisted {event.assisted_strokes} strokes, "
              f"unassisted {event.unassisted_strokes}, held-out mIoU {miou}", flush=True)
