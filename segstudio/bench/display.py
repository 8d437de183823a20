"""`segstudio bench display`: an 8k 16-bit grey TIFF opened to a displayable picture, against its decode floor.

It writes one --side x --side uint16 TIFF (the photo-like picture of `bench open`, scaled to fill
most of the 16-bit range; uncompressed, as microscopes write them), then times, as the median of
--repeat runs, each on the same file:

- the decode floor: tifffile.imread and cv2.imread alone (the faster one is the floor), and
  read_image's own decode of this layout (the bytes read in parallel blocks, tiff_direct);
- read_image: decode plus the picture the canvas draws (stretch by robust percentiles; a grey
  image stays one channel, made colour only in the tiles drawn);
- to_picture alone on the decoded array; to_display (the same made RGB in one pass, what
  read_image gave before, and what tools that need colour get); the 65,536-entry look-up the
  one-pass scaling replaced; and the cost of writing any new H x W x 3 uint8 picture (8-bit
  grey to RGB) and any new H x W uint8 one (a copy), the floors of the display step.

The ratio read_image / floor is the figure the goal is set on (docs/architecture.md: <= 2x).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--side", type=int, default=8192, help="image side in pixels (default 8192)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure; the median is reported (default 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")


def run(args: argparse.Namespace) -> int:
    from segstudio.core.errors import SegStudioError

    if args.side < 16 or args.repeat < 1:
        raise SegStudioError("--side must be at least 16 pixels and --repeat at least 1")
    figures = measure(args.side, args.repeat)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{args.side} x {args.side} uint16 grey TIFF, median of {args.repeat} runs (ms)")
        print(f"  decode floor: tifffile {figures['tifffile_ms']:.1f}, cv2.imread {figures['cv2_imread_ms']:.1f} "
              f"(read_image's own parallel read: {figures['direct_read_ms']:.1f})")
        print(f"  read_image (decode + picture) {figures['read_image_ms']:.1f} = {figures['ratio_to_floor']:.2f}x the floor")
        print(f"  to_picture alone {figures['to_picture_ms']:.1f} (writing a grey picture at all: "
              f"{figures['grey_write_ms']:.1f}); to_display (RGB) {figures['to_display_ms']:.1f} (the 65,536-entry "
              f"look-up: {figures['lookup_display_ms']:.1f}; writing an RGB picture at all: {figures['rgb_write_ms']:.1f})")
    return 0


def measure(side: int, repeat: int) -> dict[str, float]:
    import cv2
    import tifffile

    from segstudio.bench.open import photo_like
    from segstudio.core.imageio import read_image, to_display, to_picture

    with tempfile.TemporaryDirectory(prefix="segstudio-bench-display-") as folder:
        path = Path(folder) / "grey16.tif"
        tifffile.imwrite(path, photo_like(side)[:, :, 1].astype(np.uint16) * 250)
        raw = tifffile.imread(path)[:, :, None]
        grey8 = (raw[:, :, 0] >> 8).astype(np.uint8)
        figures = {
            "tifffile_ms": _median_ms(repeat, lambda: tifffile.imread(path)),
            "cv2_imread_ms": _median_ms(repeat, lambda: cv2.imread(str(path), cv2.IMREAD_UNCHANGED)),
            "direct_read_ms": _median_ms(repeat, lambda: _direct_read(path)),
            "read_image_ms": _median_ms(repeat, lambda: read_image(path)),
            "to_picture_ms": _median_ms(repeat, lambda: to_picture(raw)),
            "to_display_ms": _median_ms(repeat, lambda: to_display(raw)),
            "lookup_display_ms": _median_ms(repeat, lambda: _lookup_display(raw)),
            # writing any new H x W x 3 uint8 picture at all: 8-bit grey to RGB, nothing scaled
            "rgb_write_ms": _median_ms(repeat, lambda: cv2.cvtColor(grey8, cv2.COLOR_GRAY2RGB)),
            "grey_write_ms": _median_ms(repeat, lambda: grey8.copy()),
        }
    figures["floor_ms"] = min(figures["tifffile_ms"], figures["cv2_imread_ms"])
    figures["ratio_to_floor"] = figures["read_image_ms"] / figures["floor_ms"]
    return figures


def _direct_read(path: Path) -> np.ndarray | None:
    import tifffile

    from segstudio.core.imageio import tiff_direct

    with tifffile.TiffFile(path) as tif:
        return tiff_direct.read(path, tif, tif.pages[0])


def _lookup_display(raw: np.ndarray) -> np.ndarray:
    """The display before the one-pass scaling: a float table of every 16-bit value, then RGB."""
    import cv2

    from segstudio.core.imageio.display import display_range

    low, high = display_range(raw)
    table = np.clip((np.arange(65536, dtype=np.float32) - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)
    return cv2.cvtColor(table[raw[:, :, 0]], cv2.COLOR_GRAY2RGB)


def _median_ms(repeat: int, fn) -> float:
    from segstudio.bench.open import _median

    return _median(repeat, fn) * 1000
