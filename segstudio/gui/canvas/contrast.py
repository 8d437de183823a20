"""Display limits (contrast) of grey and deep images: automatic per image, or chosen for the project.

Automatic is the core's choice (`to_picture`): 16-bit and float images stretched between their
0.5th and 99.5th percentiles, 8-bit grey shown as stored. Limits the person chooses hold for
every image of the project (so images of one experiment compare), are remembered per project in
QSettings (a view choice, like hidden classes), and are used by the image list's thumbnails too.
8-bit colour photos are always shown as stored. The limits change only what is shown (and what
the wand and GrabCut see, which is what the person sees); never the pixels a model reads.
"""

from __future__ import annotations

import weakref

import numpy as np
from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtWidgets import QToolButton

from segstudio.core.imageio import read_image
from segstudio.core.imageio.display import adjustable

KEY = "display_limits/{root}"  # QSettings: [low, high] of a project, absent when automatic
APPLY_DELAY_MS = 120  # typing or dragging in the dialog re-renders at most this often

_thumbnail_limits: tuple[float, float] | None = None  # read by the thumbnail threads


def thumbnail_limits() -> tuple[float, float] | None:
    """The open project's chosen limits, or None (automatic): for the image list's thumbnails."""
    return _thumbnail_limits


def thumbnail_display(path: str) -> np.ndarray:
    """A file's picture as the canvas shows it (same limits; grey as H x W x 1), for a thumbnail."""
    return read_image(path).picture_with(_thumbnail_limits)


def format_limits(limits: tuple[float, float], raw: np.ndarray | None) -> str:
    floats = raw is not None and raw.dtype.kind == "f"
    return "  \u2013  ".join(f"{v:.4g}" if floats else f"{v:.0f}" for v in limits)


class Contrast(QObject):
    """The limits of the open project, applied to the canvas, the tools and the thumbnails."""

    changed = Signal(object)  # (low, high) or None for automatic

    def __init__(self, window):
        super().__init__(window)
        self.window = weakref.proxy(window)  # no cycle through the window (docs/architecture.md, threads)
        self.limits: tuple[float, float] | None = None
        self.button = QToolButton(autoRaise=True, toolTip="Display limits of grey and 16-bit images (Ctrl+Shift+C)")
        self.button.setObjectName("contrast_button")
        self.button.hide()
        self._pending = QTimer(self, singleShot=True, interval=APPLY_DELAY_MS)
        self._pending.timeout.connect(self._apply)
        window.status.addPermanentWidget(self.button)
        window.actions.contrast.triggered.connect(self._open_dialog)
        self.button.clicked.connect(window.actions.contrast.trigger)
        window.state.project_opened.connect(self._project_opened)
        window.state.project_closed.connect(lambda: self._project_opened(None))
        window.session.document_replaced.connect(lambda _document: self._describe())

    def _open_dialog(self) -> None:
        from segstudio.gui.contrast_dialog import open_contrast_dialog

        open_contrast_dialog(self.parent())  # the window itself: Qt takes no proxy as a parent

    @property
    def raw(self) -> np.ndarray | None:
        image = self.window.session.image
        return image.raw if image is not None and self.window.state.document is not None else None

    def applies(self) -> bool:
        return self.raw is not None and adjustable(self.raw)

    def display_for(self, image) -> np.ndarray:
        """What the canvas (and the wand, GrabCut) shows for a LoadedImage: its own picture, or one
        with the chosen limits; grey pictures stay one channel (core.imageio.to_picture)."""
        return image.picture_with(self.limits)

    def automatic(self) -> tuple[float, float] | None:
        """The limits the open image gets when none are chosen."""
        from segstudio.core.imageio.display import display_range

        raw = self.raw
        if raw is None:
            return None
        return (0.0, 255.0) if raw.dtype == np.uint8 else display_range(raw[:, :, :3] if raw.shape[2] >= 3 else raw[:, :, :1])

    def shown(self) -> tuple[float, float] | None:
        return self.limits if self.limits is not None else self.automatic()

    def set_limits(self, limits: tuple[float, float] | None) -> None:
        """Choose limits for every image of the project (None: automatic again); shown shortly."""
        global _thumbnail_limits
        if limits is not None:
            low, high = float(limits[0]), float(limits[1])
            limits = (low, high) if high > low else (low, low + (1e-6 if low != int(low) else 1.0))
        if limits == self.limits:
            return
        self.limits = _thumbnail_limits = limits
        project = self.window.state.project
        if project is not None:
            key = KEY.format(root=project.root)
            QSettings().setValue(key, list(limits)) if limits is not None else QSettings().remove(key)
        self._pending.start()
        self.changed.emit(limits)

    def _apply(self) -> None:
        image = self.window.session.image
        if image is not None and self.window.state.document is not None and adjustable(image.raw):
            display = self.display_for(image)
            self.window.canvas.set_image(display)
            self.window.tools.ctx.image = display
        self.window.image_list.model.forget_thumbnails()
        self._describe()

    def _project_opened(self, project) -> None:
        global _thumbnail_limits
        stored = QSettings().value(KEY.format(root=project.root)) if project is not None else None
        try:
            limits = (float(stored[0]), float(stored[1])) if isinstance(stored, list) and len(stored) == 2 else None
        except (TypeError, ValueError):
            limits = None
        self.limits = _thumbnail_limits = limits
        self._describe()

    def _describe(self) -> None:
        """The status bar's button: the limits in use, for images they apply to."""
        shown = self.shown() if self.applies() else None
        self.button.setVisible(shown is not None)
        if shown is not None:
            mode = "auto " if self.limits is None else ""
            self.button.setText(f"Contrast {mode}{format_limits(shown, self.raw)}")
