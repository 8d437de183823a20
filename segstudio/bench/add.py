"""`segstudio add` and `segstudio info` at scale: add against its floor, info on a big project.

- add: N distinct small PNG files added to a new project (`Project.add_images`, what
  `segstudio add` runs), against the floor: SHA-256 of every file plus one INSERT per image in
  one transaction, nothing else. Ratio per image = add / floor, in wall-clock time (the goal) and
  in CPU time of all threads (add reads files on a pool; on a busy shared machine the CPU ratio
  moves less with the load).
- info: a project of --info-images rows (bench.review.make_project) with class histograms for
  its reviewed images; `Project.stats()` (what `segstudio info` prints) and the whole
  `segstudio info --json` process, wall clock.
Medians over --runs.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("--files", type=int, default=2000, help="image files to add (default 2,000)")
    parser.add_argument("--info-images", type=int, default=100_000, help="rows of the info project (0: skip)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; medians (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def _files(folder: Path, n: int) -> list[Path]:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(folder / f"f{i:06d}.png")
    return sorted(folder.iterdir())


def _floor(root: Path, files: list[Path]) -> tuple[float, float]:
    """(wall, CPU) seconds of the floor."""
    import sqlite3

    start, cpu = time.perf_counter(), time.process_time()
    conn = sqlite3.connect(root / "floor.sqlite", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE images (id INTEGER PRIMARY KEY, path TEXT, checksum TEXT UNIQUE)")
    conn.execute("BEGIN")
    for path in files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        conn.execute("INSERT INTO images (path, checksum) VALUES (?, ?)", (str(path), digest))
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - start, time.process_time() - cpu


def run(args) -> int:
    from segstudio.bench.review import make_project
    from segstudio.core.project import Project, Status

    figures: dict = {"files": args.files}
    with tempfile.TemporaryDirectory(prefix="segstudio-bench-add-") as temp:
        temp = Path(temp)
        files = _files(temp / "images", args.files)
        adds, floors, add_cpu, floor_cpu = [], [], [], []
        for run_index in range(args.runs):
            floor_root = temp / f"floor{run_index}"
            floor_root.mkdir()
            wall, cpu = _floor(floor_root, files)
            floors.append(wall)
            floor_cpu.append(cpu)
            with Project.create(temp / f"p{run_index}", ("background", "cell")) as project:
                start, cpu = time.perf_counter(), time.process_time()
                report = project.add_images(files)
                adds.append(time.perf_counter() - start)
                add_cpu.append(time.process_time() - cpu)
            assert len(report.added) == len(files), report.summary()
        figures["add_us_per_image"] = round(statistics.median(adds) / len(files) * 1e6, 1)
        figures["floor_us_per_image"] = round(statistics.median(floors) / len(files) * 1e6, 1)
        figures["add_vs_floor"] = round(statistics.median(adds) / statistics.median(floors), 2)
        # CPU seconds of every thread: on a shared machine the wall ratio moves with the load
        figures["add_cpu_us_per_image"] = round(statistics.median(add_cpu) / len(files) * 1e6, 1)
        figures["floor_cpu_us_per_image"] = round(statistics.median(floor_cpu) / len(files) * 1e6, 1)
        figures["add_vs_floor_cpu"] = round(statistics.median(add_cpu) / statistics.median(floor_cpu), 2)
        if args.info_images:
            root = temp / "info"
            with make_project(root, args.info_images) as project:
                reviewed = [i for i, in project._query("SELECT id FROM images WHERE status IN (?, ?)",
                                                        (Status.DONE.value, Status.IN_PROGRESS.value))]
                with project._tx() as conn:
                    conn.executemany("INSERT INTO class_pixels (image_id, class_id, pixels) VALUES (?, ?, ?)",
                                     [(i, c, 1000 + c) for i in reviewed for c in (-1, 0, 1)])
                stats_s = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    project.stats()
                    stats_s.append(time.perf_counter() - start)
            figures["info_images"] = args.info_images
            figures["info_stats_s"] = round(statistics.median(stats_s), 3)
            cli = []
            for _ in range(args.runs):
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "segstudio", "info", str(root), "--json"], check=True,
                               capture_output=True)
                cli.append(time.perf_counter() - start)
            figures["info_cli_s"] = round(statistics.median(cli), 3)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:<22} {value}")
    return 0
