"""`segstudio bench edits` runs end to end on tiny sizes and reports every figure (no timing asserted)."""

from __future__ import annotations

import json

from segstudio.cli import main


def test_bench_edits_prints_its_figures_as_json(capsys):
    assert main(["bench", "edits", "--size", "300", "--dabs", "40", "--step", "25", "--read-size", "48", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["size"] == 300 and figures["dabs"] == 40
    assert 0 < figures["dab_ms"]["p50"] <= figures["dab_ms"]["max"]
    assert figures["undo_mib"] > 0  # the stroke was kept for undo
    assert set(figures["read"]) == {"rgb.jpg", "rgb.png", "grey16.png"}
    assert all(read["read_s"] > 0 for read in figures["read"].values())


def test_bench_edits_prints_lines(capsys):
    assert main(["bench", "edits", "--size", "200", "--dabs", "10", "--read-size", "0"]) == 0
    out = capsys.readouterr().out
    assert "dab (numpy work)" in out and "undo keeps" in out and "probe" not in out
