"""The instant tier's background jobs in the window: live refresh of the open image, and ladder rounds.

- Live refresh: a short pause after the person's last step on the open image starts a job
  (segstudio.core.live) that retrains the instant tier with the strokes just made and predicts the
  open image; the result is applied on the GUI thread, only to unreviewed pixels, as one undoable
  "live refresh" step, never while a stroke is in progress. It runs while an instant classifier is
  the one proposing (or no model exists yet): the plain one, or the hybrid that reads the network's
  class probabilities (its own tier); on an image the network proposed, from the fifth stroke
  there (core/live.refreshes_open_image), unless a person pinned that network, and the network
  votes in those refreshes with the instant tier.
- Ladder round: when images were marked done (or a project opens with reviewed images the instant
  tier has not learnt), the candidates are scored on them, the instant tier and (once a network
  exists) the hybrid tier retrain and are saved as versions (segstudio.core.ladder_round), and,
  when one of them is the one proposing, the images nobody has started get fresh proposals, most
  uncertain first.

One job runs at a time (they share the tiers' sample caches); a live refresh goes before a round,
and a stroke stops a running round, which starts again after the refresh and goes on where it
stopped (cached samples stay, proposals already made by the same version are kept). When the best
network changes, the hybrid tier for it is staged: it is filled and trained beside the one the
live refresh uses, and takes its place once its version is saved.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, QTimer, Signal

from segstudio.gui.statusbar import ElidedLabel
from segstudio.gui.workers import GeneratorWorker

DEBOUNCE_MS = 350
ENABLED_SETTING = "instant/enabled"  # QSettings: the instant tier's jobs (live refresh and rounds) run
BADGE_TIP = ("The model that proposes on new images: the instant classifier, the network, or instant + network "
             "(the instant classifier reading the network's class probabilities), whichever did best on the last "
             "images reviewed (each scored before it learnt from them): in mIoU and in the correction work "
             "its proposals would have needed")


class InstantJobs(QObject):
    refreshed = Signal(object)  # segstudio.core.live.LiveResult, after it was applied
    round_finished = Signal(object)  # the new instant version's ModelRecord (or None)
    proposals_refreshed = Signal(int)  # images that got a proposal after a round

    def __init__(self, state, session, parent: QObject | None = None):
        super().__init__(parent)
        self.state, self.session = state, session
        self.tier = None  # InstantTier of the open project (its sample cache outlives images)
        self.hybrid_tier = None  # the InstantTier that reads the best network's planes
        self._staged_hybrid = None  # the hybrid tier being filled for a newer best network
        self.live = None  # LiveSession of the open image
        self._live_key = None  # (image id, proposing kind, version of the network voting in it) of `live`
        self.worker: GeneratorWorker | None = None
        self._job = None  # "live" or "round": what the worker runs
        self._proposals_pending = False  # a round was stopped: its proposals may be unfinished
        self._document = None
        self._applying = False
        self._want_live = self._want_round = False
        self._too_big: set[int] = set()  # images whose feature stack would not fit the live budget
        self._open: set[int] = set()  # the image in the editor; background proposals leave it alone
        self._strokes = 0  # edits made on the open image since it was opened
        self.live_timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self.live_timer.timeout.connect(lambda: self._request(live=True))
        self.round_timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self.round_timer.timeout.connect(lambda: self._request(round_=True))
        # the status bar's "Proposing: ..." (kind, version, score)
        self.badge = ElidedLabel("Proposing: instant", detail=BADGE_TIP)
        session.document_replaced.connect(self._on_document)
        state.project_opened.connect(lambda _project: (self.round_timer.start(), self.describe()))
        state.images_changed.connect(self.round_timer.start)
        state.models_changed.connect(self.round_timer.start)  # a new best network: the hybrid follows it
        state.project_closed.connect(self._forget_project)
        self.round_finished.connect(lambda _record: self.describe())

    # ------------------------------------------------------------------ switches
    @property
    def enabled(self) -> bool:
        return QSettings().value(ENABLED_SETTING, True, type=bool)

    def set_enabled(self, on: bool) -> None:
        QSettings().setValue(ENABLED_SETTING, bool(on))
        if not on:
            self.stop()

    def _proposing(self, project) -> tuple[str | None, bool]:
        """(kind of the proposing model or None, whether a person pinned it)."""
        from segstudio.core.ladder import proposing_record

        return _kind_and_pin(proposing_record(project))

    def _instant_proposes(self, project) -> bool:
        return self._proposing(project)[0] in (None, "instant", "hybrid")

    def describe(self) -> None:
        """Say in the badge which model proposes, and how it scored."""
        from segstudio.core.ladder import standing
        from segstudio.core.proposers import KIND_NAMES

        project = self.state.project
        now = standing(project) if project is not None else None
        text, tip = "", BADGE_TIP
        if project is not None and now is None:
            text = "No model yet: paint a few strokes of each class"
        elif now is not None:
            # short: the status bar gives the refresh messages what the badge leaves (the rest in the tip)
            text = f"Proposing: {KIND_NAMES[now.kind]} {now.version}"
            if now.miou is not None:
                text += f" · mIoU {now.miou:.2f}"
                scored = ((now.kind, now.miou), *now.others)
                scores = ", ".join(f"{KIND_NAMES[kind]} {miou:.2f}" for kind, miou in scored)
                tip += f"\n\nmIoU on the last {now.images} reviewed images: {scores}"
            if now.efforts:
                work = ", ".join(f"{KIND_NAMES[kind]} {dabs:.1f}" for kind, dabs in now.efforts)
                tip += f"\nCorrection work per image, in dabs of a 16-pixel brush: {work}"
        self.badge.set_full_text(text, tip)

    # ------------------------------------------------------------------ events
    def _forget_project(self) -> None:
        self.stop()
        self.tier = self.hybrid_tier = self._staged_hybrid = self.live = self._live_key = None
        self._proposals_pending = False
        self._too_big.clear()
        self.badge.set_full_text("", BADGE_TIP)

    def _on_document(self, document) -> None:
        if self._document is not None:
            self._document.remove_commit_listener(self._on_commit)
        self.live_timer.stop()
        self._want_live = False
        self._document, self.live = document, None
        self._strokes = 0
        self._open.clear()
        if document is not None:
            self._open.add(document.image_id)
            document.add_commit_listener(self._on_commit)

    def _on_commit(self, box, label_patch, source_patch) -> None:
        if not self._applying:
            self._strokes += 1
            if self.enabled:
                self.live_timer.start()

    # ------------------------------------------------------------------ scheduling
    def _request(self, *, live: bool = False, round_: bool = False) -> None:
        self._want_live |= live
        self._want_round |= round_
        if self.worker is None:
            self._next()
        elif live and self._job == "round" and self._live_target(self.state.project) is not None:
            self._want_round = self._proposals_pending = True  # the person paints now: the round resumes after
            self.worker.stop()

    def _next(self) -> None:
        from segstudio.core.instant_tier import InstantTier

        project = self.state.project
        if project is None or project.readonly or not self.enabled:
            self._want_live = self._want_round = False
            return
        if self.tier is None:
            self.tier = InstantTier.for_project(project)
            self.hybrid_tier = InstantTier.for_project(project, "hybrid")
        self._promote_staged_hybrid(project)
        if self._want_live:
            self._want_live = False
            if self._start_live(project):
                return
        if self._want_round:
            self._want_round = False
            self._start_round(project)

    def _start(self, factory, name: str, on_result, job: str) -> None:
        self._job = job
        self.worker = GeneratorWorker(factory, name)
        self.worker.returned.connect(on_result)
        self.worker.failed.connect(lambda exc: self.state.message.emit(f"{name} failed: {exc}"))
        self.worker.finished.connect(self._finished)
        self.worker.start()

    def _finished(self) -> None:
        self.worker = self._job = None
        self._next()

    def stop(self) -> None:
        self.live_timer.stop()
        self.round_timer.stop()
        self._want_live = self._want_round = False
        if self.worker is not None:
            self.worker.stop()
            self.worker.wait()
            self.worker = self._job = None

    # ------------------------------------------------------------------ live refresh
    def _live_target(self, project):
        """(kind, record) of the proposing model when the open image would be refreshed now, else None."""
        from segstudio.core.ladder import proposing_record
        from segstudio.core.live import refreshes_open_image

        document = self._document
        if project is None or document is None or document.image_id in self._too_big:
            return None
        record = proposing_record(project)
        kind, pinned = _kind_and_pin(record)
        return (kind, record) if refreshes_open_image(kind, self._strokes, pinned=pinned) else None

    def _start_live(self, project) -> bool:
        target = self._live_target(project)
        if target is None:
            return False
        kind, record = target
        document = self._document
        label, source = document.label.copy(), document.source.copy()
        image_id = document.image_id
        self._start(lambda stop: self._live_job(project, image_id, label, source, kind, record, stop),
                    "live refresh", self._apply_live, "live")
        return True

    def _live_job(self, project, image_id, label, source, kind, record, stop):
        """`kind` and `record` of the proposing model (None before any): a network votes in the
        refresh of an image it proposed, a hybrid refreshes on its own tier."""
        from segstudio.core.imageio import read_image
        from segstudio.core.live import LiveSession
        from segstudio.core.proposers import load_proposer

        network_record = record if kind == "network" else None
        key = (image_id, kind == "hybrid", network_record.version if network_record is not None else None)
        live = self.live
        if live is None or self._live_key != key:
            raw = read_image(project.image(image_id).path).raw
            if not LiveSession.supports(raw.shape, 1 if raw.ndim == 2 else raw.shape[2]):
                self._too_big.add(image_id)
                return None
            if kind == "hybrid" and self.hybrid_tier.network is None:  # reopened: the network it reads
                network = project.model(record.metrics["network"])
                self.hybrid_tier.use_network(load_proposer(network.path, network.arch, version=network.version))
            # on an image the network proposed, its vote joins the refresh (core/live.py)
            network = None if network_record is None else \
                load_proposer(network_record.path, network_record.arch, version=network_record.version)
            tier = self.hybrid_tier if kind == "hybrid" else self.tier
            live = self.live = LiveSession(tier, image_id, raw, network=network)
            self._live_key = key
        result = yield from live.refresh(project, label, source, stop=stop)
        if result is not None:
            project.set_uncertainty(image_id, result.prediction.uncertainty)
            project.write_uncertainty_map(image_id, result.prediction.entropy)
        return result

    def _apply_live(self, result) -> None:
        from segstudio.core.proposers import KIND_NAMES

        document = self._document
        if result is None or document is None or document.image_id != result.image_id:
            return
        if document.in_step:  # a stroke is under way: its end asks for a fresh refresh anyway
            return
        self._applying = True
        try:
            with document.step("live refresh"):
                document.apply_proposal(result.prediction.class_map.astype(document.label.dtype))
        finally:
            self._applying = False
        helpers = ("instant classifier with the network" if result.network_voted
                   else KIND_NAMES["hybrid"] if result.hybrid else KIND_NAMES["instant"])
        # what matters first comes first: the status bar cuts the end off beside its permanent fields
        self.state.message.emit(f"Refreshed: {helpers}, {result.retrain_s + result.propose_s:.1f} s, "
                                f"{result.train_pixels:,} reviewed pixels of this image")
        self.refreshed.emit(result)

    # ------------------------------------------------------------------ ladder round
    def _start_round(self, project) -> None:
        from segstudio.core.ladder_round import needs_round

        if not (needs_round(project) or self._proposals_pending):
            return
        hybrid, pending = self._hybrid_for_round(project), self._proposals_pending
        self._start(lambda stop: self._round_job(project, hybrid, pending, stop), "instant classifier",
                    self._round_done, "round")

    def _hybrid_for_round(self, project):
        """The tier the round trains the hybrid with: the live one while it reads the best network
        (or nothing yet), else one staged for the new network, so that the live refresh keeps its
        cached samples until the new hybrid is saved."""
        from segstudio.core.instant_tier import InstantTier
        from segstudio.core.ladder import best_network

        network = best_network(project)
        current = self.hybrid_tier.network
        if network is None or current is None or current.version == network.version:
            return self.hybrid_tier
        staged = self._staged_hybrid
        if staged is None or staged.network is None or staged.network.version != network.version:
            staged = self._staged_hybrid = InstantTier.for_project(project, "hybrid")
        return staged

    def _promote_staged_hybrid(self, project) -> None:
        """Once the staged tier's hybrid version is saved, the live refresh moves on to it."""
        from segstudio.core.ladder import latest_of_kind

        staged = self._staged_hybrid
        if project is None or staged is None or staged.network is None:
            return
        latest = latest_of_kind(project, "hybrid")
        if latest is not None and latest.metrics.get("network") == staged.network.version:
            if self.live is not None and self.live.tier is self.hybrid_tier:
                self.live = self._live_key = None  # the open image's next refresh uses the new tier
            self.hybrid_tier, self._staged_hybrid = staged, None

    def _round_job(self, project, hybrid, pending: bool, stop):
        """`pending`: an earlier round was stopped, perhaps before its proposals were all made."""
        from segstudio.core.ladder import load_proposing
        from segstudio.core.ladder_round import instant_round, refresh_unreviewed

        record = yield from instant_round(project, self.tier, hybrid=hybrid, stop=stop)
        refreshed = 0
        if (record is not None or pending) and self._instant_proposes(project):
            proposer = load_proposing(project)
            refreshed = yield from refresh_unreviewed(project, proposer, skip=self._open, stop=stop)
        return record, refreshed

    def _round_done(self, result) -> None:
        record, refreshed = result
        self._proposals_pending = False  # a round that ran to its end made every proposal
        self._promote_staged_hybrid(self.state.project)
        self.round_finished.emit(record)
        if refreshed:
            self.proposals_refreshed.emit(refreshed)
            self.state.images_changed.emit()
        if record is not None and self._document is not None:
            self._want_live = True  # the open image gets the new model's proposal too


def _kind_and_pin(record) -> tuple[str | None, bool]:
    """(kind of the proposing model's record or None, whether a person pinned it)."""
    from segstudio.core.proposers import kind_of

    return (None, False) if record is None else (kind_of(record.arch), record.pinned)
