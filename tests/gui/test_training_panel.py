"""The Training dock drives real training in the background: progress arrives, pause holds it,
an interactive prediction's hold pauses it too, stop ends it with the last model loadable.
"""

from __future__ import annotations

import pytest

from segstudio.bench.shapes_dataset import create_shapes_project
from segstudio.core.models.bundle import ModelBundle
from segstudio.core.training import TrainConfig
from segstudio.core.training.augment import AugmentConfig
from segstudio.gui.state import AppState
from segstudio.gui.training_panel import TrainingPanel
from segstudio.gui.training_worker import hold_training


def tiny_config(**overrides) -> TrainConfig:
    values = dict(arch="unet", model_options={"width": 8, "depth": 2}, batch_size=4, patches_per_image=1,
                  min_steps_per_epoch=4, augment=AugmentConfig(patch=32), threads=1, device="cpu",
                  deterministic=False, patience=100)
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture
def panel(qtbot, tmp_path):
    project = create_shapes_project(tmp_path / "p", count=4, size=48, labelled=3)
    state = AppState()
    widget = TrainingPanel(state)
    qtbot.addWidget(widget)
    state.project = project
    state.project_opened.emit(project)
    yield widget
    widget.shutdown()
    project.close()


def _steps(panel) -> int:
    return panel.curve_lengths()["loss"]


def _settle_paused(qtbot, panel) -> int:
    qtbot.waitUntil(lambda: panel.worker.paused, timeout=5000)
    qtbot.wait(400)  # a step that was running when pause came finishes and reports
    return _steps(panel)


@pytest.mark.slow
def test_start_pause_hold_resume_stop(qtbot, panel):
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    panel.start(tiny_config())
    qtbot.waitUntil(lambda: _steps(panel) >= 3, timeout=30000)
    assert panel.stop_button.isEnabled() and not panel.start_button.isEnabled()

    panel.pause_button.click()
    assert panel.pause_button.text() == "Resume"
    paused_at = _settle_paused(qtbot, panel)
    qtbot.wait(500)
    assert _steps(panel) == paused_at

    panel.pause_button.click()
    qtbot.waitUntil(lambda: _steps(panel) > paused_at, timeout=10000)

    hold = hold_training()  # what an interactive prediction does
    held_at = _settle_paused(qtbot, panel)
    qtbot.wait(500)
    assert _steps(panel) == held_at
    hold.release()
    qtbot.waitUntil(lambda: _steps(panel) > held_at, timeout=10000)

    qtbot.waitUntil(lambda: panel.curve_lengths()["miou"] >= 1, timeout=30000)
    with qtbot.waitSignal(panel.worker.finished, timeout=30000) as finished:
        panel.stop_button.click()
    result = finished.args[0]
    assert result.stopped and result.kept_versions
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=5000)
    assert not panel.stop_button.isEnabled()
    best = panel.state.project.best_model()
    assert ModelBundle.load(best.path).version == best.version
    assert any(key.startswith("iou:") for key in panel.curve_lengths())


@pytest.mark.slow
def test_a_kept_model_refreshes_proposals_of_unreviewed_images_only(qtbot, panel):
    project = panel.state.project
    reviewed = {r.id: project.read_label(r.id).copy() for r in project.images() if project.has_masks(r.id)}
    unreviewed = [r.id for r in project.images() if r.id not in reviewed]
    with qtbot.waitSignal(panel.state.images_changed, timeout=60000):
        panel.start(tiny_config(epochs=1))
    panel.shutdown()
    for image_id in unreviewed:
        assert project.has_masks(image_id)
        assert set(project.read_source(image_id).ravel()) == {1}  # a proposal, nobody reviewed it
        assert project.image(image_id).uncertainty is not None
    for image_id, label in reviewed.items():
        assert (project.read_label(image_id) == label).all()


def test_new_models_use_the_project_settings_the_model_dock_writes(panel):
    from segstudio.core.training.settings import update_settings

    assert panel.config().arch == "unet" and panel.config().patience == 10  # one default, everywhere
    update_settings(panel.state.project, arch="lraspp_mobilenet_v3_large")
    panel.patience.setValue(4)
    assert panel.config().arch == "lraspp_mobilenet_v3_large" and panel.config().patience == 4
