"""The versions list and the two docks' agreement, driven by real clicks (issue 11).

The Model dock lists every version; Pin, Roll back, Follow best and Propose with this change
(or, for the last, do not change) the model the project says proposes, and the Model dock and
the Training dock both say the same version on a fresh project, after training and after
reopening.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from segstudio.core.document import MaskDocument
from segstudio.core.models import ModelBundle
from segstudio.core.project import Project, Status
from segstudio.gui.model_panel import ModelPanel
from segstudio.gui.state import AppState
from segstudio.gui.training_panel import TrainingPanel

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CLASSES = ("background", "foreground", "other")


def add_version(project, score: float, seed: int) -> str:
    torch.manual_seed(seed)
    bundle = ModelBundle.create("unet", list(CLASSES), depth=2, width=4)
    bundle.version = project.new_model_version()
    bundle.save(project.models_dir / bundle.version)
    project.register_model(bundle.version, "unet", {"val_miou": score, "train_images": seed + 2}, best=True)
    return bundle.version


@pytest.fixture
def docks(qtbot, project_root):
    project = Project.open(project_root)
    for seed, score in enumerate((0.41, 0.52, 0.63)):
        add_version(project, score, seed)
    state = AppState(device="cpu")
    model, training = ModelPanel(state), TrainingPanel(state)
    for widget in (model, training):
        qtbot.addWidget(widget)
        widget.show()
    state.project = project
    state.project_opened.emit(project)
    qtbot.waitUntil(lambda: state.model is not None and not model._busy(), timeout=20_000)
    yield model, training
    for widget in (model, training):
        widget.shutdown()
    project.close()


def click(qtbot, button) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def click_row(qtbot, view, version: str) -> None:
    table = view.table
    item = next(table.topLevelItem(i) for i in range(table.topLevelItemCount())
                if table.topLevelItem(i).text(0) == version)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualItemRect(item).center())
    assert view.selected_version() == version


def proposing(qtbot, model, version: str) -> None:
    """Wait until the Model dock has loaded `version` and says it proposes."""
    qtbot.waitUntil(lambda: model.state.model is not None and model.state.model.version == version
                    and not model._busy(), timeout=20_000)
    assert f"Proposing: model {version}" in model.model_label.text()
    assert "(loading...)" not in model.model_label.text()


def test_the_list_shows_every_version_and_pin_roll_back_follow_change_the_proposer(qtbot, docks):
    model, training = docks
    view, project = model.versions, model.state.project
    rows = view.row_texts()
    assert [row[0] for row in rows] == ["v0003", "v0002", "v0001"]
    assert rows[0][1:5] == ("proposing, best", "0.630", "4", "network")
    assert rows[0][5].startswith("20")  # the date
    proposing(qtbot, model, "v0003")
    assert "Best model: v0003" in training.best.text() and "it proposes" in training.best.text()
    assert not view.follow_button.isEnabled()

    click(qtbot, view.rollback_button)
    proposing(qtbot, model, "v0002")
    assert project.proposing_model().version == "v0002" and "pinned by you" in model.model_label.text()
    assert "proposing: v0002 (pinned by you)" in training.best.text() and "Best model: v0003" in training.best.text()
    assert view.row_texts()[1][1] == "proposing, pinned"

    click(qtbot, view.rollback_button)
    proposing(qtbot, model, "v0001")
    assert not view.rollback_button.isEnabled()  # nothing older to go back to

    click(qtbot, view.follow_button)
    proposing(qtbot, model, "v0003")
    assert not project.proposing_model().pinned and "the best model" in model.model_label.text()

    click_row(qtbot, view, "v0002")
    click(qtbot, view.pin_button)
    proposing(qtbot, model, "v0002")
    assert model.export_button.isEnabled()


def test_roll_back_replaces_the_proposals_the_newer_model_made(qtbot, docks):
    model, _training = docks
    project = model.state.project
    click(qtbot, model.all_button)
    qtbot.waitUntil(lambda: not model._busy(), timeout=30_000)
    assert {r.proposed_by for r in project.images()} == {"v0003"}
    click(qtbot, model.versions.rollback_button)
    qtbot.waitUntil(lambda: {r.proposed_by for r in project.images()} == {"v0002"}, timeout=30_000)
    qtbot.waitUntil(lambda: not model._busy(), timeout=30_000)
    click(qtbot, model.versions.follow_button)  # the best is better than v0002: its proposals come back
    qtbot.waitUntil(lambda: {r.proposed_by for r in project.images()} == {"v0003"}, timeout=30_000)


def test_propose_with_a_version_once_leaves_the_proposer_alone(qtbot, docks):
    model, _training = docks
    project, state = model.state.project, model.state
    record = project.images()[0]
    document = MaskDocument(record.id, np.full((record.height, record.width), 255, np.uint8),
                            np.zeros((record.height, record.width), np.uint8))
    state.document, state.image_id = document, record.id
    state.image_changed.emit(record.id)
    click_row(qtbot, model.versions, "v0001")
    click(qtbot, model.versions.propose_button)
    qtbot.waitUntil(lambda: not model._busy(), timeout=30_000)
    assert document.can_undo and project.image(record.id).proposed_by == "v0001"
    assert project.proposing_model().version == "v0003" and state.model.version == "v0003"


@pytest.mark.slow
def test_the_docks_agree_on_a_fresh_project_after_training_and_after_reopening(qtbot, tmp_path):
    from segstudio.bench.shapes_dataset import create_shapes_project
    from segstudio.core.training.settings import update_settings

    project = create_shapes_project(tmp_path / "p", count=4, size=48, labelled=3)
    update_settings(project, model_options={"width": 8, "depth": 2}, patch=32, batch_size=4)
    state = AppState(device="cpu")
    model, training = ModelPanel(state), TrainingPanel(state)
    for widget in (model, training):
        qtbot.addWidget(widget)
    state.project = project
    state.project_opened.emit(project)
    assert "No model" in model.model_label.text() and training.best.text() == "No model yet."
    assert model.arch_combo.currentText() == "unet" == training.config().arch  # one default
    assert not model.export_button.isEnabled() and model.versions.row_texts() == []

    training.continuous.setChecked(False)
    with qtbot.waitSignal(state.models_changed, timeout=120_000):  # a kept model
        training.start(dataclasses.replace(training.config(), epochs=1, threads=1))
    best = project.best_model().version
    proposing(qtbot, model, best)
    assert f"Best model: {best}" in training.best.text() and "it proposes" in training.best.text()
    assert model.export_button.isEnabled() and model.versions.row_texts()[0][0] == best
    qtbot.waitUntil(lambda: [r.proposed_by for r in project.images(status=Status.NEW)] == [best],
                    timeout=60_000)  # the kept model refreshed the unreviewed image's proposal
    training.shutdown()

    state.project = None
    state.project_closed.emit()
    project.close()
    assert "No model" in model.model_label.text() and training.best.text() == ""
    reopened = Project.open(tmp_path / "p")
    state.project = reopened
    state.project_opened.emit(reopened)
    proposing(qtbot, model, best)
    assert f"Best model: {best}" in training.best.text() and model.arch_combo.currentText() == "unet"
    assert [r.proposed_by for r in reopened.images(status=Status.NEW)] == [best]  # remembered
    model.shutdown()
    reopened.close()


def test_flagged_labels_are_listed_and_a_click_confirms_them(qtbot, docks):
    from segstudio.core.training.policy import candidate_image_ids
    from segstudio.gui.image_list import ImageListModel

    _model, training = docks
    state, project = training.state, training.state.project
    record = project.images()[1]
    project.write_masks(record.id, np.zeros((record.height, record.width), np.uint8),
                        np.full((record.height, record.width), 3, np.uint8))
    message = f"labels on {record.name} disagree with model v0003 on 38% of the pixels it is sure about: check them"
    project.flag_labels(record.id, message, project.label_stamp(record.id))
    training.flags.refresh()
    assert training.flags.list.count() == 1 and "38%" in training.flags.list.item(0).text()
    assert record.id not in candidate_image_ids(project)
    listing = ImageListModel()
    listing.set_project(project)
    row = listing.row_of(record.id)
    assert "check labels" in listing.data(listing.index(row), Qt.ItemDataRole.DisplayRole)
    assert message in listing.data(listing.index(row), Qt.ItemDataRole.ToolTipRole)
    with qtbot.waitSignal(state.open_image_requested) as opened:
        where = training.flags.list.visualItemRect(training.flags.list.item(0)).center()
        qtbot.mouseClick(training.flags.list.viewport(), Qt.MouseButton.LeftButton, pos=where)
        qtbot.mouseDClick(training.flags.list.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert opened.args == [record.id]
    click(qtbot, training.flags.confirm_button)
    assert training.flags.list.count() == 0 and project.image(record.id).label_flag is None
    assert record.id in candidate_image_ids(project) and "No suspicious labels" in training.flags.title.text()


@pytest.mark.slow
def test_training_in_the_app_flags_nonsense_labels_and_the_docks_list_them(qtbot, tmp_path):
    """The trainer's child process flags through the app's project; the Training dock lists it."""
    from segstudio.bench.shapes_dataset import create_shapes_project
    from segstudio.core.progress import drive
    from segstudio.core.project import Split
    from segstudio.core.training import train
    from segstudio.core.training.settings import update_settings

    project = create_shapes_project(tmp_path / "p", count=10, size=64, seed=1)
    update_settings(project, model_options={"width": 8, "depth": 2}, patch=48, batch_size=4, lr=1e-2,
                    schedule_epochs=25, patience=25)
    for record in project.images():
        project.mark_done(record.id)
    drive(train(project, dataclasses.replace(_settings_config(project), epochs=25, threads=1, device="cpu")))
    assert project.best_model().miou > 0.75
    victim = next(r for r in project.images(order="added") if r.split == Split.TRAIN)
    label = project.read_label(victim.id)
    project.write_masks(victim.id, np.where(label == 0, 2, 0).astype(np.uint8), np.full(label.shape, 3, np.uint8))
    project.mark_done(victim.id)

    state = AppState(device="cpu")
    training = TrainingPanel(state)
    qtbot.addWidget(training)
    state.project = project
    state.project_opened.emit(project)
    training.continuous.setChecked(False)
    training.start(dataclasses.replace(training.config(), epochs=1, threads=1))
    qtbot.waitUntil(lambda: training.flags.list.count() == 1, timeout=120_000)
    assert victim.name in training.flags.list.item(0).text() and project.image(victim.id).label_flag
    training.shutdown()
    project.close()


def _settings_config(project):
    from segstudio.core.training.settings import load_settings

    return load_settings(project).train_config(patches_per_image=2, min_steps_per_epoch=4)


def test_load_pins_a_version_and_a_bundle_from_elsewhere_becomes_one(qtbot, docks, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    model, training = docks
    project = model.state.project
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(project.models_dir / "v0001"))
    click(qtbot, model.load_button)
    proposing(qtbot, model, "v0001")
    assert project.proposing_model().pinned and "proposing: v0001 (pinned by you)" in training.best.text()
    torch.manual_seed(7)
    elsewhere = ModelBundle.create("unet", list(CLASSES), depth=2, width=4).save(tmp_path / "elsewhere")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(elsewhere))
    click(qtbot, model.load_button)
    proposing(qtbot, model, "v0004")
    assert project.model("v0004").metrics == {"imported_from": "elsewhere"} and project.model("v0004").best_rank is None
    assert model.versions.row_texts()[0][:2] == ("v0004", "proposing, pinned")
