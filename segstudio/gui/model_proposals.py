"""The Model dock's proposals: on the open image, on every unreviewed one, or once with a chosen version.

A mixin of `ModelPanel` (segstudio.gui.model_panel), kept apart so each file has one job.
Prediction runs in the panel's worker; each result is applied on the GUI thread as one
undoable edit that only touches unreviewed pixels, and remembers which version made it.
A network proposes through the panel's loaded bundle (class mapping, CRF, device); an instant
classifier or instant + network version is loaded in the worker and proposes as it is.
"""

from __future__ import annotations


class ProposalsMixin:
    def propose_current(self) -> None:
        if self.state.image_id is not None:
            self._propose([self.state.image_id])

    def propose_unreviewed(self, *, outdated_only: bool = False) -> None:
        """Every image nobody has reviewed; `outdated_only`: those whose proposal another model made."""
        from segstudio.core.project import Status

        records = self.state.project.images(status=Status.NEW)
        proposer = self._proposer()
        if outdated_only and proposer is not None and not self.outside:
            records = self.state.project.outdated_proposals(records, proposer)
        ids = [record.id for record in records]
        if not outdated_only and self.state.image_id is not None and self.state.image_id not in ids \
                and self._image_is_new():
            ids.insert(0, self.state.image_id)
        if not ids:
            self.status.setText("No proposal to refresh." if outdated_only else "Every image has been reviewed.")
            return
        self._propose(ids)

    def propose_with_version(self, version: str) -> None:
        """One proposal on the open image from `version`; the proposing model stays what it was."""
        from segstudio.core.errors import SegStudioError
        from segstudio.core.models import ModelBundle

        if self.state.image_id is None or self._busy():
            return
        record = self.state.project.model(version)
        if record.kind != "network":
            self._propose_with_record([self.state.image_id], record)
            return
        try:
            bundle = ModelBundle.load(record.path)
            mapping = self._confirm_classes(bundle)
        except SegStudioError as exc:
            self.state.error.emit(str(exc))
            return
        self._propose([self.state.image_id], bundle=bundle, mapping=mapping)

    def _image_is_new(self) -> bool:
        from segstudio.core.project import Status

        return self.state.project.image(self.state.image_id).status == Status.NEW

    def _propose(self, image_ids: list[int], *, bundle=None, mapping=None) -> None:
        from segstudio.core.device import pick_device
        from segstudio.core.errors import SegStudioError
        from segstudio.core.inference import propose_images

        record = None if self.outside or bundle is not None else self._proposer()
        if record is not None and record.kind != "network":
            self._propose_with_record(image_ids, record)
            return
        if bundle is None:
            self._load_proposer_now()
            bundle, mapping = self.state.model, self.mapping
        if bundle is None:
            self.status.setText("No model yet: train one (Training dock), or load or import a model.")
            return
        try:
            device = pick_device(self.state.device_preference)
        except SegStudioError as exc:
            self.state.error.emit(str(exc))
            return
        project, crf = self.state.project, self.crf_box.isChecked()
        self._proposing_version = None if self.outside else (bundle.version or None)
        self._applied = 0
        self._start(lambda stop: propose_images(project, bundle, image_ids, device=device, crf=crf, mapping=mapping,
                                                stop=stop),
                    f"Proposing on {device}", self._proposals_summary)

    def _propose_with_record(self, image_ids: list[int], record) -> None:
        """Proposals from a project version that is not a network bundle (loaded in the worker)."""
        from segstudio.core.inference import propose_images
        from segstudio.core.proposers import load_proposer

        project = self.state.project

        def job(stop):
            proposer = load_proposer(record.path, record.arch, version=record.version)
            return (yield from propose_images(project, proposer, image_ids, stop=stop))

        self._proposing_version, self._applied = record.version, 0
        self._start(job, f"Proposing with {record.version}", self._proposals_summary)

    def _proposals_summary(self, result) -> str:
        if result is None:
            return f"Cancelled after {self._applied} images"
        done, problems = result
        text = f"Proposals applied to {self._applied} of {done} images"
        return text + (f"; {len(problems)} could not be read: {problems[0]}" if problems else "")

    def _apply(self, proposal) -> None:
        """On the GUI thread: one undoable edit through the open document, else straight to the project."""
        from segstudio.core.prediction import apply_prediction

        editing = proposal.image_id == self.state.image_id and self.state.document is not None
        apply_prediction(self.state.project, self.state.document if editing else None, proposal.image_id,
                         proposal.prediction, version=self._proposing_version)
        self._applied += 1
        self.state.image_updated.emit(proposal.image_id)  # one row: a pass over N images is O(N), not O(N^2)

