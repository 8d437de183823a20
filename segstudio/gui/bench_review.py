"""Review benchmark: the real window on a project of N images, offscreen, every review action timed.

`segstudio bench review --images N [--json]` builds a project of N small images with mixed
statuses (segstudio.bench.review.make_project), opens it in the real `MainWindow` (offscreen)
and times, each from the action to the paint it causes:
- open: `open_project` until the first image is painted on the canvas (open_s);
- switch: a click on another row of the list until that image is painted;
- done -> next: the "done" shortcut (looked up in the window's actions: Ctrl+Return) sent as a
  key press, until the next unreviewed image is painted (done_to_next_*);
- D (next image in the list), next unreviewed, next most uncertain: their shortcuts likewise;
- sort, search, filter: the list's controls until the list is painted again;
- after a background proposal pass: the list read again (`images_changed`, what training and the
  instant tier send after a pass), and one applied proposal (`image_updated`, what "propose on
  all unreviewed" sends per image), each until the list is painted.
p50 and p95 per action; the SQL behind them without Qt is timed too (core_*).
Only the standard library is imported at module level (the CLI imports this to parse options).
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("--images", type=int, default=10_000, help="images in the project (default 10,000)")
    parser.add_argument("--repeats", type=int, default=30, help="times each action is timed (default 30)")
    parser.add_argument("--keep", type=Path, default=None, help="build the project here and keep it (else a temp folder)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="segstudio-bench-review-") as temp:
        QCoreApplication.setOrganizationName("SegStudioBench")
        QCoreApplication.setApplicationName("SegStudioBenchReview")
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(Path(temp) / "settings"))
        QSettings().setValue("instant/enabled", False)  # no background rounds between the timed actions
        root = args.keep or Path(temp) / "project"
        figures = _bench(app, root, args.images, args.repeats, say=(lambda _t: None) if args.json else print)
    if args.json:
        print(json.dumps(figures))
    return 0


def _bench(app, root: Path, n: int, repeats: int, say) -> dict:
    from PySide6.QtCore import QEvent, QObject, Qt
    from PySide6.QtTest import QTest

    from segstudio.bench.review import core_figures, make_project, summary
    from segstudio.gui.main_window import MainWindow

    start = time.perf_counter()
    with make_project(root, n) as project:
        build_s = time.perf_counter() - start
        figures: dict = {"images": n, "build_s": round(build_s, 2), **core_figures(project)}
    say(f"project of {n:,} images built in {build_s:.1f} s")

    class Paints(QObject):
        count = 0

        def eventFilter(self, _watched, event):
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    window = MainWindow()
    window.resize(1200, 800)
    window.show()
    QTest.qWaitForWindowExposed(window)
    deadline = time.perf_counter() + 60
    while not hasattr(window, "optional") and time.perf_counter() < deadline:  # torch panels: not timed
        app.processEvents()
    canvas_paints, list_paints = Paints(), Paints()
    window.canvas.installEventFilter(canvas_paints)
    panel = window.image_list
    panel.view.viewport().installEventFilter(list_paints)

    def until_painted(counter: Paints, action) -> float:
        before = counter.count
        begin = time.perf_counter()
        action()
        limit = begin + 30
        while counter.count == before and time.perf_counter() < limit:
            app.processEvents()
        return time.perf_counter() - begin

    figures["open_s"] = round(until_painted(canvas_paints, lambda: window.open_project(root)), 3)
    window.activateWindow()
    say(f"open to first paint: {figures['open_s']:.3f} s")
    ids = panel.model.ids
    rng = random.Random(7)

    def press(name: str):
        combo = getattr(window.actions, name).shortcut()[0]
        return lambda: QTest.keyClick(window.canvas, combo.key(), combo.keyboardModifiers())

    def timed(name: str, counter: Paints, make_action) -> None:
        times = [until_painted(counter, make_action()) for _ in range(repeats)]
        figures.update(summary(name, times))
        say(f"{name:<22} p50 {figures[name + '_p50_ms']:8.2f} ms   p95 {figures[name + '_p95_ms']:8.2f} ms")

    def click_row():
        row = rng.randrange(len(ids))
        panel.view.scrollTo(panel.model.index(row))
        app.processEvents()
        rect = panel.view.visualRect(panel.model.index(row))
        return lambda: QTest.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())

    timed("switch", canvas_paints, click_row)
    timed("next_image", canvas_paints, lambda: press("next_image"))
    done_before = window.state.project.status_counts()["done"]
    timed("done_to_next", canvas_paints, lambda: press("done"))
    figures["marked_done"] = window.state.project.status_counts()["done"] - done_before  # the key did mark them
    timed("next_unreviewed", canvas_paints, lambda: press("next_unreviewed"))
    timed("next_uncertain", canvas_paints, lambda: press("next_uncertain"))
    orders = [panel.order.itemData(i) for i in range(panel.order.count())]
    order_cycle = iter(orders[1:] + orders * repeats)
    timed("sort", list_paints, lambda: (lambda order=next(order_cycle): panel.order.setCurrentIndex(panel.order.findData(order))))
    panel.order.setCurrentIndex(0)
    timed("search", list_paints, lambda: (lambda text=f"_{rng.randrange(100):02d}": panel.search.setText(text)))
    panel.search.clear()
    statuses = list(range(panel.status_filter.count()))
    status_cycle = iter(statuses[1:] + statuses * repeats)
    timed("filter", list_paints, lambda: (lambda index=next(status_cycle): panel.status_filter.setCurrentIndex(index)))
    panel.status_filter.setCurrentIndex(0)
    timed("list_after_proposals", list_paints, lambda: window.state.images_changed.emit)
    proposed = window.state.project

    def one_proposal():
        top = max(0, panel.view.rowAt(0))  # rows on screen: the update must be painted
        image_id = panel.model.ids[min(len(panel.model.ids) - 1, top + rng.randrange(5))]
        proposed.set_uncertainty(image_id, rng.random())
        return lambda: window.state.image_updated.emit(image_id)

    timed("proposal_row_update", list_paints, one_proposal)
    figures["done_to_next_ms_budget"] = 50
    window.session.close_project()
    window.close()
    window.deleteLater()
    app.processEvents()
    return figures
