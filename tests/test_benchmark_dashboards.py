"""The dashboards benchmark at a tiny scale (SQLite only): every cold figure from a fresh process, the checks in the
final JSON line."""

from __future__ import annotations

import json

import pytest

from benchmarks import dashboards


def test_dashboard_benchmark_times_the_kpi_page_cold_in_a_fresh_process(capsys: pytest.CaptureFixture[str]) -> None:
    dashboards.main(["--scale", "12000", "--sqlite-only"])
    output = capsys.readouterr().out
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures["checks_ok"]
    assert figures["sqlite_judgments"] > 0 and figures["sqlite_kpi_judgments_in_range"] > 0
    # the loop latency ran over real versions: three moderation retrains and ten reward runs, with their judgments
    assert figures["sqlite_loop_latency_versions"] == 13 and figures["sqlite_loop_latency_judgments"] > 0
    # the cold page run includes the imports a warm process has already paid: it cannot be faster than a warm run
    assert figures["sqlite_kpi_page_cold_s"] * 1000 > figures["sqlite_kpi_page_warm_ms"]
    assert figures["sqlite_kpi_page_cold_peak_rss_mb"] > 0
    assert "KPI page, cold: first run in a fresh process" in output
    assert "sqlite: KPI page cold" in output
