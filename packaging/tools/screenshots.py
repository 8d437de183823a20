"""Screenshots of the real app on the demo project, for the README: `make screenshots`.

Runs the same code as `segstudio demo` (demo project, training started from the Training
panel) in a throw-away folder with its own Qt settings, waits until the model's proposals
have reached the unreviewed images and a model reached --min-miou, opens one of the unreviewed
images and grabs the window. It prints how long each took:

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/tools/screenshots.py
    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python packaging/tools/screenshots.py  # real X11

Writes resources/screenshots/main-window.png (proposals + training plot) and about.png.
Look at them before committing: training on a busy machine can take longer than --timeout.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def png_bytes(widget) -> bytes:
    from PySide6.QtCore import QBuffer, QIODevice

    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().toImage().save(buffer, "PNG")
    return bytes(buffer.data())


def proposed_images(project) -> list[int]:
    from segstudio.core.project import Source, Status

    return [r.id for r in project.images(status=Status.NEW)
            if project.has_masks(r.id) and (project.read_source(r.id) == Source.PROPOSAL).any()]


def best_version(project) -> str:
    best = project.best_model()
    return best.version if best is not None else ""


def best_miou(project) -> float:
    best = project.best_model()
    return float(best.metrics.get("val_miou", 0.0)) if best is not None else 0.0


def wait_for(app, condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.05)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "resources" / "screenshots")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait in all (default 600)")
    parser.add_argument("--min-proposed", type=int, default=11, help="unreviewed images with proposals to wait for")
    parser.add_argument("--min-miou", type=float, default=0.8,
                        help="wait for a model this good (validation mIoU) before the grab (default 0.8)")
    parser.add_argument("--size", default="1500x950", help="window size, WIDTHxHEIGHT")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    from PySide6.QtCore import QSettings

    from segstudio.core.workspace.demo import prepare_demo
    from segstudio.core.atomic import atomic_write_bytes
    from segstudio.gui.app import create_application

    with tempfile.TemporaryDirectory(prefix="segstudio-screenshots-") as scratch:
        app = create_application()
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)  # never the person's own settings
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, scratch)
        from segstudio.gui.about import AboutDialog
        from segstudio.gui.demo_tour import open_demo_in
        from segstudio.gui.main_window import MainWindow

        window = MainWindow()
        window.resize(width, height)
        window.show()
        wait_for(app, lambda: "TrainingPanel" in getattr(window, "optional", {}), 10)
        if not open_demo_in(window, prepare_demo(Path(scratch) / "demo"), train=True):
            sys.exit("the demo project did not open")
        panel = window.optional["TrainingPanel"]
        started = time.monotonic()
        project = window.state.project
        refreshed: list[str] = []  # best version at each completed refresh of the proposals
        panel.worker.proposals_refreshed.connect(lambda _count: refreshed.append(best_version(project)))
        first = wait_for(app, lambda: len(proposed_images(project)) >= args.min_proposed, args.timeout)
        print(f"{len(proposed_images(project))} unreviewed images had proposals after "
              f"{time.monotonic() - started:.0f} s{'' if first else ' (timed out)'}")
        good = wait_for(app, lambda: best_miou(project) >= args.min_miou, args.timeout - (time.monotonic() - started))
        target = best_version(project)
        wait_for(app, lambda: target in refreshed, 120)  # the proposals on screen come from that model
        print(f"best model {target} (validation mIoU {best_miou(project):.3f}) after "
              f"{time.monotonic() - started:.0f} s{'' if good else ' (timed out)'}")
        proposed = proposed_images(project)
        if proposed:
            window.go_to(proposed[0])
        wait_for(app, lambda: False, 1.5)  # let the canvas and the plot redraw
        args.out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(args.out / "main-window.png", png_bytes(window))
        about = AboutDialog(window)
        about.show()
        wait_for(app, lambda: False, 0.5)
        atomic_write_bytes(args.out / "about.png", png_bytes(about))
        about.close()
        panel.shutdown()
        window.close()
        app.processEvents()
    print(f"wrote {args.out / 'main-window.png'} and {args.out / 'about.png'}")
    return 0 if proposed else 1


if __name__ == "__main__":
    sys.exit(main())
