"""Scenarios on real faulty storage, run inside a private mount namespace (see hostile.py).

    python -m tests.data_makers.storage_faults SCENARIO FOLDER

FOLDER is a small tmpfs (full-disk scenarios) or a folder bind-mounted read-only over a
prepared project (read-only scenarios). Prints one JSON object with what happened; the
test asserts on it. Each CLI call is a real subprocess, so exit codes are real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.data_makers.hostile import CLASSES, make_painted_project, write_images


def _cli(*args) -> dict:
    done = subprocess.run([sys.executable, "-m", "segstudio", *map(str, args)], capture_output=True, text=True)
    return {"rc": done.returncode, "out": done.stdout, "err": done.stderr}


def _fill(folder: Path, leave: int) -> None:
    """Fill the file system of `folder` until only about `leave` bytes are free."""
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    with open(folder / "filler", "wb") as handle:
        try:
            handle.write(b"\0" * max(0, free - leave))
        except OSError:
            pass


def _labels(root: Path) -> dict:
    from segstudio.core.project import Project

    with Project.open(root, readonly=True) as project:
        return {str(r.id): project.read_label(r.id).tolist() for r in project.images()}


def full_disk_add_copy(folder: Path) -> dict:
    root = folder / "proj"
    expected = {str(k): v.tolist() for k, v in make_painted_project(root).items()}
    big = folder.parent / "big.png"  # outside the tmpfs: the source is fine, the target is full
    from PIL import Image

    Image.fromarray((np.random.default_rng(3).random((700, 700, 3)) * 255).astype(np.uint8)).save(big)
    _fill(folder, 256 * 1024)  # enough to open the project, not for the 1.4 MB image
    run = _cli("add", root, big, "--copy")
    os.unlink(folder / "filler")
    images = sorted(p.name for p in (root / "images").iterdir()) if (root / "images").exists() else []
    return {"run": run, "images": images, "kept": _labels(root) == expected, "info": _cli("info", root)["rc"]}


def full_disk_class_removal(folder: Path) -> dict:
    from segstudio.core.errors import SegStudioError
    from segstudio.core.project import Project, Source

    root = folder / "proj"
    paths = write_images(folder / "src", 6)
    rng = np.random.default_rng(4)
    with Project.create(root, CLASSES) as project:
        for record in project.add_images(paths).added:  # noisy masks compress badly: big staged files
            label = rng.integers(0, 3, (24, 32)).astype(np.uint8)
            project.write_masks(record.id, label, np.full(label.shape, Source.HUMAN, np.uint8))
    before = _labels(root)
    try:
        with Project.open(root) as project:
            _fill(folder, 20 * 1024)  # room for the intent and a few staged maps, not all
            project.remove_class(1)
        error = ""
    except SegStudioError as exc:
        error = f"{type(exc).__name__}: {exc}"
    leftovers = [p.name for d in ("labels", "sources") for p in (root / d).iterdir() if p.name.startswith(".")]
    os.unlink(folder / "filler")
    with Project.open(root) as project:
        names = project.class_names()
    return {"error": error, "kept": _labels(root) == before, "names": names, "leftovers": leftovers,
            "intent": (root / ".segstudio-class-removal.json").exists()}


def full_disk_at_open(folder: Path) -> dict:
    """Nothing free at all, not even for the lock file's contents or SQLite's shared memory."""
    root = folder / "proj"
    expected = {str(k): v.tolist() for k, v in make_painted_project(root).items()}
    (root / ".segstudio.lock").unlink()
    _fill(folder, 0)
    result = {"info": _cli("info", root), "add": _cli("add", root, folder / "proj-images")}
    os.unlink(folder / "filler")
    result["kept"] = _labels(root) == expected
    return result


def read_only(folder: Path) -> dict:
    out = folder.parent / "exported"
    return {"info": _cli("info", folder), "add": _cli("add", folder, folder.parent / "proj-images"),
            "export": _cli("export", folder, "--format", "masks", "--all", "--out", out),
            "exported": out.is_dir() and any(out.iterdir())}


SCENARIOS = {"full_disk_add_copy": full_disk_add_copy, "full_disk_class_removal": full_disk_class_removal,
             "full_disk_at_open": full_disk_at_open, "read_only": read_only}

if __name__ == "__main__":
    print(json.dumps(SCENARIOS[sys.argv[1]](Path(sys.argv[2]))))
