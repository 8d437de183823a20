"""The Model dock: which model proposes, on which device, and proposals in the background.

Load a bundle (the project's best model is loaded when a project opens), import one made
elsewhere, export the active one, and run proposals on the current image or on every image
nobody has reviewed. Prediction runs in a GeneratorWorker; each result is applied here, on
the GUI thread, as one undoable edit (through the open document for the image being edited)
that only touches unreviewed pixels. Torch loads only when a model does (when a project with
a trained model opens, or on Load / Import).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QFormLayout, QGridLayout, QLabel, QMessageBox, QProgressBar, QPushButton,
    QVBoxLayout, QWidget,
)

from segstudio.gui.training_worker import TrainingHold, hold_training
from segstudio.gui.workers import GeneratorWorker

ARCH_SETTING = "model.arch"  # project setting: the architecture new models are trained with
EXPORT_CHOICES = {"ONNX + TorchScript": ["onnx", "torchscript"], "ONNX": ["onnx"], "TorchScript": ["torchscript"]}


class ModelPanel(QWidget):
    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.mapping: dict[int, int] | None = None  # model -> project class ids, when confirmed
        self.follow_best = True  # use the project's newest best model until the person picks one
        self.worker: GeneratorWorker | None = None
        self._training_hold: TrainingHold | None = None
        self._running = False  # from start until the worker's finished signal reached this thread
        self._build()
        state.project_opened.connect(self._on_project_opened)
        state.project_closed.connect(lambda: self.set_model(None))
        state.model_changed.connect(self._on_model_changed)
        state.image_changed.connect(lambda _image_id: self._update())
        self._describe(state.model)
        self._update()

    # -------------------------------------------------------------------- layout
    def _build(self) -> None:
        from segstudio.core.models.registry import ARCHITECTURES, DEFAULT_ARCH

        self.model_label = QLabel("No model")
        self.model_label.setWordWrap(True)
        self.arch_combo = QComboBox()
        for spec in ARCHITECTURES.values():
            self.arch_combo.addItem(spec.name, spec.name)
            self.arch_combo.setItemData(self.arch_combo.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole)
        self.arch_combo.setCurrentText(DEFAULT_ARCH)
        self.arch_combo.setToolTip("Architecture for new models and for imported state dicts")
        self.arch_combo.currentTextChanged.connect(self._on_arch_chosen)
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
        self.load_button.setToolTip("Use a model bundle folder (model.json + weights.safetensors)")
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
        layout = QVBoxLayout(self)
        layout.addWidget(self.model_label)
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
        has_model = self.state.model is not None
        self.load_button.setEnabled(not busy)
        self.import_button.setEnabled(not busy)
        self.export_button.setEnabled(has_model and not busy)
        # enabled without a model too: a click then follows the project's best model or says what to do
        self.current_button.setEnabled(writable and not busy and self.state.image_id is not None)
        self.all_button.setEnabled(writable and not busy)
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)

    # --------------------------------------------------------------------- model
    def _on_project_opened(self, project) -> None:
        saved = project.get_setting(ARCH_SETTING)
        if saved:
            self.arch_combo.setCurrentText(saved)
        self.follow_best = True
        best = project.best_model()
        if best is not None:  # loading imports torch: in the background, the window stays live
            self._start(lambda stop: _load_in_background(best.path), "Loading the project's best model",
                        self._adopt_loaded)
        self._update()

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

    def _refresh_best(self) -> None:
        """Follow the project's best model (training keeps new ones) unless the person chose another."""
        best = self.state.project.best_model() if self.follow_best else None
        current = self.state.model
        if best is not None and (current is None or current.version != best.version):
            self.load_bundle(best.path, follow_best=True)

    def _on_arch_chosen(self, arch: str) -> None:
        project = self.state.project
        if project is not None and not getattr(project, "readonly", False):
            project.set_setting(ARCH_SETTING, arch)

    def _on_device_chosen(self, name: str) -> None:
        self.state.device_preference = None if name == "auto" else name

    def _on_model_changed(self, bundle) -> None:
        if bundle is not self.state.model:
            self.state.model = bundle
        self._describe(bundle)
        self._update()

    def _describe(self, bundle) -> None:
        if bundle is None:
            self.model_label.setText("No model: train one, or load or import a model bundle.")
            return
        version = f"{bundle.version} " if bundle.version else ""
        miou = bundle.metrics.get("val_miou") if bundle.metrics else None
        score = f", validation mIoU {miou:.3f}" if isinstance(miou, (int, float)) else ""
        mapped = " (classes mapped by name)" if self.mapping else ""
        self.model_label.setText(f"Model {version}({bundle.arch}){score}: {', '.join(bundle.class_names)}{mapped}")

    def set_model(self, bundle, mapping: dict[int, int] | None = None) -> None:
        self.mapping = mapping
        self.state.model = bundle
        self.state.model_changed.emit(bundle)

    def load_bundle(self, folder: str | Path, *, follow_best: bool = False) -> bool:
        """Load a bundle; a bundle for other classes needs the person's yes to map them by name."""
        from segstudio.core.errors import SegStudioError
        from segstudio.core.models import ModelBundle

        try:
            bundle = ModelBundle.load(folder)
            mapping = self._confirm_classes(bundle)
        except SegStudioError as exc:
            self.state.error.emit(str(exc))
            return False
        self.follow_best = follow_best
        self.set_model(bundle, mapping)
        self.state.message.emit(f"Model {bundle.version or Path(folder).name} loaded")
        return True

    def _confirm_classes(self, bundle) -> dict[int, int] | None:
        project = self.state.project
        if project is None:
            return None
        from segstudio.core.errors import ModelError

        try:
            return bundle.mapping_to(project.class_names())
        except ModelError as refusal:
            answer = QMessageBox.question(self, "Classes differ", f"{refusal}\n\nMap the classes by name?")
            if answer != QMessageBox.StandardButton.Yes:
                raise
            return bundle.mapping_to(project.class_names(), allow_mapping=True)

    def choose_bundle(self) -> None:
        start = str(self.state.project.models_dir) if self.state.project is not None else ""
        folder = QFileDialog.getExistingDirectory(self, "Load a model bundle (folder with model.json)", start)
        if folder:
            self.load_bundle(folder)

    def choose_import(self) -> None:
        """A TorchScript file or a state dict (for the chosen architecture), with the project's classes."""
        from segstudio.core.errors import SegStudioError
        from segstudio.core.models import import_model

        project = self.state.project
        if project is None:
            self.state.error.emit("Open a project first: an imported model takes the project's classes.")
            return
        path, _ = QFileDialog.getOpenFileName(self, "Import a model", "",
                                              "Models (*.pt *.pth *.safetensors *.torchscript);;All files (*)")
        if not path:
            return
        try:
            bundle = import_model(path, classes=project.classes(), arch=self.arch_combo.currentText())
            bundle.version = project.new_model_version()
            bundle.save(project.models_dir / bundle.version)
            project.register_model(bundle.version, bundle.arch, {"imported_from": Path(path).name}, best=False)
        except SegStudioError as exc:
            self.state.error.emit(str(exc))
            return
        self.follow_best = False
        self.set_model(bundle)
        self.state.message.emit(f"Imported {Path(path).name} as model {bundle.version}")

    def choose_export(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the model to a folder")
        if folder:
            self.export_to(folder, EXPORT_CHOICES[self.export_combo.currentText()])

    def export_to(self, folder: str | Path, formats: list[str]) -> None:
        from segstudio.core.model_export import export_bundle

        bundle = self.state.model
        self._start(lambda stop: export_bundle(bundle, folder, formats, stop=stop), "Exporting",
                    lambda paths: f"Exported to {', '.join(p.name for p in paths)}" if paths else "Export cancelled")

    # ----------------------------------------------------------------- proposals
    def propose_current(self) -> None:
        if self.state.image_id is not None:
            self._propose([self.state.image_id])

    def propose_unreviewed(self) -> None:
        from segstudio.core.project import Status

        ids = [record.id for record in self.state.project.images(status=Status.NEW)]
        if self.state.image_id is not None and self.state.image_id not in ids and self._image_is_new():
            ids.insert(0, self.state.image_id)
        if not ids:
            self.status.setText("Every image has been reviewed.")
            return
        self._propose(ids)

    def _image_is_new(self) -> bool:
        from segstudio.core.project import Status

        return self.state.project.image(self.state.image_id).status == Status.NEW

    def _propose(self, image_ids: list[int]) -> None:
        from segstudio.core.device import pick_device
        from segstudio.core.errors import SegStudioError
        from segstudio.core.inference import propose_images

        self._refresh_best()
        if self.state.model is None:
            self.status.setText("No model yet: train one (Training dock), or load or import a model.")
            return
        try:
            device = pick_device(self.state.device_preference)
        except SegStudioError as exc:
            self.state.error.emit(str(exc))
            return
        project, bundle, mapping, crf = self.state.project, self.state.model, self.mapping, self.crf_box.isChecked()
        self._applied = 0
        self._start(lambda stop: propose_images(project, bundle, image_ids, device=device, crf=crf, mapping=mapping,
                                                stop=stop),
                    f"Proposing on {device}", self._proposals_summary)

    def _proposals_summary(self, result) -> str:
        if result is None:
            return f"Cancelled after {self._applied} images"
        done, problems = result
        text = f"Proposals applied to {self._applied} of {done} images"
        return text + (f"; {len(problems)} could not be read: {problems[0]}" if problems else "")

    def _apply(self, proposal) -> None:
        """On the GUI thread: one undoable edit through the open document, else straight to the project."""
        from segstudio.core.inference import apply_prediction

        editing = proposal.image_id == self.state.image_id and self.state.document is not None
        apply_prediction(self.state.project, self.state.document if editing else None, proposal.image_id,
                         proposal.prediction)
        self._applied += 1
        self.state.images_changed.emit()

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
