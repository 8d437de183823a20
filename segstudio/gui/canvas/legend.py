"""The uncertainty map's legend, in the canvas's top-right corner while the map is shown.

The map is a white veil (transparent where the model is sure, whiter where it is unsure): a
colour no class gets, so it cannot be read as a label. The legend says so.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter
from PySide6.QtWidgets import QLabel, QWidget

from segstudio.gui.canvas.colorize import HEATMAP_MAX_ALPHA, HEATMAP_RGB


class HeatmapLegend(QLabel):
    BAR = 90  # pixels of the gradient bar

    def __init__(self, parent: QWidget):
        super().__init__("Model uncertainty:  sure" + " " * 30 + "unsure", parent)
        self.setObjectName("heatmap_legend")
        self.setStyleSheet("QLabel { background: rgba(20, 20, 24, 210); color: #e8e8e8; padding: 4px 8px; }")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.adjustSize()
        self.hide()

    def place(self) -> None:
        parent = self.parentWidget()
        self.move(parent.width() - self.width() - 8, 8)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        painter = QPainter(self)
        left = self.fontMetrics().horizontalAdvance("Model uncertainty:  sure ") + 8
        rect = self.rect().adjusted(left, 7, 0, -7)
        rect.setWidth(self.BAR)
        gradient = QLinearGradient(rect.topLeft().toPointF(), rect.topRight().toPointF())
        gradient.setColorAt(0, QColor(20, 20, 24))
        gradient.setColorAt(1, QColor(*HEATMAP_RGB, round(255 * HEATMAP_MAX_ALPHA)))
        painter.fillRect(rect, QColor(60, 60, 66))
        painter.fillRect(rect, gradient)
        painter.end()
