"""Where the Model dock's models come from: Load (pin a version, or add a bundle as one) and Import.

A mixin of `ModelPanel` (segstudio.gui.model_panel), kept apart so each file has one job. Every
model that proposes is a project version, so the project can say which one proposes; the one
exception is a bundle for other classes mapped by name, which proposes from memory.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox


class ModelSourcesMixin:
    def load_bundle(self, folder: str | Path) -> bool:
        """Load: a version of the project is pinned; a bundle from elsewhere becomes a new pinned version.

        A bundle for other classes needs the person's yes to map them by name; it then proposes
        from memory (not a version) until a version is pinned or followed again.
        """
        from segstudio.core.errors import ModelError, SegStudioError
        from segstudio.core.models import ModelBundle

        project = self.state.project
        try:
            bundle = ModelBundle.load(folder)
            if project is None:
                self.set_model(bundle)
                return True
            version = self._version_at(Path(folder))
            if version is None:
                try:
                    bundle.mapping_to(project.class_names())
                except ModelError:
                    mapping = self._confirm_classes(bundle)
                    self.outside = True
                    self.set_model(bundle, mapping)
                    self.state.message.emit(f"Model from {Path(folder).name} loaded")
                    return True
                version = self._add_version(bundle, {"imported_from": Path(folder).name})
            project.pin_model(version)
        except SegStudioError as exc:
            self.state.error.emit(str(exc))
            return False
        self.outside = False
        if bundle.version == version:
            self.set_model(bundle)
        self.state.models_changed.emit()
        self.state.message.emit(f"Model {version} loaded and pinned")
        return True

    def _version_at(self, folder: Path) -> str | None:
        project = self.state.project
        for record in project.models():
            if record.path.resolve() == folder.resolve():
                return record.version
        return None

    def _add_version(self, bundle, metrics: dict) -> str:
        project = self.state.project
        bundle.version = project.new_model_version()
        bundle.save(project.models_dir / bundle.version)
        project.register_model(bundle.version, bundle.arch, metrics, best=False)
        return bundle.version

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
            project.pin_model(self._add_version(bundle, {"imported_from": Path(path).name}))
        except SegStudioError as exc:
            self.state.error.emit(str(exc))
            return
        self.outside = False
        self.set_model(bundle)
        self.state.models_changed.emit()
        self.state.message.emit(f"Imported {Path(path).name} as model {bundle.version}; it proposes (pinned)")

