"""`segstudio train` under `torchrun --nproc_per_node 2` (Gloo on CPU): one model, written by rank 0."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from segstudio.bench.shapes_dataset import create_shapes_project
from segstudio.core.models.bundle import ModelBundle
from segstudio.core.project import Project


@pytest.mark.slow
def test_torchrun_two_processes_gloo_writes_exactly_one_model(tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed")
    create_shapes_project(tmp_path / "p", count=4, size=48).close()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [torchrun, "--standalone", "--nnodes", "1", "--nproc_per_node", "2", "-m", "segstudio", "train",
               str(tmp_path / "p"), "--epochs", "1", "--threads", "1", "--patch", "32", "--batch-size", "4",
               "--option", "width=8", "--option", "depth=2", "--device", "cpu"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "kept v0001" in done.stdout
    with Project.open(tmp_path / "p", readonly=True) as project:
        assert [m.version for m in project.models()] == ["v0001"]
        assert ModelBundle.load(project.best_model().path).version == "v0001"
    assert sorted(p.name for p in (tmp_path / "p" / "models").iterdir()) == ["v0001"]
