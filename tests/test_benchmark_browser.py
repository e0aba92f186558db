"""The browser benchmark at a tiny scale: real Chromium reviewers by keys and by mouse, every rating in the store,
and one JSON line at the end."""

from __future__ import annotations

import json

import pytest

from benchmarks import browser

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_the_browser_benchmark_times_both_paths_and_loses_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        browser.main(["--scale", "2000", "--reviewers", "2", "--seconds", "4", "--think", "0.2"])
    output = capsys.readouterr().out
    figures = json.loads(output.strip().splitlines()[-1])
    assert ended.value.code == 0, output
    for path in ("keys", "click"):
        for count in (1, 2):
            assert figures[f"{path}_{count}_ratings"] > 0 and figures[f"{path}_{count}_errors"] == 0
            assert 0 < figures[f"{path}_{count}_p50_ms"] <= figures[f"{path}_{count}_p95_ms"]
    assert figures["ratings_made"] == figures["ratings_stored"] > 0 and figures["lost"] == 0
    assert "check: ratings made" in output and "PASS" in output
