"""UI benchmark: brush latency, viewport repaint and launch time of the real canvas, offscreen.

For each image size (4k, 8k, 16k by default) it shows the real `CanvasView` and `ToolInput`
with a synthetic image and mask, then:
- brush: sends mouse moves through Qt's event system and times each from the event to the end of
  the repaint it caused (the pixels are in the window's backing store), at 100 % and fitted zoom;
- repaint: times full-viewport repaints while panning, at several zoom levels (the first frame
  at each zoom builds its tiles and is reported on its own);
and it times a fresh `segstudio` process from start to its exposed main window.
Each zoom gets its own keys (`brush_event_p95_ms_zoomfit_16k`); the headline keys
(`brush_event_p95_ms_16k`, `repaint_p95_ms_8k`) are the worst zoom's figure, never a pool of
zooms, so one slow zoom cannot hide behind fast ones.
Wall-clock figures are the budgets; the CPU time of the same events is printed beside them, so
that on a shared machine waiting for a core can be told apart from work.
Only the standard library is imported at module level (the CLI imports this to parse options).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

SIZES = (4096, 8192, 16384)
QUICK_SIZES = (256, 512)
ZOOMS = ("fit", 0.25, 0.5, 1.0, 4.0)
VIEWPORT = (1600, 1000)


def add_arguments(parser) -> None:
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="square image sizes in pixels")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few events: proves the bench runs")
    parser.add_argument("--events", type=int, default=200, help="brush events per size and zoom (default 200)")
    parser.add_argument("--frames", type=int, default=60, help="repaints per zoom level (default 60)")
    parser.add_argument("--launches", type=int, default=3, help="app launches to time (default 3; 0 skips)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def run(args) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.quick:
        args.sizes, args.events, args.frames, args.launches = list(QUICK_SIZES), 20, 10, min(args.launches, 1)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    results: dict[str, float | int | str] = {"qt_platform": app.platformName()}
    for size in args.sizes:
        label = _size_label(size)
        say = (lambda text: None) if args.json else (lambda text: print(text, flush=True))
        say(f"{size} x {size}:")
        for key, value in _bench_size(app, size, args.events, args.frames, say).items():
            results[f"{key}_{label}"] = value
    if args.launches:
        launches = [_launch_seconds() for _ in range(args.launches)]
        results["launch_to_window_s"] = round(statistics.median(launches), 3)
        results["launch_to_window_max_s"] = round(max(launches), 3)
        if not args.json:
            print(f"launch to window: median {results['launch_to_window_s']:.2f} s, max {max(launches):.2f} s")
    if args.json:
        print(json.dumps(results, sort_keys=True))
    return 0


def _size_label(size: int) -> str:
    return f"{size // 1024}k" if size % 1024 == 0 else str(size)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def synthetic_content(size: int):
    """An RGB gradient with texture, and a mask: a painted block and an unreviewed proposal."""
    import cv2
    import numpy as np

    small = max(2, size // 16)
    yy, xx = np.mgrid[0:small, 0:small].astype(np.float32) / small
    rgb_small = np.stack([xx * 255, yy * 255, (np.sin(xx * 40) * 0.5 + 0.5) * 255], -1).astype(np.uint8)
    rgb = cv2.resize(rgb_small, (size, size), interpolation=cv2.INTER_LINEAR)
    label = np.full((size, size), 255, np.uint8)
    source = np.zeros((size, size), np.uint8)
    q = size // 8
    label[q : 3 * q, q : 5 * q] = 1
    source[q : 3 * q, q : 5 * q] = 3
    label[4 * q : 7 * q, 2 * q : 6 * q] = 0
    source[4 * q : 7 * q, 2 * q : 6 * q] = 1
    return rgb, label, source


def _bench_size(app, size: int, events: int, frames: int, say) -> dict[str, float]:
    import numpy as np
    from PySide6.QtCore import QEvent, QObject, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtTest import QTest

    from segstudio.core.document import MaskDocument
    from segstudio.gui.canvas.colorize import Palette
    from segstudio.gui.canvas.tool_input import ToolInput
    from segstudio.gui.canvas.view import CanvasView
    from segstudio.gui.state import AppState

    class PaintCounter(QObject):
        paints = 0

        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint:
                self.paints += 1
            return False

    rgb, label, source = synthetic_content(size)
    state = AppState()
    state.document = MaskDocument(1, label, source)
    state.current_class = 1
    canvas = CanvasView()
    tools = ToolInput(state, canvas)
    canvas.tool_input = tools
    tools.set_brush_size(24)
    canvas.resize(*VIEWPORT)
    canvas.show()
    QTest.qWaitForWindowExposed(canvas)
    started = time.perf_counter()
    canvas.set_content(rgb, state.document.label, state.document.source, Palette([(40, 200, 80), (230, 60, 60)]))
    state.document.add_change_listener(canvas.mask_changed)
    tools.reset(rgb)
    say(f"  load into canvas (pyramids): {(time.perf_counter() - started) * 1000:.0f} ms")
    counter = PaintCounter()
    canvas.installEventFilter(counter)
    out: dict[str, float] = {}

    def settle() -> None:
        canvas.repaint()
        app.processEvents()

    def mouse(kind: QEvent.Type, pos: QPointF, buttons) -> None:
        button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
        app.sendEvent(canvas, QMouseEvent(kind, pos, canvas.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier))

    for zoom in (1.0, "fit"):
        if zoom == "fit":
            canvas.fit()
        else:
            canvas.set_view(zoom, (size / 2, size / 2))
        settle()
        center = QPointF(VIEWPORT[0] / 2, VIEWPORT[1] / 2)
        mouse(QEvent.Type.MouseButtonPress, center, Qt.MouseButton.LeftButton)
        settle()
        times, cpu = [], []
        for i in range(events):
            angle = i * 0.15
            pos = center + QPointF(300 * np.cos(angle) * (i / events), 300 * np.sin(angle) * (i / events))
            before = counter.paints
            t0, c0 = time.perf_counter(), time.process_time()
            mouse(QEvent.Type.MouseMove, pos, Qt.MouseButton.LeftButton)
            app.processEvents()  # delivers the update request: paints the changed box
            t1, c1 = time.perf_counter(), time.process_time()
            if counter.paints > before:
                times.append((t1 - t0) * 1000)
                cpu.append((c1 - c0) * 1000)
        mouse(QEvent.Type.MouseButtonRelease, center, Qt.MouseButton.NoButton)
        settle()
        name = "100%" if zoom == 1.0 else "fit"
        say(f"  brush event -> repainted, zoom {name}: p50 {statistics.median(times):.2f} ms, p95 {percentile(times, 95):.2f} ms "
            f"(CPU time p95 {percentile(cpu, 95):.2f} ms; {len(times)} events)")
        tag = _zoom_tag(zoom)
        out[f"brush_event_p50_ms_{tag}"] = round(statistics.median(times), 3)
        out[f"brush_event_p95_ms_{tag}"] = round(percentile(times, 95), 3)
        out[f"brush_event_cpu_p95_ms_{tag}"] = round(percentile(cpu, 95), 3)
    _worst_zoom(out, "brush_event", ("p50_ms", "p95_ms", "cpu_p95_ms"), ("zoom100", "zoomfit"))
    say(f"  brush event -> repainted, worst zoom: p95 {out['brush_event_p95_ms']:.2f} ms (the headline figure)")

    first_frames: list[float] = []
    for zoom in ZOOMS:
        if zoom == "fit":
            canvas.fit()
        else:
            canvas.set_view(zoom, (size / 3, size / 3))
        t0 = time.perf_counter()
        canvas.repaint()
        first_frames.append((time.perf_counter() - t0) * 1000)
        times, cpu = [], []
        for i in range(frames):
            canvas.pan_by(-11 if (i // 20) % 2 == 0 else 11, -7)
            t0, c0 = time.perf_counter(), time.process_time()
            canvas.repaint()
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        scale = f"{canvas.scale:.3f}"
        say(f"  repaint while panning, zoom {scale} (level {canvas.level()}): p50 {statistics.median(times):.2f} ms, "
            f"p95 {percentile(times, 95):.2f} ms (CPU time p95 {percentile(cpu, 95):.2f} ms); first frame {first_frames[-1]:.1f} ms")
        tag = _zoom_tag(zoom)
        out[f"repaint_p50_ms_{tag}"] = round(statistics.median(times), 3)
        out[f"repaint_p95_ms_{tag}"] = round(percentile(times, 95), 3)
        out[f"repaint_cpu_p95_ms_{tag}"] = round(percentile(cpu, 95), 3)
    _worst_zoom(out, "repaint", ("p50_ms", "p95_ms", "cpu_p95_ms"), [_zoom_tag(zoom) for zoom in ZOOMS])
    say(f"  repaint while panning, worst zoom: p95 {out['repaint_p95_ms']:.2f} ms (the headline figure)")
    out["repaint_first_frame_max_ms"] = round(max(first_frames), 3)
    canvas.close()
    canvas.deleteLater()
    app.processEvents()
    return out


def _zoom_tag(zoom) -> str:
    return "zoomfit" if zoom == "fit" else f"zoom{round(zoom * 100)}"


def _worst_zoom(out: dict[str, float], name: str, stats: tuple[str, ...], tags) -> None:
    """Headline `name_stat` = the worst zoom's figure: pooling zooms would let a slow one hide."""
    for stat in stats:
        out[f"{name}_{stat}"] = max(out[f"{name}_{stat}_{tag}"] for tag in tags)


def _launch_seconds() -> float:
    """Seconds from starting `python -m segstudio` to its main window being exposed."""
    env = dict(os.environ, SEGSTUDIO_REPORT_SHOWN="1")
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "segstudio"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        for line in process.stdout:
            if line.startswith("window-shown"):
                elapsed = time.perf_counter() - started
                break
        else:
            raise RuntimeError("the app exited without showing its window")
    finally:
        process.wait(timeout=30)
    return elapsed
