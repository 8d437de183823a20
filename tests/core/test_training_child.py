"""The training child process when the window is gone: it ends quietly, without a traceback."""

from __future__ import annotations

import multiprocessing

from segstudio.bench.shapes_dataset import create_shapes_project
from segstudio.core.training import TrainConfig
from segstudio.core.training.augment import AugmentConfig
from segstudio.core.training.remote import _child_main


def test_a_child_whose_window_is_gone_ends_quietly(tmp_path, capfd):
    create_shapes_project(tmp_path / "p", count=3, size=48).close()
    config = TrainConfig(arch="unet", model_options={"width": 4, "depth": 1}, max_steps=2, batch_size=2,
                         min_steps_per_epoch=2, augment=AugmentConfig(patch=32), threads=1, device="cpu")
    context = multiprocessing.get_context("spawn")
    running, stop = context.Event(), context.Event()
    running.set()
    parent_end, child_end = context.Pipe()
    parent_end.close()  # the window closed hard (or crashed) before the child's first event
    process = context.Process(target=_child_main, args=(str(tmp_path / "p"), config, child_end, running, stop))
    process.start()
    child_end.close()
    process.join(timeout=120)
    assert process.exitcode == 0
    assert "Traceback" not in capfd.readouterr().err
