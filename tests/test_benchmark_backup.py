"""The backup benchmark at a tiny scale: a backup and a restore of a built store, every table's rows back."""

from __future__ import annotations

import json

import pytest

from benchmarks import backup
from tests.required import postgres_server, unavailable


def test_backup_benchmark_restores_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    server, why_not = postgres_server()
    backup.main(["--scale", "3000"] + (["--database-url", server] if server else []))
    output = capsys.readouterr().out
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures["checks_ok"]
    for db in ["sqlite", "postgres"] if server else ["sqlite"]:
        assert figures[f"{db}_restored_rows_equal"] and figures[f"{db}_rows"] >= figures[f"{db}_judgments"] > 0
        assert figures[f"{db}_backup_rows_per_s"] > 0 and figures[f"{db}_restore_rows_per_s"] > 0
    assert "check: every table restored with the original's row count: PASS" in output
    if server is None:  # SQLite ran; PostgreSQL did not
        unavailable("POSTGRES", why_not)
