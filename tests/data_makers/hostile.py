"""Shared pieces of the hostile corpus (tests/core/test_hostile_*.py).

Every case builds its input in the test's folder, runs the real CLI in a subprocess (real
exit codes, real tracebacks or their absence) or the real core call, and then checks the
same four things: the typed message and exit code, that nothing outside the test's folder
changed (a sentinel folder "outside" next to the project, snapshot before and after), that
no painted pixel was lost or moved to another class, and that the project still opens.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SHAPE = (24, 32)
CLASSES = ["background", "cell", "nucleus"]


@dataclass
class Run:
    rc: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def cli(*args, env: dict | None = None, timeout: float = 180) -> Run:
    """`python -m segstudio ARGS` from the repository root, so this checkout's code runs."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "SEGSTUDIO_NO_NETWORK": "1", **(env or {})}
    done = subprocess.run([sys.executable, "-m", "segstudio", *map(os.fsdecode, args)], cwd=ROOT, env=full_env,
                          capture_output=True, timeout=timeout)
    return Run(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))


def assert_refused(run: Run, *needles: str, rc: int = 2) -> None:
    """A clean refusal: the exit code, the words that say why, and no traceback."""
    assert run.rc == rc, run.text
    assert "Traceback" not in run.text, run.text
    for needle in needles:
        assert needle.lower() in run.text.lower(), (needle, run.text)


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under `folder`: kind and content hash (or link target), without following links."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink():
                found[str(path.relative_to(folder))] = ("link", os.readlink(path))
            elif path.is_file():
                found[str(path.relative_to(folder))] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                found[str(path.relative_to(folder))] = ("dir",)
    return found


def make_outside(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("do not touch\n")
    (outside / "folder").mkdir()
    return outside


def write_images(folder: Path, count: int, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = folder / f"img{i}.png"
        Image.fromarray((rng.random((*SHAPE, 3)) * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def painted_labels(count: int, num_classes: int = len(CLASSES), seed: int = 1) -> list[np.ndarray]:
    """Label maps using every class and unlabelled pixels (255)."""
    rng = np.random.default_rng(seed)
    labels = []
    for _ in range(count):
        label = rng.integers(0, num_classes, SHAPE).astype(np.uint8)
        label[rng.random(SHAPE) < 0.2] = 255
        labels.append(label)
    return labels


def make_painted_project(root: Path, count: int = 3, classes=CLASSES) -> dict[int, np.ndarray]:
    """A project with `count` images whose masks are painted by a person; returns id -> label."""
    from segstudio.core.project import Project, Source

    paths = write_images(root.parent / f"{root.name}-images", count)
    expected = {}
    with Project.create(root, classes) as project:
        records = project.add_images(paths).added
        for record, label in zip(records, painted_labels(count, len(classes))):
            project.write_masks(record.id, label, np.where(label == 255, Source.NONE, Source.HUMAN).astype(np.uint8))
            expected[record.id] = label
    return expected


def assert_pixels_kept(root: Path, expected: dict[int, np.ndarray], classes=CLASSES) -> None:
    """The project opens (for writing) and every painted pixel is where it was, in its class."""
    from segstudio.core.project import Project

    with Project.open(root) as project:
        assert project.class_names() == list(classes)
        for image_id, label in expected.items():
            np.testing.assert_array_equal(project.read_label(image_id), label)


def can_use_mount_namespace() -> bool:
    if not shutil.which("unshare") or sys.platform != "linux":
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


def in_mount_namespace(script: str, timeout: float = 240) -> Run:
    """Run a shell script as root of a private mount namespace (tmpfs and read-only bind
    mounts, without touching the machine's mounts)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEGSTUDIO_NO_NETWORK": "1", "PY": sys.executable}
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=ROOT, env=env, capture_output=True,
                          timeout=timeout)
    return Run(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))
