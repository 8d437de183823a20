"""The Training dock: start / pause / stop, continuous mode, and live curves.

Loss per step and validation mIoU plus per-class IoU per epoch are drawn with pyqtgraph; the
curves are redrawn at most a few times a second whatever the step rate, so plotting never
competes with painting. "Train continuously while I annotate" keeps the trainer alive when
its patience runs out: images reviewed meanwhile start a new round. Torch is imported only
when training starts, so the panel costs nothing at launch.

Its settings are the project's (segstudio.core.training.settings: the architecture chosen in
the Model dock, patience here), it says which model is best and which proposes in the same
words as the Model dock, and it lists images whose labels were flagged as suspicious.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSpinBox, QVBoxLayout, QWidget,
)

from segstudio.gui.label_flags_view import LabelFlagsView
from segstudio.gui.settings_binding import bind_setting
from segstudio.gui.training_worker import TrainingWorker, default_threads

REDRAW_MS = 250


class TrainingPanel(QWidget):
    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.worker: TrainingWorker | None = None
        self._loss: tuple[list[float], list[float]] = ([], [])
        self._miou: tuple[list[float], list[float]] = ([], [])
        self._class_iou: dict[str, tuple[list[float], list[float]]] = {}
        self._class_curves: dict[str, pg.PlotDataItem] = {}
        self._dirty = False
        self._build()
        self._redraw_timer = QTimer(self, interval=REDRAW_MS, timeout=self._redraw)
        state.project_opened.connect(self._on_project_opened)
        state.project_closed.connect(self._on_project_closed)
        state.models_changed.connect(self._describe_models)
        self._update_buttons()
        self._describe_models()

    # -------------------------------------------------------------------- layout
    def _build(self) -> None:
        self.start_button = QPushButton("Start training")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.stop_button = QPushButton("Stop")
        self.start_button.clicked.connect(self.start)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.stop_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)
        self.continuous = QCheckBox("Train continuously while I annotate")
        self.continuous.setChecked(True)
        self.continuous.setToolTip("Keep training: images you review meanwhile join the next round.")
        self.patience = QSpinBox(minimum=1, maximum=1000, value=10)
        self.patience.setToolTip("Epochs without a surely better model before a round ends (a project setting)")
        bind_setting(self.state, self.patience, "patience", self.patience.setValue, self.patience.valueChanged)
        form = QFormLayout()
        form.addRow("Patience (epochs)", self.patience)
        self.status = QLabel("Not training")
        self.status.setWordWrap(True)
        self.best = QLabel("")
        self.best.setWordWrap(True)
        self.flags = LabelFlagsView(self.state)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setMinimumHeight(300)  # squeezed by the dock, the IoU plot was 40 pixels high
        # the titles name the x axis: "step" labels under each plot took a fifth of the height
        self.loss_plot = self.plots.addPlot(row=0, col=0, title="Training loss by step")
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen("#4aa3df", width=1))
        self.val_plot = self.plots.addPlot(row=1, col=0, title="Validation IoU by step")
        self.val_plot.setYRange(0, 1.05, padding=0)
        # three ticks: five overlapped in the docked panel's 120-pixel-high plot
        self.val_plot.getAxis("left").setTicks([[(v, f"{v:g}") for v in (0, 0.5, 1.0)]])
        # the legend has a row of its own: inside the plot it lay over the curves once a project
        # had three classes
        self.legend = pg.LegendItem(colCount=2)
        self.plots.addItem(self.legend, row=2, col=0)
        self.legend.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)  # the plots get the rest
        self.miou_curve = self.val_plot.plot(pen=pg.mkPen("w", width=2), symbol="o", symbolSize=5)
        self.legend.addItem(self.miou_curve, "mIoU")
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.continuous)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.best)
        layout.addWidget(self.flags)
        layout.addWidget(self.plots, 1)

    def _update_buttons(self) -> None:
        running = self.worker is not None and self.worker.is_running()
        has_project = self.state.project is not None and not getattr(self.state.project, "readonly", False)
        self.start_button.setEnabled(has_project and not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        if not running and self.pause_button.isChecked():
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText("Pause")
            self.pause_button.blockSignals(False)

    # ------------------------------------------------------------------- control
    def config(self):
        """The TrainConfig the panel starts with: the project's settings (the app leaves one core to the GUI)."""
        from segstudio.core.training.settings import load_settings

        return load_settings(self.state.project).train_config(
            continuous=self.continuous.isChecked(), device=self.state.device_preference, threads=default_threads(),
            deterministic=False)

    def _on_project_opened(self, project) -> None:
        self._update_buttons()
        self._describe_models()

    def _describe_models(self) -> None:
        """Best and proposing model in the Model dock's words (both ask the project)."""
        project = self.state.project
        best = project.best_model() if project is not None else None
        proposer = project.proposing_model() if project is not None else None
        if proposer is None and best is None:
            self.best.setText("No model yet." if project is not None else "")
            return
        text = f"Best model: {best.version} (validation mIoU {best.miou:.3f})" if best is not None and \
            best.miou is not None else (f"Best model: {best.version}" if best is not None else "No best model yet")
        if proposer is not None and (best is None or proposer.version != best.version):
            why = "pinned by you" if proposer.pinned else f"{proposer.kind}, the ladder's choice"
            text += f"; proposing: {proposer.version} ({why})"
        else:
            text += "; it proposes"
        self.best.setText(text)

    def start(self, config=None) -> None:
        from segstudio.core.errors import SegStudioError

        if self.state.project is None or (self.worker is not None and self.worker.is_running()):
            return
        try:
            config = config or self.config()
        except SegStudioError as exc:  # damaged settings in the project: say so, start nothing
            self.state.error.emit(str(exc))
            return
        self._clear_curves()
        self.worker = TrainingWorker(self.state.project, device=self.state.device_preference,
                                     skip_image=lambda: self.state.image_id, parent=self)
        self.worker.event.connect(self._on_event)
        self.worker.event.connect(self._on_flag)
        self.worker.model_kept.connect(self._on_model_kept)
        self.worker.proposals_refreshed.connect(self._on_proposals_refreshed)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self._on_finished)
        self.worker.state_changed.connect(self._on_state_changed)
        self.worker.start(config)
        self.status.setText("Starting: loading the reviewed images...")
        self._redraw_timer.start()
        self._update_buttons()

    def pause(self) -> None:
        self.pause_button.setChecked(True)

    def resume(self) -> None:
        self.pause_button.setChecked(False)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def shutdown(self) -> None:
        """Stop training and wait for it (the main window calls this before quitting)."""
        self.flags.shutdown()
        if self.worker is not None:
            self.worker.stop()
            self.worker.wait()

    def _on_pause_toggled(self, checked: bool) -> None:
        if self.worker is None:
            return
        if checked:
            self.worker.pause()
        else:
            self.worker.resume()
        self.pause_button.setText("Resume" if checked else "Pause")

    def _on_project_closed(self) -> None:
        self.shutdown()
        self._update_buttons()
        self._describe_models()

    # -------------------------------------------------------------------- events
    def _on_event(self, event: object) -> None:
        from segstudio.core.progress import Progress
        from segstudio.core.training.events import RoundEvent, StepEvent, ValidationEvent, WaitingEvent

        if isinstance(event, StepEvent):
            self._loss[0].append(event.step)
            self._loss[1].append(event.loss)
            self._dirty = True
            self.status.setText(f"Epoch {event.epoch + 1}, step {event.step}: loss {event.loss:.4f}")
        elif isinstance(event, ValidationEvent):
            self._miou[0].append(event.step)
            self._miou[1].append(event.miou)
            if event.verdict:  # why it was kept or not, in words
                self.status.setText(f"Epoch {event.epoch}: {event.verdict[:1].upper()}{event.verdict[1:]}")
            for name, value in event.per_class_iou.items():
                if value is not None:
                    xs, ys = self._class_iou.setdefault(name, ([], []))
                    xs.append(event.step)
                    ys.append(value)
            self._dirty = True
        elif isinstance(event, RoundEvent):
            why = "new annotations" if event.reason != "start" else "start"
            self.status.setText(f"Round {event.round + 1} ({why}): {event.train_images} training, "
                                f"{event.val_images} validation images")
        elif isinstance(event, WaitingEvent):
            self.status.setText("No gain for a while: waiting for new annotations")
        elif isinstance(event, Progress) and event.message and event.done == 0:
            self.status.setText(event.message)

    def _on_model_kept(self, version: str) -> None:
        self.state.models_changed.emit()  # the Model dock and this panel follow the project
        proposer = self.state.project.proposing_model() if self.state.project is not None else None
        if proposer is not None and proposer.version == version:
            self.state.message.emit(f"Kept a better model, {version}; refreshing proposals of unreviewed images")
        else:
            self.state.message.emit(f"Kept a better model, {version}; your pinned model keeps proposing")

    def _on_flag(self, event: object) -> None:
        from segstudio.core.training.events import LabelFlag

        if isinstance(event, LabelFlag):
            self.flags.refresh()
            self.state.images_changed.emit()
            self.state.message.emit(event.message[0].upper() + event.message[1:])

    def _on_proposals_refreshed(self, count: int) -> None:
        if count:
            self.state.images_changed.emit()
            self.state.message.emit(f"New proposals on {count} unreviewed image(s)")

    def _on_failed(self, message: str) -> None:
        self.status.setText(f"Training stopped: {message}")
        self.state.error.emit(f"Training stopped: {message}")

    def _on_finished(self, result: object) -> None:
        if result is not None:
            kept = f"; kept {', '.join(result.kept_versions)}" if result.kept_versions else "; no better model"
            self.status.setText(f"Finished ({result.reason}) after {result.steps} steps{kept}")

    def _on_state_changed(self, state: str) -> None:
        if state == "idle":
            self._redraw()
            self._redraw_timer.stop()
        self._update_buttons()

    # --------------------------------------------------------------------- plots
    def _clear_curves(self) -> None:
        self._loss = ([], [])
        self._miou = ([], [])
        self._class_iou = {}
        for item in list(self.val_plot.listDataItems()):
            if item is not self.miou_curve:
                self.val_plot.removeItem(item)
                self.legend.removeItem(item)
        self._class_curves = {}
        self._dirty = True
        self._redraw()

    def _redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.loss_curve.setData(*self._loss)
        self.miou_curve.setData(*self._miou)
        colors = {c.name: c.color for c in self.state.project.classes()} if self.state.project is not None else {}
        for name, (xs, ys) in self._class_iou.items():
            curve = self._class_curves.get(name)
            if curve is None:
                curve = self.val_plot.plot(pen=pg.mkPen(colors.get(name, (200, 200, 200)), width=1))
                self.legend.addItem(curve, name)
                self._class_curves[name] = curve
            curve.setData(xs, ys)

    def curve_lengths(self) -> dict[str, int]:
        """How many points each curve holds (what the plot shows; used by tests)."""
        return {"loss": len(self._loss[0]), "miou": len(self._miou[0]),
                **{f"iou:{name}": len(xs) for name, (xs, _) in self._class_iou.items()}}
