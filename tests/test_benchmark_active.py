"""The active comparison benchmark at a tiny scale: both strategies settle the leaderboard, and the latency leg
serves and stores every judgment on an active queue."""

from __future__ import annotations

import itertools
import json

from benchmarks import active


def test_active_benchmark_reports_both_medians_the_saving_and_next_item_latency(capsys, monkeypatch):
    monkeypatch.setattr(active, "HALF_WIDTH", 60.0)
    monkeypatch.setattr(active, "CALLS", 120)
    active.main(
        ["--versions", "4", "--seeds", "1", "--prompts", "100", "--strengths", "even", "--latency-judgments", "3000"]
    )
    output = capsys.readouterr().out
    figures = json.loads(output.strip().splitlines()[-1])
    assert (figures["versions"], figures["seeds"], figures["strengths"], figures["spacing"]) == (4, 1, "even", 50.0)
    assert figures["random_median"] > 0 and figures["active_median"] > 0
    assert figures["saving"] == round(1 - figures["active_median"] / figures["random_median"], 3)
    assert figures["latency_judgments"] == 3000 + 120
    assert figures["next_p95_ms"] > 0 and figures["refreshing_submit_median_ms"] > 0
    assert "median judgments until every rating is within +-60 points and the order is right" in output


def test_drawn_ratings_are_best_first_at_least_the_minimum_gap_apart_and_differ_by_seed():
    drawn = [active.ratings(15, "drawn", seed) for seed in (0, 1)]
    for ratings in drawn:
        gaps = [high - low for high, low in itertools.pairwise(ratings)]
        assert ratings[0] == 0 and min(gaps) >= active.MIN_GAP - 1e-9
    assert drawn[0] != drawn[1] and drawn[0] == active.ratings(15, "drawn", 0)
    assert active.ratings(3, "even", 0, spacing=50) == [0, -50, -100]
