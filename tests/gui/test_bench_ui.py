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
