"""The active comparison benchmark at a tiny scale: both strategies settle the leaderboard, and the latency leg
serves and stores every judgment on an active queue."""

from __future__ import annotations

import json

from benchmarks import active


def test_active_benchmark_reports_both_medians_the_saving_and_next_item_latency(capsys, monkeypatch):
    monkeypatch.setattr(active, "HALF_WIDTH", 60.0)
    monkeypatch.setattr(active, "CALLS", 120)
    active.main(["--versions", "4", "--seeds", "1", "--prompts", "100", "--latency-judgments", "3000"])
    output = capsys.readouterr().out
    figures = json.loads(output.strip().splitlines()[-1])
    assert (figures["versions"], figures["seeds"]) == (4, 1)
    assert figures["random_median"] > 0 and figures["active_median"] > 0
    assert figures["saving"] == round(1 - figures["active_median"] / figures["random_median"], 3)
    assert figures["latency_judgments"] == 3000 + 120
    assert figures["next_p95_ms"] > 0 and figures["refreshing_submit_median_ms"] > 0
    assert "median judgments until every rating is within +-60 points and the order is right" in output
