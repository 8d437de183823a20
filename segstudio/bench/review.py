"""The review benchmark's project and its headless figures (the window's part is gui/bench_review.py).

`make_project(root, n)` builds a project of n images fast: a few tiny image files shared by
all rows, inserted in one transaction (the rows, not the files, are what the list, sorting and
navigation scale with). Statuses are mixed (about 60 % new, 10 % in progress, 25 % done, 5 %
skipped), half the images carry an uncertainty (with ties), names are shuffled and of mixed
case. `core_figures` times the queries behind the list and navigation without a window.
`segstudio bench review` (registered as gui.bench_review: the bench layer never imports Qt)
uses both.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

import numpy as np

from segstudio.core.project import Project, Status
from segstudio.core.project.listing import ListFilter
from segstudio.core.workspace import review

SHARED_FILES = 8
STATUS_WEIGHTS = ((Status.NEW, 60), (Status.IN_PROGRESS, 10), (Status.DONE, 25), (Status.SKIPPED, 5))


def make_project(root: Path, n: int, *, seed: int = 0, size: tuple[int, int] = (96, 64)) -> Project:
    """A project of `n` rows over SHARED_FILES tiny PNGs; returned open (the caller closes it)."""
    from PIL import Image

    rng = random.Random(seed)
    project = Project.create(root, ("background", "foreground", "other"))
    folder = root / "images"
    folder.mkdir()
    width, height = size
    for i in range(SHARED_FILES):
        pixels = np.random.default_rng(i).integers(0, 255, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"shared_{i}.png")
    statuses = [s.value for s, w in STATUS_WEIGHTS for _ in range(w)]
    stamp = "2024-01-01T00:00:00+00:00"
    rows = []
    for i, number in enumerate(rng.sample(range(10 * n), n)):
        prefix = rng.choice(("img", "IMG", "Scan", "scan", "tile"))
        unsure = None if rng.random() < 0.5 else round(rng.random(), 2)  # two decimals: ties
        rows.append((f"images/shared_{i % SHARED_FILES}.png", f"{prefix}_{number:07d}.png", width, height,
                     f"bench-{i}", rng.choice(statuses), unsure, stamp, stamp))
    with project._tx() as conn:
        conn.executemany("INSERT INTO images (path, name, width, height, checksum, status, uncertainty, added_at, "
                         "updated_at, counted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)", rows)
    return project


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summary(name: str, seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {f"{name}_p50_ms": round(statistics.median(ms), 2), f"{name}_p95_ms": round(percentile(ms, 95), 2)}


def core_figures(project: Project, repeats: int = 20) -> dict[str, float]:
    """The SQL behind the window's actions, without Qt: list ids per order, navigation, counts."""
    ids = project.image_ids()
    rng = random.Random(1)
    figures: dict[str, float] = {}

    def timed(name: str, action) -> None:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            action()
            times.append(time.perf_counter() - start)
        figures.update(summary(name, times))

    for order in ("name", "status", "uncertainty"):
        timed(f"core_ids_{order}", lambda order=order: project.image_ids(ListFilter.of(order=order)))
    timed("core_search", lambda: project.image_ids(ListFilter.of(search=f"{rng.randrange(100):02d}")))
    timed("core_next_unreviewed", lambda: review.next_unreviewed(project, rng.choice(ids)))
    timed("core_most_uncertain", lambda: review.next_most_uncertain(project, rng.choice(ids)))
    timed("core_counts", lambda: review.review_counts(project))
    return figures
