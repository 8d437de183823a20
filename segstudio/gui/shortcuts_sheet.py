"""The keyboard sheet (F1 or ?): built from the action table, so it always tells the truth."""

from __future__ import annotations

from itertools import groupby

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from segstudio.gui.toolbar.actions import SPECS

GESTURES = (
    ("1 ... 9, 0", "pick the class in that row of the classes panel"),
    ("Alt + click", "pick the class under the cursor"),
    ("Wheel", "zoom about the cursor"),
    ("Ctrl + wheel", "brush size"),
    ("Space + drag, middle drag", "pan"),
    ("Esc", "cancel the polygon or box being drawn"),
    ("Right-click", "the review and edit actions (canvas), open or review an image (image list)"),
    ("Enter, double-click", "close the polygon"),
)


def sheet_html() -> str:
    rows = []
    specs = sorted(SPECS, key=lambda s: s.group)
    for group, members in groupby(specs, key=lambda s: s.group):
        rows.append(f"<tr><th colspan=2 align=left><br>{group}</th></tr>")
        for spec in members:
            if spec.shortcuts:
                keys = ", ".join(spec.shortcuts)
                rows.append(f"<tr><td><b>{keys}</b></td><td>{spec.text.replace('&', '')}</td></tr>")
    rows.append("<tr><th colspan=2 align=left><br>Canvas</th></tr>")
    rows += [f"<tr><td><b>{keys}</b></td><td>{what}</td></tr>" for keys, what in GESTURES]
    return "<table cellspacing=4>" + "".join(rows) + "</table>"


class ShortcutsSheet(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(520, 640)
        text = QTextBrowser()
        text.setHtml(sheet_html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(buttons)
