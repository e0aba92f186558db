"""The report benchmark at a tiny scale (SQLite only): the A/B report and page (the page's first run in a process of
its own), then the dashboards' part; the checks in the final JSON line."""

from __future__ import annotations

import json

import pytest

from benchmarks import reports


def test_report_benchmark_ranks_every_version_and_checks_both_parts(capsys: pytest.CaptureFixture[str]) -> None:
    reports.main(["--scale", "12000", "--sqlite-only"])
    output = capsys.readouterr().out
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures["checks_ok"] and figures["reports_checks_ok"] and figures["dashboards_checks_ok"]
    assert figures["sqlite_ab_report_leaderboard_versions"] == reports.VERSIONS
    assert figures["sqlite_ab_report_comparisons_of_pair"] > 0
    assert figures["sqlite_page_cold_s"] * 1000 > figures["sqlite_page_warm_p50_ms"] > 0
    assert "postgres_ab_report_s" not in figures and "dashboards_postgres_judgments" not in figures
    assert "page, first run in a fresh process (s)" in output
