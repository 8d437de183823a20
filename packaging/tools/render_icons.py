"""Render resources/icons/segstudio.svg to the PNG sizes desktops ask for (16 to 512 px).

Uses Qt's own SVG renderer, so no extra tool is needed:

    QT_QPA_PLATFORM=offscreen python packaging/tools/render_icons.py

Writes resources/icons/segstudio-<size>.png, the freedesktop hicolor tree under
packaging/linux/icons/hicolor/<size>x<size>/apps/ (plus scalable/apps/ with the SVG), and the
Windows .ico and macOS .icns that the PyInstaller spec uses (written by Pillow).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
REPO = Path(__file__).resolve().parents[2]
SVG = REPO / "resources" / "icons" / "segstudio.svg"
HICOLOR = REPO / "packaging" / "linux" / "icons" / "hicolor"
APP_ID = "io.github.segstudio.SegStudio"


def render(renderer: QSvgRenderer, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def write_platform_icons() -> None:
    from PIL import Image

    largest = Image.open(SVG.with_name(f"segstudio-{max(SIZES)}.png"))
    ico = REPO / "packaging" / "windows" / "segstudio.ico"
    icns = REPO / "packaging" / "macos" / "segstudio.icns"
    for path in (ico, icns):
        path.parent.mkdir(parents=True, exist_ok=True)
    largest.save(ico, sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    largest.save(icns)  # Pillow derives the 16..512 px members itself


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv)  # noqa: F841 - QPainter needs it
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        sys.exit(f"cannot render {SVG}")
    for size in SIZES:
        image = render(renderer, size)
        if not image.save(str(SVG.with_name(f"segstudio-{size}.png"))):
            sys.exit(f"cannot write the {size} px icon")
        target = HICOLOR / f"{size}x{size}" / "apps"
        target.mkdir(parents=True, exist_ok=True)
        image.save(str(target / f"{APP_ID}.png"))
    scalable = HICOLOR / "scalable" / "apps"
    scalable.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SVG, scalable / f"{APP_ID}.svg")
    write_platform_icons()
    print(f"rendered {len(SIZES)} sizes from {SVG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
