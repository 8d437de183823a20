"""`segstudio bench open` runs end to end on tiny sizes and reports every figure (no timing asserted)."""

from __future__ import annotations

import json

from segstudio.bench.open import FORMATS
from segstudio.cli import main


def test_bench_open_prints_every_figure_as_json(capsys):
    assert main(["bench", "open", "--sizes", "64,2048", "--repeat", "1", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    for tag in ("64", "2k"):
        expected = {f"open_{tag}_s", f"read_masks_{tag}_s", f"write_masks_{tag}_s"}
        for fmt in FORMATS:
            expected |= {f"probe_{fmt}_{tag}_s", f"read_image_{fmt}_{tag}_s", f"open_{fmt}_{tag}_s"}
        assert expected <= set(figures)
    assert set(figures) == {key for key in figures if key.endswith(("_64_s", "_2k_s"))}
    assert all(value > 0 for value in figures.values())
    assert figures["open_2k_s"] == figures["open_jpeg_2k_s"]


def test_bench_open_prints_lines_and_refuses_bad_sizes(capsys):
    assert main(["bench", "open", "--sizes", "48", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "48 x 48" in out and "read_image" in out and "open (image + masks)" in out
    assert main(["bench", "open", "--sizes", "8k"]) == 2
    assert "--sizes" in capsys.readouterr().err
