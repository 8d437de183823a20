"""`segstudio bench display` runs end to end on a tiny image and reports every figure (no timing asserted)."""

from __future__ import annotations

import json

from segstudio.cli import main


def test_bench_display_prints_the_ratio_to_the_decode_floor(capsys):
    assert main(["bench", "display", "--side", "64", "--repeat", "2", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert {"tifffile_ms", "cv2_imread_ms", "read_image_ms", "to_picture_ms", "to_display_ms", "lookup_display_ms",
            "rgb_write_ms", "grey_write_ms", "floor_ms", "direct_read_ms"} <= set(figures)
    assert figures["floor_ms"] == min(figures["tifffile_ms"], figures["cv2_imread_ms"])
    assert figures["ratio_to_floor"] == figures["read_image_ms"] / figures["floor_ms"]
    assert main(["bench", "display", "--side", "48", "--repeat", "1"]) == 0
    assert "x the floor" in capsys.readouterr().out
    assert main(["bench", "display", "--side", "8"]) == 2
