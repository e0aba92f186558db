"""The import benchmark at a tiny scale, and its floor by the importer's own method (indexes dropped and rebuilt)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import make_url

from benchmarks import imports
from benchmarks.common import fresh_sqlite
from core.ingest import bulk


def test_import_benchmark_checks_every_leg_and_prints_no_peer_figure(capsys: pytest.CaptureFixture[str]) -> None:
    imports.main(["--scale", "2000"])
    output = capsys.readouterr().out
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures["rows"] == 2000 and figures["checks_ok"]
    # below bulk.MIN_ROWS the importer keeps its indexes, and so does the floor
    assert figures["floor_indexes_rebuilt"] == 0
    assert figures["sqlite_rows_per_s"] > 0 and figures["ratio_to_floor"] > 0
    assert figures["meets_targets"] == (figures["meets_target_rows_per_s"] and figures["meets_target_peak_rss"])
    assert "Label Studio" not in output and "tasks/s" not in output


def test_the_floor_drops_and_rebuilds_the_importers_indexes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rows.jsonl"
    imports.write_moderation_file(path, 12_000)
    url = fresh_sqlite(tmp_path, "floor.db")
    db = sqlite3.connect(make_url(url).database)
    before = imports.secondary_indexes(db, imports.BULK_TABLES)
    db.close()
    monkeypatch.setattr(bulk, "MIN_ROWS", 10_000)
    inserted, rebuilt = imports.floor_insert(url, path)
    db = sqlite3.connect(make_url(url).database)
    after = imports.secondary_indexes(db, imports.BULK_TABLES)
    (items,) = db.execute("SELECT count(*) FROM moderation_item").fetchone()
    db.close()
    assert inserted == items == 12_000
    assert rebuilt == len(before) > 0 and after == before
