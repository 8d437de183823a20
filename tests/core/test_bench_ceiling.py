"""`segstudio bench ceiling`: the plain loop and the instant tier on full true masks, scored on the
held-out images of the `bench hitl` split (tiny sizes; figures are checked against what a model
that learnt nothing scores, never against times)."""

from __future__ import annotations

import json

import numpy as np

from segstudio.bench.ceiling import crop, heldout_miou
from segstudio.bench.hitl import read_dataset, read_truth
from segstudio.bench.shapes_dataset import write_dataset
from segstudio.cli import main
from segstudio.core.labels import IGNORE


def test_ceiling_reports_both_learners_above_what_an_unlearnt_model_scores(tmp_path, capsys):
    folder = write_dataset(tmp_path / "ds", count=9, size=64)
    assert main(["bench", "ceiling", "--dataset", str(folder), "--images", "6", "--heldout", "3", "--steps", "60",
                 "--every", "30", "--width", "8", "--depth", "2", "--patch", "48", "--threads", "1",
                 "--device", "cpu", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["images"], result["heldout"], result["steps"]) == (6, 3, 60)
    assert list(result["network_curve"]) == ["30", "60"]
    assert result["network_heldout_miou"] == result["network_curve"]["60"]
    names, pairs = read_dataset(folder)
    truths = [read_truth(mask, len(names)) for _, mask in pairs[-3:]]
    everywhere_background = heldout_miou([(truth, truth) for truth in truths], len(names),
                                         lambda truth: np.zeros_like(truth))
    assert result["network_heldout_miou"] > everywhere_background + 0.1
    assert result["instant_heldout_miou"] > everywhere_background + 0.3


def test_ceiling_prints_a_line_per_reading_and_refuses_a_split_without_held_out_images(tmp_path, capsys):
    folder = write_dataset(tmp_path / "ds", count=3, size=32)
    assert main(["bench", "ceiling", "--dataset", str(folder), "--heldout", "3"]) == 2
    assert "more than --heldout 3" in capsys.readouterr().err
    assert main(["bench", "ceiling", "--dataset", str(folder), "--heldout", "1", "--steps", "4", "--every", "2",
                 "--width", "4", "--depth", "1", "--patch", "16", "--batch-size", "2", "--threads", "1",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "plain loop, step 2: held-out mIoU" in out and "plain loop, step 4: held-out mIoU" in out
    assert "2 images with their true masks, 1 held out" in out


def test_crops_find_a_rare_class_and_pad_small_images_with_ignore():
    rng = np.random.default_rng(0)
    image = np.zeros((1, 40, 40), np.float32)
    target = np.zeros((40, 40), np.uint8)
    target[30, 5] = 2  # one pixel of a rare class
    crops = [crop([image], [target], 16, rng) for _ in range(60)]
    assert sum((y == 2).any() for _, y in crops) >= 15  # about half are centred on a chosen class
    small_x, small_y = crop([np.ones((1, 10, 12), np.float32)], [np.ones((10, 12), np.uint8)], 16, rng)
    assert small_x.shape == (1, 16, 16) and small_y.shape == (16, 16)
    assert (small_y[10:] == IGNORE).all() and (small_y[:, 12:] == IGNORE).all() and (small_y[:10, :12] == 1).all()
    assert (small_x[0, :10, :12] == 1).all() and (small_x[0, 10:] == 0).all()
