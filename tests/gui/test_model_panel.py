"""The Model dock driven by real clicks: proposals in the background, applied as undoable edits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from segstudio.core.document import MaskDocument
from segstudio.core.models import ModelBundle
from segstudio.core.project import Project, Source, Status
from segstudio.gui.model_panel import ModelPanel
from segstudio.gui.state import AppState

CLASSES = ("background", "foreground", "other")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_bundle(classes=CLASSES) -> ModelBundle:
    torch.manual_seed(0)
    return ModelBundle.create("unet", list(classes), depth=2, width=4)


@pytest.fixture
def project(project_root):
    opened = Project.open(project_root)
    yield opened
    opened.close()


@pytest.fixture
def panel(qtbot, project):
    """A panel on a project whose best model (v0001) is a tiny U-Net."""
    bundle = tiny_bundle()
    bundle.version, bundle.metrics = project.new_model_version(), {"val_miou": 0.5}
    bundle.save(project.models_dir / bundle.version)
    project.register_model(bundle.version, "unet", {"val_miou": 0.5}, best=True)
    widget = _open_panel(qtbot, project)
    qtbot.waitUntil(lambda: widget.state.model is not None, timeout=20_000)  # loaded in the background
    qtbot.waitUntil(lambda: not widget._busy())
    yield widget
    widget.shutdown()


def _open_panel(qtbot, project) -> ModelPanel:
    state = AppState(device="cpu")
    widget = ModelPanel(state)
    qtbot.addWidget(widget)
    widget.show()
    state.project = project
    state.project_opened.emit(project)
    return widget


def click(qtbot, button) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_the_best_model_loads_when_the_project_opens(panel):
    assert panel.state.model.version == "v0001"
    assert "v0001" in panel.model_label.text() and "0.500" in panel.model_label.text()
    assert not panel.current_button.isEnabled()  # no image open yet
    assert panel.all_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_propose_on_all_unreviewed_images_in_the_background(qtbot, panel, project):
    changed, updated = [], []
    panel.state.images_changed.connect(lambda: changed.append(1))
    panel.state.image_updated.connect(updated.append)
    click(qtbot, panel.all_button)
    assert panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not panel._busy(), timeout=30_000)
    assert "applied to 3 of 3" in panel.status.text()
    assert sorted(updated) == sorted(r.id for r in project.images()) and not changed  # one row each, no reload
    for record in project.images():
        assert (project.read_source(record.id) == Source.PROPOSAL).all()
        assert project.read_label(record.id).max() < len(CLASSES)
        assert record.uncertainty is not None and record.status == Status.NEW


def test_propose_on_the_open_image_is_one_undoable_step_that_keeps_painted_pixels(qtbot, panel, project):
    record = project.images()[0]
    label = np.full((record.height, record.width), 255, np.uint8)
    source = np.zeros_like(label)
    label[:6], source[:6] = 2, Source.HUMAN
    document = MaskDocument(record.id, label.copy(), source.copy())
    panel.state.document, panel.state.image_id = document, record.id
    panel.state.image_changed.emit(record.id)
    click(qtbot, panel.current_button)
    qtbot.waitUntil(lambda: not panel._busy(), timeout=30_000)
    assert document.can_undo and (document.source[6:] == Source.PROPOSAL).all()
    assert np.array_equal(document.label[:6], label[:6]) and (document.source[:6] == Source.HUMAN).all()
    document.undo()
    assert np.array_equal(document.label, label) and np.array_equal(document.source, source)


def test_cancel_stops_the_background_run(qtbot, panel, project):
    panel.crf_box.setChecked(True)  # slower: leaves time to cancel
    click(qtbot, panel.all_button)
    click(qtbot, panel.cancel_button)
    qtbot.waitUntil(lambda: not panel._busy(), timeout=30_000)
    assert "Cancelled" in panel.status.text() or "applied to 3 of 3" in panel.status.text()
    assert panel.all_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_a_model_for_other_classes_needs_a_yes_to_map_by_name(qtbot, panel, tmp_path, monkeypatch):
    other = tiny_bundle(("background", "foreground", "weed")).save(tmp_path / "other")
    errors = []
    panel.state.error.connect(errors.append)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(other))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    click(qtbot, panel.load_button)
    assert panel.state.model.version == "v0001" and "the model has classes the project lacks: weed" in errors[0]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    click(qtbot, panel.load_button)
    assert panel.state.model.class_names[2] == "weed" and panel.mapping == {0: 0, 1: 1, 2: 255}
    assert "mapped by name" in panel.model_label.text()


def test_export_runs_in_the_background(qtbot, panel, tmp_path, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "exported"))
    panel.export_combo.setCurrentText("TorchScript")
    click(qtbot, panel.export_button)
    qtbot.waitUntil(lambda: not panel._busy(), timeout=30_000)
    assert (tmp_path / "exported" / "model.torchscript.pt").is_file(), panel.status.text()
    assert "Exported to model.torchscript.pt" in panel.status.text()


def test_the_main_window_docks_the_panel_and_proposes_on_the_open_image(qtbot, opened):
    """Through the real window: its document gets the proposal as one undoable step."""
    panel = opened.optional["ModelPanel"]
    project, state = opened.state.project, opened.state
    bundle = tiny_bundle()
    bundle.version = project.new_model_version()
    bundle.save(project.models_dir / bundle.version)
    panel.device_combo.setCurrentText("cpu")
    click(qtbot, panel.current_button)
    assert "No model yet" in panel.status.text() and state.model is None
    project.register_model(bundle.version, "unet", {}, best=True)  # as training does when it keeps one
    click(qtbot, panel.current_button)  # follows the project's best model: loads v0001 first
    qtbot.waitUntil(lambda: not panel._busy(), timeout=30_000)
    document = state.document
    assert state.model.version == "v0001" and document.can_undo
    assert (document.source == Source.PROPOSAL).all()
    assert project.image(state.image_id).uncertainty is not None


def test_a_running_model_job_holds_training_until_it_ends(qtbot, panel):
    """docs/architecture.md, "Threads and processes": an interactive prediction pauses training between its steps."""
    import threading

    from segstudio.core.progress import Progress
    from segstudio.gui import training_worker

    release = threading.Event()

    def job(stop):
        yield Progress(0, 1, "working")
        release.wait(10)
        return None

    panel._start(job, "Testing", lambda result: "done")
    assert training_worker._holds, "the job started without pausing training"
    release.set()
    qtbot.waitUntil(lambda: not panel._busy(), timeout=20_000)
    assert not training_worker._holds, "training stays paused after the job ended"


def test_when_the_instant_classifier_proposes_the_dock_names_it_and_loads_no_bundle(qtbot, project):
    """The ladder's instant model has no network bundle: the dock must not try to load one
    (it did, and showed 'model.json is incomplete or malformed' when the demo opened)."""
    from segstudio.core.instant_tier import InstantTier
    from segstudio.core.ladder_round import instant_round
    from segstudio.core.progress import drive

    record = project.images()[0]
    truth = np.zeros((64, 96), np.uint8)
    truth[:, 48:] = 1
    project.write_masks(record.id, truth, np.full(truth.shape, Source.HUMAN, np.uint8))
    project.mark_done(record.id)
    version = drive(instant_round(project, InstantTier(project.class_names())))
    assert project.proposing_model().version == version.version
    state, errors = AppState(device="cpu"), []
    state.error.connect(errors.append)
    widget = ModelPanel(state)
    qtbot.addWidget(widget)
    state.project = project
    state.project_opened.emit(project)
    qtbot.wait(300)
    qtbot.waitUntil(lambda: not widget._busy())
    assert errors == [] and state.model is None
    text = widget.model_label.text()
    assert f"Proposing: model {version.version}" in text and "instant" in text and "loading" not in text
    widget.shutdown()
    from segstudio.gui.training_panel import TrainingPanel

    training = TrainingPanel(state)
    qtbot.addWidget(training)
    training._describe_models()
    assert f"proposing: {version.version} (instant, the ladder's choice)" in training.best.text()  # not "pinned"


def test_when_the_instant_classifier_proposes_the_dock_proposes_with_it(qtbot, project):
    """'Propose on all unreviewed' with an instant version proposing said 'No model yet' (the
    dock only knew network bundles); now the version proposes, whatever its kind."""
    from segstudio.core import ladder
    from segstudio.core.imageio import read_image
    from segstudio.core.instant_tier import InstantTier
    from segstudio.core.ladder_round import instant_round
    from segstudio.core.progress import drive

    reviewed = project.images()[0]
    truth = np.zeros((64, 96), np.uint8)
    truth[8:56, 48:88] = 1
    project.write_masks(reviewed.id, truth, np.full(truth.shape, Source.HUMAN, np.uint8))
    project.mark_done(reviewed.id)
    version = drive(instant_round(project, InstantTier(project.class_names())))
    widget = _open_panel(qtbot, project)
    qtbot.waitUntil(lambda: not widget._busy())

    click(qtbot, widget.all_button)
    qtbot.waitUntil(lambda: not widget._busy(), timeout=60_000)

    assert widget.status.text().startswith("Proposals applied to 2 of 2 images"), widget.status.text()
    proposer = ladder.load_proposing(project)
    for record in project.images(status=Status.NEW):
        assert project.image(record.id).proposed_by == version.version
        assert (project.read_source(record.id) == Source.PROPOSAL).all()
        expected = drive(proposer.predict(read_image(record.path).raw)).class_map
        assert np.array_equal(project.read_label(record.id), expected)
    widget.shutdown()
