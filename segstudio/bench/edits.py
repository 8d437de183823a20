"""`segstudio bench edits`: cost of mask edits and of reading images, on big images.

Paints one stroke of --dabs brush moves on a --size x --size document and reports the numpy
work per dab (p50/p95/max; the canvas repaint comes on top, see `bench ui`), the time to close
the stroke, the undo memory it keeps and the time to undo it, then a flood fill of the whole
image. Then writes an RGB JPEG, an RGB PNG and a 16-bit grey PNG of --read-size pixels a side
into a temporary folder and times probe_image and read_image on each.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=16384, help="mask side in pixels (default 16384)")
    parser.add_argument("--radius", type=float, default=8.0, help="brush radius in pixels (default 8)")
    parser.add_argument("--dabs", type=int, default=3000, help="brush moves in the stroke (default 3000)")
    parser.add_argument("--step", type=float, default=3.0, help="pixels between brush events (default 3)")
    parser.add_argument("--read-size", type=int, default=8192, help="side of the images read; 0 skips (default 8192)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")


def run(args: argparse.Namespace) -> int:
    figures = measure_edits(args.size, args.radius, args.dabs, args.step)
    if args.read_size > 0:
        figures["read"] = measure_reads(args.read_size)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        _print(figures)
    return 0


def measure_edits(size: int, radius: float, dabs: int, step: float) -> dict:
    from segstudio.core.document import MaskDocument

    doc = MaskDocument(1, np.zeros((size, size), np.uint8), np.zeros((size, size), np.uint8))
    margin = radius + 2
    span = max(1.0, size - 2 * margin)
    x = y = margin
    times = []
    doc.begin_step("brush")
    for i in range(dabs):
        # A diagonal zig-zag that stays inside the image however many dabs are asked for.
        nx = margin + (x - margin + step) % span
        ny = margin + (y - margin + step * 0.7) % span
        start = time.perf_counter()
        doc.paint_segment((x, y), (nx, ny), radius, 1)
        times.append(time.perf_counter() - start)
        x, y = nx, ny
    end_step = _timed(doc.end_step)
    undo_bytes = doc.undo_bytes
    undo = _timed(doc.undo)
    fill = _timed(lambda: doc.flood_fill(size / 2, size / 2, 2))
    ms = np.array(times) * 1e3
    return {
        "size": size,
        "radius": radius,
        "dabs": dabs,
        "dab_ms": {"p50": float(np.median(ms)), "p95": float(np.percentile(ms, 95)), "max": float(ms.max())},
        "end_step_ms": end_step * 1e3,
        "undo_mib": undo_bytes / 2**20,
        "undo_ms": undo * 1e3,
        "fill_whole_image_s": fill,
    }


def measure_reads(side: int) -> dict:
    import cv2

    from segstudio.core.imageio import probe_image, read_image

    rng = np.random.default_rng(0)
    colour = cv2.GaussianBlur(rng.integers(0, 256, (side, side, 3), dtype=np.uint8), (0, 0), 3)
    grey16 = (colour[:, :, 0].astype(np.uint16) * 200)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        files = {
            "rgb.jpg": (colour, [cv2.IMWRITE_JPEG_QUALITY, 90]),
            "rgb.png": (colour, [cv2.IMWRITE_PNG_COMPRESSION, 3]),
            "grey16.png": (grey16, [cv2.IMWRITE_PNG_COMPRESSION, 3]),
        }
        for name, (array, params) in files.items():
            path = Path(folder) / name
            cv2.imwrite(str(path), array, params)
            results[name] = {
                "probe_ms": _timed(lambda: probe_image(path)) * 1e3,
                "read_s": _timed(lambda: read_image(path)),
            }
    return results


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _print(figures: dict) -> None:
    dab = figures["dab_ms"]
    print(f"mask {figures['size']} x {figures['size']}, brush radius {figures['radius']:g}, {figures['dabs']} dabs")
    print(f"  dab (numpy work): p50 {dab['p50']:.3f} ms, p95 {dab['p95']:.3f} ms, max {dab['max']:.1f} ms")
    print(f"  end of stroke: {figures['end_step_ms']:.1f} ms; undo keeps {figures['undo_mib']:.1f} MiB; "
          f"undo {figures['undo_ms']:.1f} ms")
    print(f"  flood fill of the whole image: {figures['fill_whole_image_s']:.2f} s")
    for name, read in figures.get("read", {}).items():
        print(f"  {name}: probe {read['probe_ms']:.1f} ms, read {read['read_s']:.2f} s")
