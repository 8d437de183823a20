"""Versions with rollback, suspicious labels and one truth for settings (issue 11), on real projects."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from segstudio.bench.shapes_dataset import create_shapes_project
from segstudio.cli import main
from segstudio.core.errors import ProjectError, SegStudioError
from segstudio.core.models.bundle import ModelBundle
from segstudio.core.progress import drive
from segstudio.core.project import Project, Split
from segstudio.core.project import schema
from segstudio.core.training import LabelFlag, TrainConfig, ValidationEvent, train
from segstudio.core.training.augment import AugmentConfig
from segstudio.core.training.policy import annotation_fingerprint, candidate_image_ids
from segstudio.core.training.settings import LEGACY_ARCH_KEY, load_settings, update_settings
from segstudio.core.training.validation import evaluate_project

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def register(project, version_scores: list[float | None]) -> None:
    for score in version_scores:
        version = project.new_model_version()
        (project.models_dir / version).mkdir()
        project.register_model(version, "unet", {} if score is None else {"val_miou": score, "train_images": 4},
                               best=score is not None)


def test_pin_roll_back_and_follow_the_best(tmp_path):
    with Project.create(tmp_path / "p") as project:
        assert project.proposing_model() is None and project.rollback_target() is None
        register(project, [0.5, 0.7, None, 0.8])  # v0003 was imported: never the best
        assert project.proposing_model().version == "v0004" == project.best_model().version
        assert [m.best_rank for m in project.models()] == [1, 2, None, 3]
        assert project.models()[0].images_seen == 4 and project.models()[0].kind == "network"
        assert project.rollback_target().version == "v0002"
        project.pin_model(project.rollback_target().version)
        assert project.proposing_model().version == "v0002" and project.proposing_model().pinned
        assert project.best_model().version == "v0004"  # training still warm-starts from the best
        assert project.rollback_target().version == "v0001"
        project.pin_model("v0003")  # propose with the imported one
        assert project.proposing_model().version == "v0003"
        project.pin_model(None)
        assert project.proposing_model().version == "v0004" and not any(m.pinned for m in project.models())
        with pytest.raises(ProjectError, match="no model v0042"):
            project.pin_model("v0042")


def test_proposals_are_refreshed_only_by_a_better_or_pinned_model(tmp_path):
    with Project.create(tmp_path / "p") as project:
        register(project, [0.5, 0.7, None])
        v1, v2, imported = project.models()
        assert project.proposal_outdated(None, v2) and project.proposal_outdated("v0001", v2)
        assert not project.proposal_outdated("v0002", v1)  # v0001 is not better than v0002
        assert not project.proposal_outdated("v0002", v2)
        assert project.proposal_outdated("v0003", v2)  # an unranked model gives way to the line
        project.pin_model("v0001")
        assert project.proposal_outdated("v0002", project.proposing_model())  # the person chose it


def test_a_v1_project_is_migrated_with_ranks_for_its_kept_models(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    conn = sqlite3.connect(root / schema.DB_NAME)
    for statement in schema._statements(schema._V1):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    for version, metrics, best in (("v0001", '{"val_miou": 0.4}', 0), ("v0002", '{"imported_from": "x.pt"}', 0),
                                   ("v0003", '{"val_miou": 0.6}', 1)):
        conn.execute("INSERT INTO models (version, arch, created_at, metrics, is_best) VALUES (?, 'unet', 'now', ?, ?)",
                     (version, metrics, best))
    conn.commit()
    conn.close()
    with Project.open(root) as project:
        assert [(m.version, m.best_rank, m.kind, m.pinned) for m in project.models()] == [
            ("v0001", 1, "network", False), ("v0002", None, "network", False), ("v0003", 2, "network", False)]
        assert project.proposing_model().version == "v0003"
        assert project.flagged_images() == []


def test_one_truth_for_settings(tmp_path, capsys):
    with create_shapes_project(tmp_path / "p", count=3, size=48) as project:
        assert load_settings(project).arch == "unet"  # one default: the trainer's
        project.set_setting(LEGACY_ARCH_KEY, "lraspp_mobilenet_v3_large")  # chosen in an older Model dock
        assert load_settings(project).arch == "lraspp_mobilenet_v3_large"
        update_settings(project, arch="unet", model_options={"width": 4, "depth": 2}, patch=32, batch_size=4)
        with pytest.raises(SegStudioError, match="unknown architecture"):
            update_settings(project, arch="resnet9000")
        config = load_settings(project).train_config(epochs=1)
        assert config.augment.patch == 32 and config.model_options == {"width": 4, "depth": 2} and config.epochs == 1
    assert main(["train", str(tmp_path / "p"), "--epochs", "1", "--threads", "1", "--device", "cpu"]) == 0
    assert "kept v0001" in capsys.readouterr().out
    with Project.open(tmp_path / "p") as project:
        bundle = ModelBundle.load(project.best_model().path)
        assert bundle.arch == "unet" and bundle.options["width"] == 4  # the project's settings were used


def test_confirmed_labels_train_again_and_stay_confirmed(tmp_path):
    with create_shapes_project(tmp_path / "p", count=3, size=48) as project:
        image_id = project.images()[0].id
        before = annotation_fingerprint(project)
        project.flag_labels(image_id, "labels on 0000.png disagree", project.label_stamp(image_id))
        assert project.image(image_id).label_flag == "labels on 0000.png disagree"
        assert image_id not in candidate_image_ids(project) and annotation_fingerprint(project) != before
        project.confirm_labels(image_id)
        assert project.image(image_id).label_flag is None and image_id in candidate_image_ids(project)
        checked, confirmed = project.label_check_state(image_id)
        assert checked == confirmed == project.label_stamp(image_id)


def tiny(**overrides) -> TrainConfig:
    values = dict(arch="unet", model_options={"width": 8, "depth": 2}, batch_size=4, patches_per_image=2,
                  min_steps_per_epoch=4, augment=AugmentConfig(patch=48), threads=1, device="cpu", lr=1e-2,
                  patience=25)
    values.update(overrides)
    return TrainConfig(**values)


def held_out_scores(project) -> tuple[float, float]:
    return evaluate_project(project, split="val")[0].miou, evaluate_project(project, split="test")[0].miou


@pytest.mark.slow
def test_nonsense_on_one_image_is_flagged_and_never_makes_the_model_worse(tmp_path):
    """The check from issue 11: a good model, then nonsense painted on one image and marked done."""
    with create_shapes_project(tmp_path / "p", count=10, size=64, seed=1) as project:
        ordered = sorted(project.images(), key=lambda r: r.name)
        for record in ordered[-2:]:
            project.set_split(record.id, Split.TEST)  # held out: never trained on, never validated on
        for record in ordered:
            project.mark_done(record.id)
        good = drive(train(project, tiny(epochs=25, schedule_epochs=25)))
        best = project.best_model()
        val_before, test_before = held_out_scores(project)
        assert val_before > 0.75 and best.miou == pytest.approx(val_before, abs=1e-4), good

        victim = project.images(split=Split.TRAIN)[2]
        label = project.read_label(victim.id)
        nonsense = np.where(label == 0, 2, 0).astype(np.uint8)  # background painted "square", shapes erased
        project.write_masks(victim.id, nonsense, np.full(label.shape, 3, np.uint8))
        project.mark_done(victim.id)

        events = []
        drive(train(project, tiny(epochs=4, schedule_epochs=25)), events.append)
        (flag,) = [e for e in events if isinstance(e, LabelFlag)]
        assert flag.image_id == victim.id and flag.share > 0.25
        assert f"labels on {victim.name} disagree with model {best.version} on" in flag.message
        assert project.image(victim.id).label_flag == flag.message
        assert project.best_model().version == best.version or held_out_scores(project)[0] > val_before
        assert held_out_scores(project)[0] >= val_before

        # The person insists the nonsense is right: it trains, and the paired rule alone guards the best.
        project.confirm_labels(victim.id)
        events = []
        third = drive(train(project, tiny(epochs=8, schedule_epochs=25)), events.append)
        assert not [e for e in events if isinstance(e, LabelFlag)]  # confirmed labels are not flagged again
        verdicts = [e for e in events if isinstance(e, ValidationEvent)]
        assert verdicts and all(e.verdict for e in verdicts)
        val_after, test_after = held_out_scores(project)
        assert val_after >= val_before
        if not third.kept_versions:
            assert project.best_model().version == best.version and test_after == test_before


def test_versions_and_labels_commands(tmp_path, capsys):
    with Project.create(tmp_path / "p") as project:
        register(project, [0.5, 0.7])
    assert main(["versions", str(tmp_path / "p"), "--rollback"]) == 0
    assert "v0001  proposing, pinned" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "p")]) == 0
    assert "Models: v0001 (unet, pinned), v0002 (unet, best)" in capsys.readouterr().out
    assert main(["versions", str(tmp_path / "p"), "--unpin", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["version"], r["proposing"], r["pinned"]) for r in rows] == [("v0001", False, False),
                                                                            ("v0002", True, False)]
    assert main(["versions", str(tmp_path / "p"), "--pin", "v0009"]) == 2
    assert "no model v0009" in capsys.readouterr().err
    assert main(["labels", str(tmp_path / "p")]) == 0
    assert "no flagged labels" in capsys.readouterr().out


def test_fixed_labels_of_a_flagged_image_are_checked_again(tmp_path):
    with create_shapes_project(tmp_path / "p", count=3, size=48) as project:
        record = project.images()[0]
        project.flag_labels(record.id, "labels on 0000.png disagree", project.label_stamp(record.id))
        assert record.id not in candidate_image_ids(project)
        label = project.read_label(record.id)
        label[0, 0] = 1 - min(1, int(label[0, 0]))  # the person fixes something
        project.write_masks(record.id, label, project.read_source(record.id))
        assert record.id in candidate_image_ids(project)  # the next round's check looks again
        project.mark_labels_checked(record.id, project.label_stamp(record.id))
        assert project.image(record.id).label_flag is None
