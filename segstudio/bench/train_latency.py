"""`segstudio bench train-latency`: seconds from marking an image done to the first training step
that holds a patch from it, on a project with many reviewed images, and the trainer's resident
memory while the project grows.

A generated project gets `--images` images. Training runs in continuous mode in this thread;
an annotator thread marks images done in chunks (the project grows from `--start` reviewed
images to all but `--new`), then marks the `--new` last ones done one at a time, `--gap`
seconds apart, noting when each write finished. A mark's latency ends at the first StepEvent
whose patches include that image. The timed images are put in the training split beforehand
(in the app one new image in five validates instead, and never reaches a training step). Resident memory (VmRSS) is read after each chunk has
reached training, and the peak (VmHWM) at the end; the disk cache's size at the end beside its bound.
The trainer finds each mark through the project's annotation counter (no scan of the images).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=int, default=1000, help="images in the project (default 1000)")
    parser.add_argument("--start", type=int, default=100, help="reviewed images when training starts (default 100)")
    parser.add_argument("--chunk", type=int, default=150, help="images marked done at once while growing")
    parser.add_argument("--new", type=int, default=5, help="images marked done one by one and timed (default 5)")
    parser.add_argument("--gap", type=float, default=4.0, help="seconds between two timed marks (default 4)")
    parser.add_argument("--size", type=int, default=256, help="image side (default 256)")
    parser.add_argument("--patch", type=int, default=128, help="training patch side (default 128)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--width", type=int, default=16, help="U-Net width (default 16)")
    parser.add_argument("--depth", type=int, default=3, help="U-Net depth (default 3)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: what the app trains with)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from segstudio.core.device import training_threads
    from segstudio.core.progress import StopFlag
    from segstudio.core.training import StepEvent, TrainConfig, train
    from segstudio.core.training.augment import AugmentConfig

    if not 0 < args.start <= args.images - args.new:
        raise SystemExit("--start must be between 1 and --images minus --new")
    threads = args.threads or training_threads()
    with tempfile.TemporaryDirectory(prefix="segstudio-bench-latency-") as workdir:
        made = time.perf_counter()
        project, masks = make_project(Path(workdir), args.images, args.size)
        made = time.perf_counter() - made
        ids = [record.id for record in project.images(order="added")]
        for image_id in ids[:args.start]:
            mark_done(project, image_id, masks[image_id])
        config = TrainConfig(arch="unet", model_options={"width": args.width, "depth": args.depth},
                             batch_size=args.batch_size, augment=AugmentConfig(patch=args.patch), device="cpu",
                             threads=threads, deterministic=False, continuous=True, patience=10_000)
        stop = StopFlag()
        annotator = Annotator(project, masks, ids, args, stop)
        started = time.perf_counter()
        try:
            for event in train(project, config, stop=stop):
                if isinstance(event, StepEvent):
                    annotator.step_done(event)
                    if not annotator.thread.is_alive() and annotator.all_seen():
                        stop.set()
                if not annotator.thread.is_alive() and time.perf_counter() - annotator.finished_at > 120:
                    stop.set()  # a mark never reached training: report it as missing
        finally:
            stop.set()
            annotator.thread.join()
            cache_mb = round(sum(f.stat().st_size for f in (project.root / "cache" / "training").glob("*.npy")) / 2**20, 1)
            project.close()
    latencies = annotator.latencies()
    result = {"images": args.images, "image_size": args.size, "threads": threads,
              "latency_s": [None if v is None else round(v, 2) for v in latencies],
              "latency_median_s": round(statistics.median([v for v in latencies if v is not None] or [float("nan")]), 2),
              "latency_max_s": None if None in latencies else round(max(latencies), 2),
              "step_s_median": round(statistics.median(annotator.step_seconds), 2) if annotator.step_seconds else None,
              "rss_mb_by_reviewed_images": {str(k): v for k, v in annotator.rss.items()},
              "peak_rss_mb": _memory_mb("VmHWM"), "seconds": round(time.perf_counter() - started, 1),
              "project_made_s": round(made, 1), "disk_cache_mb": cache_mb, "disk_cache_bound_mb": config.cache_gb * 1024,
              "in_memory_replay_mb": round(args.images * args.size ** 2 * 8 / 2**20),
              "model": f"unet width {args.width} depth {args.depth}", "batch_size": args.batch_size,
              "patch": args.patch}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.images} images of {args.size} px, {result['model']}, batch {args.batch_size}, {threads} threads")
        print(f"mark done -> first step with a patch of it: {result['latency_s']} s "
              f"(median {result['latency_median_s']}, max {result['latency_max_s']}; a step takes "
              f"{result['step_s_median']} s)")
        print(f"resident memory by reviewed images (MB): {result['rss_mb_by_reviewed_images']}; "
              f"peak {result['peak_rss_mb']} MB (holding the images in memory at 8 B/px would add "
              f"{result['in_memory_replay_mb']} MB); disk cache {cache_mb} MB (bound {result['disk_cache_bound_mb']} MB)")
    return 0


class Annotator:
    """Marks images done from its own thread, as a person in the app does while training runs."""

    def __init__(self, project, masks, ids, args, stop):
        self.project, self.masks, self.ids, self.args, self.stop = project, masks, ids, args, stop
        self.marked: dict[int, float] = {}  # timed image id -> when its mark finished
        self.seen: dict[int, float] = {}
        self.rss: dict[int, float] = {}
        self.step_seconds: list[float] = []
        self.growth: list[tuple[set[int], int]] = []  # (ids of a chunk, reviewed count) waiting to be seen
        self.finished_at = float("inf")
        self._last_step = None
        self.thread = threading.Thread(target=self._work, daemon=True)
        self.thread.start()

    def _work(self) -> None:
        from segstudio.core.project import Split

        args, ids = self.args, self.ids
        self._wait_for(lambda: self._last_step is not None)
        self.rss[args.start] = _memory_mb("VmRSS")
        for begin in range(args.start, len(ids) - args.new, args.chunk):
            chunk = ids[begin:min(begin + args.chunk, len(ids) - args.new)]
            for image_id in chunk:
                mark_done(self.project, image_id, self.masks[image_id])
            self.growth.append((set(chunk), begin + len(chunk)))
            self._wait_for(lambda: not self.growth)
        for image_id in ids[len(ids) - args.new:]:
            if self.stop.is_set():
                break
            self.project.set_split(image_id, Split.TRAIN)
            time.sleep(args.gap)
            mark_done(self.project, image_id, self.masks[image_id])
            self.marked[image_id] = time.perf_counter()
        self.finished_at = time.perf_counter()

    def _wait_for(self, condition) -> None:
        while not condition() and not self.stop.is_set():
            time.sleep(0.05)

    def step_done(self, event) -> None:
        now = time.perf_counter()
        if self._last_step is not None:
            self.step_seconds.append(now - self._last_step)
        self._last_step = now
        for image_id in event.images:
            if image_id in self.marked and image_id not in self.seen:
                self.seen[image_id] = now
        if self.growth and self.growth[0][0] & set(event.images):
            self.rss[self.growth[0][1]] = _memory_mb("VmRSS")
            self.growth.pop(0)

    def all_seen(self) -> bool:
        return len(self.seen) == len(self.marked)

    def latencies(self) -> list[float | None]:
        return [self.seen[i] - t if i in self.seen else None for i, t in self.marked.items()]


def make_project(folder: Path, count: int, size: int):
    """A project of `count` generated images (flips and shifts of a few shapes samples), no masks yet."""
    import cv2

    from segstudio.bench.shapes_dataset import CLASSES, make_sample
    from segstudio.core.project import Project

    rng = np.random.default_rng(0)
    bases = [make_sample(rng, size) for _ in range(16)]
    images = folder / "images"
    images.mkdir(parents=True)
    masks = []
    for index in range(count):
        image, mask = bases[index % len(bases)]
        shift = tuple(int(v) for v in rng.integers(0, size, 2))
        image, mask = np.roll(image, shift, (0, 1)), np.roll(mask, shift, (0, 1))
        cv2.imwrite(str(images / f"{index:05d}.png"), image[:, :, ::-1])
        masks.append(mask)
    project = Project.create(folder / "project", classes=CLASSES)
    records = sorted(project.add_images([images], recursive=False).added, key=lambda r: r.name)
    return project, {record.id: mask for record, mask in zip(records, masks)}


def mark_done(project, image_id: int, mask: np.ndarray) -> None:
    """What the app stores when a person has painted an image and marks it done."""
    from segstudio.core.project import Status

    project.write_masks(image_id, mask, np.full(mask.shape, 3, np.uint8))
    project.set_status(image_id, Status.DONE)


def _memory_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")
