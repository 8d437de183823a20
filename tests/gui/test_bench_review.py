"""`segstudio bench review` runs end to end on a small project and reports every action (no timing asserted)."""

from __future__ import annotations

import argparse
import json


def test_bench_review_reports_every_action(qapp, capsys):
    from segstudio.gui import bench_review

    parser = argparse.ArgumentParser()
    bench_review.add_arguments(parser)
    assert bench_review.run(parser.parse_args(["--images", "60", "--repeats", "2", "--json"])) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("open_s", "done_to_next_p95_ms", "switch_p95_ms", "sort_p95_ms", "search_p95_ms", "filter_p95_ms",
                "next_unreviewed_p95_ms", "next_uncertain_p95_ms", "list_after_proposals_p95_ms"):
        assert figures[key] >= 0, key
    assert figures["marked_done"] == 2  # the done shortcut did mark the images
