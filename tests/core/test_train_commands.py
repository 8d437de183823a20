"""`segstudio eval`, `bench hitl`, `bench train` and `bench make-dataset` on tiny sizes:
they run end to end and print what they promise (structure only, never times).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from segstudio.bench.shapes_dataset import create_shapes_project, write_dataset
from segstudio.cli import main
from segstudio.core.progress import drive
from segstudio.core.training import TrainConfig, train
from segstudio.core.training.augment import AugmentConfig


def _tiny_train(project) -> None:
    drive(train(project, TrainConfig(arch="unet", model_options={"width": 8, "depth": 2}, epochs=2, batch_size=4,
                                     patches_per_image=1, min_steps_per_epoch=4, augment=AugmentConfig(patch=32),
                                     threads=1, device="cpu")))


def test_eval_prints_a_table_and_json(tmp_path, capsys):
    with create_shapes_project(tmp_path / "p", count=4, size=48) as project:
        _tiny_train(project)
        version = project.best_model().version
    assert main(["eval", str(tmp_path / "p"), "--split", "all"]) == 0
    table = capsys.readouterr().out
    assert f"model {version} on 4 all image(s)" in table
    for name in ("background", "disc", "square", "triangle", "mean", "pixel accuracy"):
        assert name in table
    assert main(["eval", str(tmp_path / "p"), "--model", version, "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["model"] == version and scores["split"] == "val" and 0 <= scores["miou"] <= 1
    assert set(scores["per_class"]["disc"]) >= {"iou", "dice", "precision", "recall", "boundary_f"}


def test_eval_without_a_model_says_so(tmp_path, capsys):
    create_shapes_project(tmp_path / "p", count=2, size=32).close()
    assert main(["eval", str(tmp_path / "p")]) == 2
    assert "no model yet" in capsys.readouterr().err


def test_train_command_keeps_a_model(tmp_path, capsys):
    create_shapes_project(tmp_path / "p", count=3, size=48).close()
    code = main(["train", str(tmp_path / "p"), "--epochs", "1", "--patch", "32", "--batch-size", "4",
                 "--option", "width=8", "--option", "depth=2", "--threads", "1", "--device", "cpu"])
    assert code == 0
    assert "kept v0001" in capsys.readouterr().out


@pytest.mark.slow
def test_bench_hitl_json_structure(tmp_path, capsys):
    assert main(["bench", "make-dataset", str(tmp_path / "ds"), "--count", "5", "--size", "48"]) == 0
    capsys.readouterr()
    assert main(["bench", "hitl", "--dataset", str(tmp_path / "ds"), "--heldout", "2", "--budget", "4",
                 "--radius", "4", "--max-strokes", "40", "--threads", "1", "--device", "cpu", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"effort_ratio_11_20", "final_heldout_miou", "per_image"} <= set(result)
    assert result["effort_ratio_11_20"] is None  # only 3 images were annotated
    rows = result["per_image"]
    assert [row["index"] for row in rows] == [1, 2, 3]
    assert rows[0]["model"] is None and rows[0]["assisted_strokes"] == rows[0]["unassisted_strokes"]
    assert all(row["heldout_miou"] is not None and row["unassisted_strokes"] > 0 for row in rows)


def test_bench_hitl_table_and_bad_dataset(tmp_path, capsys):
    assert main(["bench", "hitl", "--dataset", str(tmp_path / "missing")]) == 2
    assert "classes.txt is missing" in capsys.readouterr().err
    write_dataset(tmp_path / "ds", count=3, size=32)
    assert main(["bench", "hitl", "--dataset", str(tmp_path / "ds"), "--heldout", "5"]) == 2
    assert "more than --heldout" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_train_json_structure(capsys):
    assert main(["bench", "train", "--steps", "3", "--warmup", "1", "--rounds", "1", "--images", "2", "--size", "48",
                 "--patch", "32", "--batch-size", "2", "--width", "4", "--depth", "2", "--threads", "1",
                 "--device", "cpu", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["app_steps_per_s"] > 0 and result["reference_steps_per_s"] > 0
    assert result["ratio"] == pytest.approx(result["app_steps_per_s"] / result["reference_steps_per_s"], rel=0.01)
    assert result["fp32_steps_per_s"] > 0 and "plain loop" in result["reference"]


@pytest.mark.slow
def test_bench_train_latency_reports_every_mark_and_memory(capsys):
    assert main(["bench", "train-latency", "--images", "24", "--start", "6", "--chunk", "8", "--new", "2",
                 "--gap", "0.5", "--size", "40", "--patch", "32", "--batch-size", "4", "--width", "4",
                 "--depth", "1", "--threads", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["latency_s"]) == 2 and None not in result["latency_s"]  # both marks reached a step
    assert set(result["rss_mb_by_reviewed_images"]) >= {"6", "22"} and result["peak_rss_mb"] > 0


@pytest.mark.slow
def test_bench_hitl_ilastik_arm_is_the_instant_loop_with_ilastiks_forest(tmp_path, capsys):
    from segstudio.bench.hitl import HitlOptions
    from segstudio.bench.hitl_model import Learner
    from segstudio.core.instant.forest import ForestParams
    from segstudio.core.instant.prior import POWERS
    from segstudio.core.project import Project

    assert main(["bench", "make-dataset", str(tmp_path / "ds"), "--count", "5", "--size", "40"]) == 0
    capsys.readouterr()
    assert main(["bench", "hitl", "--dataset", str(tmp_path / "ds"), "--heldout", "2", "--radius", "4",
                 "--max-strokes", "30", "--model", "ilastik", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = result["per_image"]
    assert [row["model"] for row in rows] == [None, "i0001", "i0002"]  # the instant loop proposes
    refreshes = [seconds for row in rows for seconds in row["refresh_s"]]
    assert result["live_refreshes"] == len(refreshes) > 0
    # every refresh is part of its image's retrain + propose seconds
    assert all(sum(row["refresh_s"]) <= row["retrain_s"] + row["propose_s"] + 0.01 for row in rows)
    assert min(refreshes) <= result["live_refresh_p50_s"] <= result["live_refresh_p95_s"] <= max(refreshes)
    assert rows[1]["retrain_s"] > 0 and rows[0]["prior_power"] == 0.0  # no evidence after one image
    assert rows[2]["prior_power"] in POWERS
    with Project.create(tmp_path / "p", classes=["a", "b"]) as project:
        learner = Learner(project, HitlOptions(model="ilastik"), ["a", "b"], [])
        assert learner.mode == "instant" and learner.tier.params == ForestParams("random_forest", 100, 1)
        assert learner.tier.probability_sigma == 0.0  # votes pixel by pixel, as ilastik does


@pytest.mark.slow
def test_bench_hitl_hybrid_arm_proposes_with_instant_and_network_once_a_network_exists(tmp_path, capsys):
    assert main(["bench", "make-dataset", str(tmp_path / "ds"), "--count", "7", "--size", "48"]) == 0
    capsys.readouterr()
    assert main(["bench", "hitl", "--dataset", str(tmp_path / "ds"), "--heldout", "2", "--budget", "12",
                 "--radius", "4", "--max-strokes", "40", "--threads", "1", "--device", "cpu", "--model", "hybrid",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["per_image"]
    models = [row["model"] for row in rows]
    assert models[:2] == [None, "i0001"]  # no network before the first image is done
    assert all(model.startswith("h") for model in models[2:])  # then instant + network, whatever the scores
    assert all(row["heldout_miou"] is not None for row in rows[1:])


def test_the_simulated_person_marks_done_only_their_strokes_when_they_give_up_at_the_cap():
    from segstudio.bench.annotator import annotate
    from segstudio.bench.hitl import marked_done

    truth = np.zeros((64, 64), np.uint8)
    truth[8:56, 8:56] = 1
    wrong = np.zeros_like(truth)  # a proposal that misses the square: half wrong
    gave_up = annotate(truth, wrong, radius=4, target_iou=0.95, max_strokes=3)
    assert gave_up.strokes == 3 and gave_up.iou < 0.95
    label, source = marked_done(gave_up, 0.95)
    assert ((label != 255) == gave_up.painted).all()  # the accepted errors are not labels
    assert (label[gave_up.painted] == truth[gave_up.painted]).all() and (source[gave_up.painted] == 3).all()
    assert (source[~gave_up.painted] == 0).all()

    finished = annotate(truth, wrong, radius=8, target_iou=0.95, max_strokes=500)
    assert finished.iou >= 0.95
    label, source = marked_done(finished, 0.95)
    assert (label != 255).all() and set(np.unique(source)) == {2, 3}
    assert ((source == 3) == finished.painted).all()
