"""The live refresh in the real window: strokes re-propose the open image in the background, and the
ladder round after a done image proposes on the others with the instant classifier."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import key, settle, stroke
from PySide6.QtCore import QSettings, Qt

from segstudio.core.project import Source, Status
from tests.data_makers.networks import keep_tiny_network


def _open_live(window, project_root, qtbot):
    """The project open in the window with the instant tier's jobs on; returns those jobs."""
    QSettings().setValue("instant/enabled", True)
    assert window.open_project(project_root)
    settle(qtbot, window)
    window.canvas.fit()
    return window.instant_jobs


def _brush(window, qtbot, size: int = 2) -> None:
    """The brush, `size` pixels, painting class 2 (foreground)."""
    key(qtbot, window, Qt.Key.Key_B)
    window.brush_size.setValue(size)
    key(qtbot, window, Qt.Key.Key_2)


@pytest.fixture
def live_window(window, project_root, qtbot):
    _open_live(window, project_root, qtbot)
    return window


def test_strokes_re_propose_the_open_image_and_keep_what_was_painted(live_window, qtbot):
    window = live_window
    doc = window.state.document
    key(qtbot, window, Qt.Key.Key_B)
    window.brush_size.setValue(2)
    key(qtbot, window, Qt.Key.Key_2)  # foreground: the bright square (x 48..87, y 8..55)
    with qtbot.waitSignal(window.instant_jobs.refreshed, timeout=90_000):
        stroke(qtbot, window, [(60, 20), (70, 30), (75, 45)])
        key(qtbot, window, Qt.Key.Key_1)  # background: the dark left half
        stroke(qtbot, window, [(10, 10), (20, 30), (30, 50)])
    painted = doc.source == Source.HUMAN
    assert painted.any() and (doc.label[painted & (np.arange(96)[None, :] >= 48)] == 1).all()
    proposed = doc.source == Source.PROPOSAL
    assert proposed.sum() > 0.8 * doc.label.size  # everything nobody painted got a proposal
    assert (doc.label[20:50, 55:85][proposed[20:50, 55:85]] == 1).mean() > 0.9  # inside the square
    assert (doc.label[10:60, 2:40][proposed[10:60, 2:40]] == 0).mean() > 0.9  # the dark half
    assert "live refresh" in doc.history_names[0]
    assert window.instant_jobs.badge.text().startswith("No model yet")  # live models are not versions
    assert "instant classifier" in window.statusBar().currentMessage()


def test_marking_done_trains_a_version_that_proposes_on_the_next_images(live_window, qtbot):
    window = live_window
    project = window.state.project
    first = window.state.image_id
    key(qtbot, window, Qt.Key.Key_B)
    window.brush_size.setValue(3)
    key(qtbot, window, Qt.Key.Key_2)
    stroke(qtbot, window, [(60, 20), (70, 40)])
    key(qtbot, window, Qt.Key.Key_1)
    stroke(qtbot, window, [(10, 10), (20, 40)])
    with qtbot.waitSignal(window.instant_jobs.proposals_refreshed, timeout=60_000):
        key(qtbot, window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # mark done
    assert project.image(first).status == Status.DONE
    instants = [m for m in project.models() if m.arch == "instant"]
    assert instants and first in instants[-1].metrics["image_ids"]
    others = [r for r in project.images() if r.status == Status.NEW and r.id != window.state.image_id]
    assert others and all((project.read_source(r.id) == Source.PROPOSAL).any() for r in others)
    assert window.instant_jobs.badge.full_text == f"Proposing: instant classifier {instants[-1].version}"


def _register_network(project_root) -> str:
    """A tiny U-Net saved as the project's best version: with no instant version, the network proposes."""
    from segstudio.core.project import Project

    with Project.open(project_root) as project:
        return keep_tiny_network(project)


def test_on_a_network_proposal_the_live_refresh_starts_at_the_fifth_stroke(window, project_root, qtbot):
    from segstudio.core.live import HANDOVER_STROKES
    from segstudio.gui.live_refresh import DEBOUNCE_MS

    _register_network(project_root)
    jobs = _open_live(window, project_root, qtbot)
    assert jobs._proposing(window.state.project) == ("network", False)
    refreshed = []
    jobs.refreshed.connect(refreshed.append)
    _brush(window, qtbot)
    for k in range(HANDOVER_STROKES - 1):
        stroke(qtbot, window, [(55 + 5 * k, 20), (55 + 5 * k, 40)])
    qtbot.wait(DEBOUNCE_MS + 500)  # the pause that would start a refresh under the instant tier
    assert refreshed == [] and jobs.worker is None
    key(qtbot, window, Qt.Key.Key_1)
    with qtbot.waitSignal(jobs.refreshed, timeout=90_000):
        stroke(qtbot, window, [(10, 10), (20, 40)])  # the fifth: this proposal needed work
    doc = window.state.document
    assert (doc.label[doc.source == Source.HUMAN] != 255).all() and "live refresh" in doc.history_names[0]
    # the network that proposed this image votes in its refresh, and the status bar says so
    assert refreshed[-1].network_voted and "with the network" in window.statusBar().currentMessage()
    session = jobs.live  # the next refresh reuses the image's features and the network's vote
    with qtbot.waitSignal(jobs.refreshed, timeout=90_000):
        stroke(qtbot, window, [(12, 60), (22, 80)])
    assert jobs.live is session and refreshed[-1].network_voted


def _make_hybrid_propose(project_root) -> str:
    """A reviewed image, a network, a round that trains the hybrid on it, and two scored images on
    which the hybrid was surely the best: the ladder hands the proposals to it. Returns its version."""
    from segstudio.core import ladder
    from segstudio.core.instant_tier import InstantTier
    from segstudio.core.ladder_round import instant_round
    from segstudio.core.progress import drive
    from segstudio.core.project import Project

    _register_network(project_root)
    with Project.open(project_root) as project:
        reviewed = project.images(order="name")[-1]
        truth = np.zeros((64, 96), np.uint8)
        truth[8:56, 48:88] = 1  # the bright square of the test images
        project.write_masks(reviewed.id, truth, np.full(truth.shape, Source.HUMAN, np.uint8))
        project.mark_done(reviewed.id)
        names = project.class_names()
        drive(instant_round(project, InstantTier(names), hybrid=InstantTier(names)))
        rng = np.random.default_rng(0)
        for image in (101, 102):
            noisy = {kind: np.where(rng.random(truth.shape) < share, truth, 1 - truth).astype(np.uint8)
                     for kind, share in (("instant", 0.7), ("network", 0.6), ("hybrid", 0.98))}
            ladder.observe(project, image, truth, {kind: ("v", m) for kind, m in noisy.items()})
        assert ladder.choose_kind(project) == "hybrid"
        return ladder.latest_of_kind(project, "hybrid").version


def test_when_the_hybrid_proposes_the_badge_says_so_and_strokes_refresh_on_its_tier(window, project_root, qtbot):
    version = _make_hybrid_propose(project_root)
    jobs = _open_live(window, project_root, qtbot)
    assert jobs.badge.full_text.startswith(f"Proposing: instant + network {version} · mIoU")
    tip = jobs.badge.toolTip()  # every kind's score is one hover away
    assert "instant + network 0.9" in tip and "instant classifier 0." in tip and "network 0." in tip
    work = tip.split("Correction work per image, in dabs of a 16-pixel brush: ")[1]
    assert work.startswith("instant + network ") and "instant classifier" in work  # the proposing kind first
    refreshed = []
    jobs.refreshed.connect(refreshed.append)
    _brush(window, qtbot)
    with qtbot.waitSignal(jobs.refreshed, timeout=90_000):
        stroke(qtbot, window, [(60, 20), (70, 40)])  # from the first stroke, as the instant tier
    assert refreshed[-1].hybrid and not refreshed[-1].network_voted and jobs.live.tier is jobs.hybrid_tier
    assert window.statusBar().currentMessage().startswith("Refreshed: instant + network, ")
    doc = window.state.document
    assert (doc.label[doc.source == Source.HUMAN] == 1).all()


def test_when_the_best_network_changes_the_hybrid_tier_is_staged_and_takes_over_once_saved(
        window, project_root, qtbot):
    from segstudio.core import ladder

    first = _make_hybrid_propose(project_root)
    jobs = _open_live(window, project_root, qtbot)
    _brush(window, qtbot)
    with qtbot.waitSignal(jobs.refreshed, timeout=90_000):
        stroke(qtbot, window, [(60, 20), (70, 40)])
    live_tier = jobs.hybrid_tier
    old_network = live_tier.network.version
    assert old_network == window.state.project.model(first).metrics["network"]

    newer = keep_tiny_network(window.state.project, seed=1)  # training kept a better network
    with qtbot.waitSignal(jobs.round_finished, timeout=90_000):
        window.state.models_changed.emit()
    project = window.state.project
    assert ladder.latest_of_kind(project, "hybrid").metrics["network"] == newer
    assert jobs.hybrid_tier is not live_tier and jobs.hybrid_tier.network.version == newer
    assert live_tier.network.version == old_network and live_tier.cache  # left whole while the new one filled
    # the open image's next refresh reads the new network's planes (the round asks for one at once)
    assert jobs.live is None or jobs.live.tier is jobs.hybrid_tier
    with qtbot.waitSignal(jobs.refreshed, timeout=90_000):
        stroke(qtbot, window, [(62, 45), (72, 50)])
    assert jobs.live.tier is jobs.hybrid_tier


def _hold_rounds(monkeypatch):
    """A gate in front of the real round, so that a stroke surely comes while it runs; set it to
    let the round go on to its end."""
    import threading
    import time

    from segstudio.core import ladder_round
    from segstudio.core.progress import Progress

    gate, real = threading.Event(), ladder_round.instant_round

    def held(*args, **kwargs):
        while not gate.is_set():
            yield Progress(0, 1, "held")
            time.sleep(0.01)
        return (yield from real(*args, **kwargs))

    monkeypatch.setattr(ladder_round, "instant_round", held)
    return gate


def _paint_mark_done_and_wait_for_the_round(window, qtbot):
    """Strokes of both classes on the open image, marked done: returns the round's worker."""
    _brush(window, qtbot, 3)
    stroke(qtbot, window, [(60, 20), (70, 40)])
    key(qtbot, window, Qt.Key.Key_1)
    stroke(qtbot, window, [(10, 10), (20, 40)])
    key(qtbot, window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # done: a round starts
    qtbot.waitUntil(lambda: window.instant_jobs._job == "round", timeout=10_000)
    return window.instant_jobs.worker


def test_a_stroke_stops_a_running_round_which_goes_on_after_the_refresh(live_window, qtbot, monkeypatch):
    window = live_window
    jobs, project = window.instant_jobs, window.state.project
    gate = _hold_rounds(monkeypatch)
    round_worker = _paint_mark_done_and_wait_for_the_round(window, qtbot)

    key(qtbot, window, Qt.Key.Key_2)
    with qtbot.waitSignal(jobs.refreshed, timeout=90_000):
        stroke(qtbot, window, [(60, 20), (70, 40)])  # on the next image, while the round is held
    assert round_worker.cancelled and not [m for m in project.models() if m.kind == "instant"]
    assert jobs._proposals_pending

    with qtbot.waitSignal(jobs.round_finished, timeout=90_000):
        gate.set()
    instants = [m for m in project.models() if m.kind == "instant"]
    assert instants and not jobs._proposals_pending


def test_strokes_that_start_no_refresh_leave_a_running_round_alone(window, project_root, qtbot, monkeypatch):
    """On an image the network proposed, strokes before the fifth start no refresh: they must not
    stop the round for nothing; the fifth does."""
    from segstudio.core.live import HANDOVER_STROKES

    _register_network(project_root)  # no instant version yet: the network proposes
    jobs = _open_live(window, project_root, qtbot)
    gate = _hold_rounds(monkeypatch)
    round_worker = _paint_mark_done_and_wait_for_the_round(window, qtbot)
    assert jobs._proposing(window.state.project)[0] == "network"
    from segstudio.gui.live_refresh import DEBOUNCE_MS

    for k in range(HANDOVER_STROKES - 1):
        stroke(qtbot, window, [(55 + 5 * k, 20), (55 + 5 * k, 40)])
    qtbot.wait(DEBOUNCE_MS + 300)
    assert jobs.worker is round_worker and not round_worker.cancelled
    with qtbot.waitSignal(jobs.refreshed, timeout=90_000):
        stroke(qtbot, window, [(12, 10), (22, 40)])  # the fifth: the refresh goes first
    assert round_worker.cancelled
    with qtbot.waitSignal(jobs.round_finished, timeout=90_000):
        gate.set()
