"""The Contrast dialog: a histogram of the open image and the display minimum and maximum.

Non-modal, so the person keeps painting while it is open. Changing a limit applies it (shortly,
while typing) to every image of the project; "Automatic" goes back to each image's own
percentile stretch. The rules and the memory are `canvas/contrast.Contrast`'s.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QPushButton, QVBoxLayout, QWidget,
)

from segstudio.core.imageio.display import DISPLAY_PERCENTILES

BINS = 128
SAMPLE_SIDE = 512  # the histogram counts about this many pixels squared


class Histogram(QWidget):
    """Counts of the image's values (log scale) with the two limits drawn over them."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(320, 90)
        self.counts: np.ndarray | None = None
        self.span = (0.0, 1.0)
        self.limits: tuple[float, float] | None = None

    def set_values(self, raw: np.ndarray | None) -> None:
        self.counts = None
        if raw is not None:
            step = max(1, max(raw.shape[:2]) // SAMPLE_SIDE)
            sample = raw[::step, ::step, : min(3, raw.shape[2])].astype(np.float64).ravel()
            sample = sample[np.isfinite(sample)]
            if sample.size:
                self.span = (float(sample.min()), float(sample.max()) if sample.max() > sample.min() else float(sample.min()) + 1)
                self.counts = np.log1p(np.histogram(sample, BINS, self.span)[0])
        self.update()

    def set_limits(self, limits: tuple[float, float] | None) -> None:
        self.limits = limits
        self.update()

    def _x(self, value: float) -> float:
        low, high = self.span
        return (value - low) / (high - low) * (self.width() - 1)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(30, 30, 34))
        if self.counts is None:
            painter.setPen(QColor(160, 160, 160))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No grey or 16-bit image open")
            return
        top = max(float(self.counts.max()), 1.0)
        width = self.width() / BINS
        for index, count in enumerate(self.counts):
            height = count / top * (self.height() - 4)
            painter.fillRect(QRectF(index * width, self.height() - height, width + 0.5, height), QColor(170, 170, 180))
        if self.limits is not None:
            painter.setPen(QPen(QColor(255, 190, 60), 2))
            for value in self.limits:
                x = min(max(self._x(value), 1.0), self.width() - 1.0)
                painter.drawLine(QRectF(x, 0, 0, self.height()).topLeft(), QRectF(x, 0, 0, self.height()).bottomLeft())


class ContrastDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.setObjectName("contrast_dialog")
        self.setWindowTitle("Contrast")
        self.contrast = window.contrast
        self._typing = False
        self.histogram = Histogram()
        self.minimum, self.maximum = QDoubleSpinBox(), QDoubleSpinBox()
        for box in (self.minimum, self.maximum):
            box.setRange(-1e12, 1e12)
            box.valueChanged.connect(self._typed)
        self.mode = QLabel()
        self.mode.setWordWrap(True)
        self.mode.setEnabled(False)
        self.automatic = QPushButton("Automatic")
        self.automatic.setToolTip("Each image stretched between its own "
                                  f"{DISPLAY_PERCENTILES[0]:g}th and {DISPLAY_PERCENTILES[1]:g}th percentiles")
        self.automatic.clicked.connect(lambda: self.contrast.set_limits(None))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.automatic, QDialogButtonBox.ButtonRole.ResetRole)
        buttons.rejected.connect(self.close)
        form = QFormLayout()
        form.addRow("Minimum (black)", self.minimum)
        form.addRow("Maximum (white)", self.maximum)
        layout = QVBoxLayout(self)
        layout.addWidget(self.histogram)
        layout.addLayout(form)
        layout.addWidget(self.mode)
        layout.addWidget(buttons)
        self.contrast.changed.connect(lambda _limits: self.refresh(values=False))
        window.session.document_replaced.connect(lambda _document: self.refresh())
        self.refresh()

    def refresh(self, values: bool = True) -> None:
        """Show the open image's histogram (`values`) and the limits in use."""
        contrast = self.contrast
        applies = contrast.applies()
        if values:
            self.histogram.set_values(contrast.raw if applies else None)
        shown = contrast.shown() if applies else None
        self.histogram.set_limits(shown)
        for box in (self.minimum, self.maximum):
            box.setEnabled(applies)
            box.setDecimals(4 if applies and contrast.raw.dtype.kind == "f" else 0)
        if shown is not None and not self._typing:  # never move a number the person is typing
            for box, value in zip((self.minimum, self.maximum), shown):
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)
        self.automatic.setEnabled(contrast.limits is not None)
        if not applies:
            self.mode.setText("This image is shown as stored: limits are for grey, 16-bit and float images.")
        elif contrast.limits is None:
            self.mode.setText("Automatic: each image is stretched between its own percentiles. "
                              "Change a limit to use it for every image of the project.")
        else:
            self.mode.setText("These limits hold for every image of the project (thumbnails too).")

    def _typed(self) -> None:
        self._typing = True
        try:
            self.contrast.set_limits((self.minimum.value(), self.maximum.value()))
        finally:
            self._typing = False


def open_contrast_dialog(window) -> ContrastDialog:
    """One dialog per window: shown again (and raised) when it is already open."""
    dialog = window.findChild(ContrastDialog)
    if dialog is None:
        dialog = ContrastDialog(window)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
