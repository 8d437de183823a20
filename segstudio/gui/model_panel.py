"""The Model dock: which model proposes, every version, and proposals in the background.

The dock always shows the model that proposes, as the project says (Project.proposing_model:
the pinned version, else the best) and loads it in the background when that changes (a project
opens, training keeps a better model, the person pins or rolls back in the versions list).
Load pins a version (a bundle from elsewhere becomes a pinned version), Import makes a new one,
Export writes the proposing model; proposals run on the current image or on every image
nobody has reviewed. Prediction runs in a GeneratorWorker; each result is applied here, on
the GUI thread, as one undoable edit (through the open document for the image being edited)
that only touches unreviewed pixels. Torch loads only when a model does (when a project with
a trained model opens, or on Load / Import).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QFormLayout, QGridLayout, QLabel, QProgressBar, QPushButton,
    QVBoxLayout, QWidget,
)

from segstudio.core.proposers import KIND_NAMES
from segstudio.gui.model_proposals import ProposalsMixin
from segstudio.gui.model_sources import ModelSourcesMixin
from segstudio.gui.settings_binding import bind_setting
from segstudio.gui.training_worker import TrainingHold, hold_training
from segstudio.gui.versions_view import VersionsView
from segstudio.gui.workers import GeneratorWorker

EXPORT_CHOICES = {"ONNX + TorchScript": ["onnx", "torchscript"], "ONNX": ["onnx"], "TorchScript": ["torchscript"]}


class ModelPanel(ModelSourcesMixin, ProposalsMixin, QWidget):
    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.mapping: dict[int, int] | None = None  # model -> project class ids, when confirmed
        self.outside = False  # a bundle from a folder whose classes are mapped by name: not a version
        self._resync = False  # the proposing model changed while a job ran: load it after
        self._refresh_after_load = False  # a pin or roll back: re-propose what the old model proposed
        self._proposing_version: str | None = None  # the version whose proposals are being applied
        self.worker: GeneratorWorker | None = None
        self._training_hold: TrainingHold | None = None
        self._running = False  # from start until the worker's finished signal reached this thread
        self._build()
        state.project_opened.connect(self._on_project_opened)
        state.project_closed.connect(self._on_project_closed)
        state.model_changed.connect(self._on_model_changed)
        state.models_changed.connect(self._sync)
        state.image_changed.connect(lambda _image_id: self._update())
        self._describe(state.model)
        self._update()

    # -------------------------------------------------------------------- layout
    def _build(self) -> None:
        from segstudio.core.models.registry import ARCHITECTURES
        from segstudio.core.training.settings import TrainingSettings

        self.model_label = QLabel("No model")
        self.model_label.setWordWrap(True)
        self.arch_combo = QComboBox()
        for spec in ARCHITECTURES.values():
            self.arch_combo.addItem(spec.name, spec.name)
            self.arch_combo.setItemData(self.arch_combo.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole)
        self.arch_combo.setCurrentText(TrainingSettings().arch)
        self.arch_combo.setToolTip("Architecture for new models and for imported state dicts (a project setting)")
        bind_setting(self.state, self.arch_combo, "arch", self.arch_combo.setCurrentText,
                     self.arch_combo.currentTextChanged)
        self.device_combo = QComboBox()
        self.device_combo.addItems(["auto", "cpu", "cuda", "mps"])
        self.device_combo.setCurrentText(self.state.device_preference or "auto")
        self.device_combo.currentTextChanged.connect(self._on_device_chosen)
        self.export_combo = QComboBox()
        self.export_combo.addItems(list(EXPORT_CHOICES))
        self.crf_box = QCheckBox("Refine boundaries (CRF, slower)")
        form = QFormLayout()
        form.addRow("New models", self.arch_combo)  # the loaded model says its own architecture
        form.addRow("Device", self.device_combo)
        form.addRow("Export as", self.export_combo)
        self.load_button = QPushButton("Load...")
        self.import_button = QPushButton("Import...")
        self.export_button = QPushButton("Export...")
        self.current_button = QPushButton("Propose on this image")
        self.all_button = QPushButton("Propose on all unreviewed")
        self.cancel_button = QPushButton("Cancel")
        self.load_button.setToolTip("Propose with a model bundle folder (model.json + weights.safetensors): "
                                    "it is pinned, as a new version when it comes from elsewhere")
        self.import_button.setToolTip("A TorchScript file, or a state dict for the chosen architecture; "
                                      "it gets the project's classes and becomes a new model version")
        self.export_button.setToolTip("Write the model as ONNX / TorchScript with its classes and preprocessing")
        self.all_button.setToolTip("Every image nobody has reviewed yet; painted and accepted pixels are kept")
        self.load_button.clicked.connect(self.choose_bundle)
        self.import_button.clicked.connect(self.choose_import)
        self.export_button.clicked.connect(self.choose_export)
        self.current_button.clicked.connect(self.propose_current)
        self.all_button.clicked.connect(self.propose_unreviewed)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QGridLayout()
        for index, button in enumerate((self.load_button, self.import_button, self.export_button)):
            buttons.addWidget(button, 0, index)
        buttons.addWidget(self.current_button, 1, 0, 1, 3)
        buttons.addWidget(self.all_button, 2, 0, 1, 3)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.versions = VersionsView(self.state)
        self.versions.proposer_changed.connect(self._on_proposer_chosen)
        self.versions.propose_with.connect(self.propose_with_version)
        layout = QVBoxLayout(self)
        layout.addWidget(self.model_label)
        layout.addWidget(self.versions)
        layout.addLayout(form)
        layout.addWidget(self.crf_box)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.cancel_button)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def _busy(self) -> bool:
        return self._running

    def _update(self) -> None:
        project, busy = self.state.project, self._busy()
        writable = project is not None and not getattr(project, "readonly", False)
        has_model = self.state.model is not None or self._proposer() is not None
        self.load_button.setEnabled(not busy)
        self.import_button.setEnabled(not busy)
        self.export_button.setEnabled(has_model and not busy)
        # enabled without a model too: a click then follows the project's best model or says what to do
        self.current_button.setEnabled(writable and not busy and self.state.image_id is not None)
        self.all_button.setEnabled(writable and not busy)
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)

    # --------------------------------------------------------------------- model
    def _proposer(self):
        project = self.state.project
        return project.proposing_model() if project is not None else None

    def _network_proposer(self):
        """The proposing record when it is a network: the dock holds network bundles, while the
        instant classifier proposes through the ladder and has no bundle to load."""
        record = self._proposer()
        return record if record is not None and record.kind == "network" else None

    def _on_project_opened(self, project) -> None:
        self.outside = False
        self.versions.refresh()
        self._sync()

    def _on_project_closed(self) -> None:
        self.outside = False
        self.set_model(None)
        self.versions.refresh()

    def _sync(self) -> None:
        """Make the loaded model the one the project says proposes (loading imports torch: in the background)."""
        self.versions.refresh()
        proposer, current = self._network_proposer(), self.state.model
        if self.outside or (proposer is None and current is None) or (
                proposer is not None and current is not None and current.version == proposer.version):
            self._describe(current)
            self._update()
            return
        if proposer is None:
            self.set_model(None)
            self._describe(None)
            return
        if self._busy():
            self._resync = True
            self._describe(current)
            return
        self._start(lambda stop: _load_in_background(proposer.path), f"Loading model {proposer.version}",
                    self._adopt_loaded)
        self._describe(current)

    def _adopt_loaded(self, bundle) -> str:
        if bundle is None:
            return "Loading cancelled"
        from segstudio.core.errors import SegStudioError

        try:
            mapping = self._confirm_classes(bundle)
        except SegStudioError as exc:
            self.state.error.emit(str(exc))
            return "The project's model does not fit its classes"
        self.set_model(bundle, mapping)
        return f"Model {bundle.version} loaded"

    def _load_proposer_now(self) -> None:
        """Before proposing: the proposing model, loaded here if the background load has not run yet."""
        proposer, current = self._network_proposer(), self.state.model
        if self.outside or proposer is None or (current is not None and current.version == proposer.version):
            return
        from segstudio.core.errors import SegStudioError
        from segstudio.core.models import ModelBundle

        try:
            bundle = ModelBundle.load(proposer.path)
            self.set_model(bundle, self._confirm_classes(bundle))
        except SegStudioError as exc:
            self.state.error.emit(str(exc))

    def _on_proposer_chosen(self) -> None:
        """Pin, roll back or unpin: the unreviewed images the old model proposed get the new one's proposals."""
        self.outside = False
        self._refresh_after_load = True
        self._sync()
        self._maybe_refresh()

    def _maybe_refresh(self) -> None:
        proposer, current = self._proposer(), self.state.model
        loaded = proposer is not None and (proposer.kind != "network" or (current is not None
                                                                         and current.version == proposer.version))
        if self._refresh_after_load and not self._busy() and loaded:
            self._refresh_after_load = False
            self.propose_unreviewed(outdated_only=True)

    def _on_device_chosen(self, name: str) -> None:
        self.state.device_preference = None if name == "auto" else name

    def _on_model_changed(self, bundle) -> None:
        if bundle is not self.state.model:
            self.state.model = bundle
        self._describe(bundle)
        self._update()

    def _describe(self, bundle) -> None:
        """The model that proposes, as the project says, even while its weights are loading."""
        mapped = " (classes mapped by name)" if self.mapping else ""
        if self.outside and bundle is not None:
            self.model_label.setText(f"Proposing: a model from a folder, not a project version ({bundle.arch}): "
                                     f"{', '.join(bundle.class_names)}{mapped}")
            return
        record = self._proposer()
        if record is None and bundle is None:
            self.model_label.setText("No model: train one, or load or import a model bundle.")
            return
        if record is None:
            self.model_label.setText(f"Model ({bundle.arch}): {', '.join(bundle.class_names)}{mapped}")
            return
        what = record.arch if record.kind == "network" else KIND_NAMES[record.kind]
        if record.kind == "hybrid":
            what += f" {record.metrics.get('network', '')}"
        score = f", validation mIoU {record.miou:.3f}" if record.miou is not None else ""
        why = "pinned by you" if record.pinned else \
            "the best model" if record.kind == "network" else "the ladder's choice"
        loaded = record.kind != "network" or (bundle is not None and bundle.version == record.version)
        loading = "" if loaded else " (loading...)"
        self.model_label.setText(f"Proposing: model {record.version} ({what}){score}, {why}{mapped}{loading}")

    def set_model(self, bundle, mapping: dict[int, int] | None = None) -> None:
        self.mapping = mapping
        self.state.model = bundle
        self.state.model_changed.emit(bundle)

    def choose_export(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the model to a folder")
        if folder:
            self.export_to(folder, EXPORT_CHOICES[self.export_combo.currentText()])

    def export_to(self, folder: str | Path, formats: list[str]) -> None:
        from segstudio.core.model_export import export_bundle

        self._load_proposer_now()
        bundle = self.state.model
        if bundle is None:
            return
        self._start(lambda stop: export_bundle(bundle, folder, formats, stop=stop), "Exporting",
                    lambda paths: f"Exported to {', '.join(p.name for p in paths)}" if paths else "Export cancelled")

    # -------------------------------------------------------------------- worker
    def _start(self, factory, title: str, summary) -> None:
        if self._busy():
            return
        self.status.setText(f"{title}...")
        self.progress.setRange(0, 0)
        worker = GeneratorWorker(factory, name="model", parent=self)
        worker.yielded.connect(self._on_event)
        worker.returned.connect(self._on_returned)  # bound methods: delivered on this (the GUI) thread
        worker.failed.connect(self._on_failed)
        worker.finished.connect(self._on_finished)
        self._summary = summary
        self.worker = worker
        self._running = True
        self._training_hold = hold_training()  # training waits between steps while we use the device
        worker.start()
        self._update()

    def _on_event(self, event) -> None:
        from segstudio.core.inference import ImageProposal
        from segstudio.core.progress import Progress

        if isinstance(event, Progress):
            self.progress.setRange(0, event.total or 0)
            self.progress.setValue(event.done)
            self.progress.setFormat(f"%v / %m  {event.message}")
        elif isinstance(event, ImageProposal):
            self._apply(event)

    def _on_returned(self, result) -> None:
        self.status.setText(self._summary(result))  # the summary may also adopt the result (a loaded model)

    def _on_failed(self, exc: Exception) -> None:
        self.status.setText(f"Failed: {exc}")
        self.state.error.emit(str(exc))

    def _on_finished(self) -> None:
        self._running = False
        if self._training_hold is not None:
            self._training_hold.release()
            self._training_hold = None
        if self.worker is not None and self.worker.stop_flag.is_set():
            self.status.setText(self._summary(None))
        self._update()
        if self._resync:
            self._resync = False
            self._sync()
        self._maybe_refresh()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def shutdown(self) -> None:
        """Stop background work and wait for it (the main window calls this before quitting)."""
        self.cancel()
        if self.worker is not None:
            self.worker.wait()


def _load_in_background(folder: Path):
    """Generator for the worker: one step, returns the loaded bundle."""
    from segstudio.core.models import ModelBundle
    from segstudio.core.progress import Progress

    yield Progress(0, 1, "loading the model")
    return ModelBundle.load(folder)
