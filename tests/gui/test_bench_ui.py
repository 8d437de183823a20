"""`segstudio bench ui --quick --json` runs end to end (figures are printed, never asserted)."""

from __future__ import annotations

import json

import pytest

from segstudio.cli import main


@pytest.mark.slow
def test_bench_ui_quick_prints_every_figure(capsys):
    assert main(["bench", "ui", "--quick", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("brush_event_p95_ms_256", "brush_event_p95_ms_512", "repaint_p95_ms_512", "launch_to_window_s"):
        assert figures[key] > 0, key
    for size in ("256", "512"):  # a headline figure is its worst zoom's, not a pool of zooms
        zooms = ("zoom100", "zoomfit")
        assert figures[f"brush_event_p95_ms_{size}"] == max(figures[f"brush_event_p95_ms_{z}_{size}"] for z in zooms)
        zooms = ("zoomfit", "zoom25", "zoom50", "zoom100", "zoom400")
        assert figures[f"repaint_p95_ms_{size}"] == max(figures[f"repaint_p95_ms_{z}_{size}"] for z in zooms)
