"""`segstudio bench open`: time to open an image for editing (docs/architecture.md budgets: 8k <= 1.5 s, 16k must open).

For each --sizes side it writes, into a temporary folder, an RGB JPEG, an RGB PNG and a 16-bit
grey TIFF of a photo-like picture, adds them to a real project and stores a label and a source
map for each. Then it times, as the median of --repeat runs: probe_image, read_image, reading
both masks through the project, the save of both masks, and the whole open the window does
(`open_for_editing`: image and both masks).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

FORMATS = ("jpeg", "png", "tiff16")
_FILE_NAMES = {"jpeg": "photo.jpg", "png": "photo.png", "tiff16": "grey16.tif"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="4096,8192",
                        help="image sides in pixels, comma-separated (default 4096,8192; 16384 takes minutes)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is reported (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")


def run(args: argparse.Namespace) -> int:
    from segstudio.core.errors import SegStudioError

    try:
        sizes = [int(side) for side in args.sizes.split(",") if side.strip()]
    except ValueError:
        raise SegStudioError(f"--sizes wants comma-separated whole numbers, not {args.sizes!r}") from None
    if not sizes or min(sizes) < 16 or args.repeat < 1:
        raise SegStudioError("--sizes must name sides of at least 16 pixels and --repeat must be at least 1")
    figures: dict[str, float] = {}
    for side in sizes:
        figures.update(measure_size(side, args.repeat))
        if not args.json:
            _print(side, figures)
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


def size_label(side: int) -> str:
    """'8k' for 8192, '300' for 300: the suffix of the figures' keys."""
    return f"{side // 1024}k" if side % 1024 == 0 else str(side)


def measure_size(side: int, repeat: int) -> dict[str, float]:
    """All figures for one image side, keyed like read_image_jpeg_8k_s (seconds)."""
    from segstudio.core.imageio import probe_image, read_image
    from segstudio.core.project import Project
    from segstudio.core.project.opening import open_for_editing

    tag = size_label(side)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="segstudio-bench-open-") as folder:
        paths = write_images(Path(folder), side)
        with Project.create(Path(folder) / "project", ["background", "cell", "nucleus", "debris"]) as project:
            project.add_images(paths.values(), copy=False)
            ids = {fmt: project.images(search=paths[fmt].name)[0].id for fmt in FORMATS}
            label, source = example_masks(side, project.num_classes, project.ignore_value, project.label_dtype)
            figures[f"write_masks_{tag}_s"] = _median(repeat, lambda: project.write_masks(ids["jpeg"], label, source))
            for fmt in FORMATS[1:]:
                project.write_masks(ids[fmt], label, source)
            del label, source
            figures[f"read_masks_{tag}_s"] = _median(
                repeat, lambda: (project.read_label(ids["jpeg"]), project.read_source(ids["jpeg"])))
            for fmt in FORMATS:
                path = paths[fmt]
                figures[f"probe_{fmt}_{tag}_s"] = _median(repeat, lambda: probe_image(path))
                figures[f"read_image_{fmt}_{tag}_s"] = _median(repeat, lambda: read_image(path))
                figures[f"open_{fmt}_{tag}_s"] = _median(repeat, lambda: open_for_editing(project, ids[fmt]))
    figures[f"open_{tag}_s"] = figures[f"open_jpeg_{tag}_s"]
    return figures


def photo_like(side: int, seed: int = 0) -> np.ndarray:
    """side x side x 3 uint8 with smooth detail at several scales, so codecs work as on a photo."""
    import cv2

    rng = np.random.default_rng(seed)
    cells = max(2, side // 64)
    coarse = rng.integers(0, 231, (cells, cells, 3), dtype=np.uint8)
    picture = cv2.resize(coarse, (side, side), interpolation=cv2.INTER_LINEAR)
    for y in range(0, side, 1024):  # grain, the same on all channels; 230 + 24 cannot overflow
        picture[y : y + 1024] += rng.integers(0, 25, (min(1024, side - y), side, 1), dtype=np.uint8)
    return picture


def write_images(folder: Path, side: int) -> dict[str, Path]:
    import cv2
    import tifffile

    picture = photo_like(side)
    paths = {fmt: folder / name for fmt, name in _FILE_NAMES.items()}
    bgr = cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(paths["jpeg"]), bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(str(paths["png"]), bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    del bgr
    tifffile.imwrite(paths["tiff16"], picture[:, :, 1].astype(np.uint16) * 200)
    return paths


def example_masks(side: int, num_classes: int, ignore: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """A label map of blobs of every class with unlabelled gaps, and a source map of all four kinds."""
    import cv2

    rng = np.random.default_rng(1)
    cells = max(2, side // 256)
    coarse = rng.integers(0, num_classes + 1, (cells, cells), dtype=np.uint8)
    label = cv2.resize(coarse, (side, side), interpolation=cv2.INTER_NEAREST).astype(dtype)
    label[label == num_classes] = ignore
    kinds = rng.integers(0, 4, (cells, cells), dtype=np.uint8)
    source = cv2.resize(kinds, (side, side), interpolation=cv2.INTER_NEAREST)
    source[label == ignore] = 0
    return label, source


def _median(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _print(side: int, figures: dict[str, float]) -> None:
    tag = size_label(side)
    print(f"{side} x {side} (median seconds)")
    print(f"  masks: read {figures[f'read_masks_{tag}_s']:.3f}, save {figures[f'write_masks_{tag}_s']:.3f}")
    for fmt in FORMATS:
        print(f"  {fmt:7s} probe {figures[f'probe_{fmt}_{tag}_s']:.4f}  read_image {figures[f'read_image_{fmt}_{tag}_s']:.3f}"
              f"  open (image + masks) {figures[f'open_{fmt}_{tag}_s']:.3f}")
