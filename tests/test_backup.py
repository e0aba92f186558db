"""Backups and restores of the whole store: equal row for row on SQLite, PostgreSQL and from one to the other;
refusals that change nothing."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select
from sqlmodel import SQLModel

from core.cli.main import main
from core.store.backup import BackupError, backup, restore
from core.store.db import get_engine, session_scope
from core.store.models import AuditEvent, ModelVersion
from tests.app_helpers import add_admin
from tests.backup_store import AWKWARD, fill_every_table, table_rows
from tests.conftest import _empty_postgres


def fresh_sqlite(tmp_path: Path) -> Engine:
    """A store with no schema at all: the restore creates it."""
    return get_engine(f"sqlite:///{tmp_path / 'restored.db'}")


def round_trip(source: Engine, target: Engine, folder: Path, *, empty_source_first: bool = False) -> None:
    fill_every_table(source, folder.parent)
    before = table_rows(source)
    summary = backup(source, folder)
    assert summary.rows == {name: len(rows) for name, rows in before.items()}
    if empty_source_first:  # the target is the same store
        _empty_postgres(source)
        assert all(rows == [] for rows in _rows_allowing_empty(source).values())
    restored = restore(target, folder)
    assert restored.rows == summary.rows
    assert table_rows(target) == before
    # new rows get ids after the restored ones (PostgreSQL's sequences were moved past them)
    with session_scope(target, write=True) as s:
        event = AuditEvent(action="after.restore", entity="store")
        s.add(event)
        s.flush()
    assert event.id > max(row[0] for row in before["audit_event"])


def _rows_allowing_empty(engine: Engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(t)).all() for t in SQLModel.metadata.sorted_tables}


def test_fill_covers_every_table_with_awkward_values(engine, tmp_path):
    fill_every_table(engine, tmp_path)
    rows = table_rows(engine)
    assert set(rows) == set(SQLModel.metadata.tables)
    assert any(AWKWARD in row for row in rows["rating"])


def test_sqlite_to_sqlite_round_trip_is_equal_row_for_row(engine, tmp_path):
    round_trip(engine, fresh_sqlite(tmp_path), tmp_path / "backup")


@pytest.mark.postgres
def test_postgres_to_postgres_round_trip_is_equal_row_for_row(pg_engine, tmp_path):
    round_trip(pg_engine, pg_engine, tmp_path / "backup", empty_source_first=True)


@pytest.mark.postgres
def test_sqlite_to_postgres_round_trip_is_equal_row_for_row(engine, pg_engine, tmp_path):
    round_trip(engine, pg_engine, tmp_path / "backup")


@pytest.mark.postgres
def test_postgres_to_sqlite_round_trip_is_equal_row_for_row(pg_engine, tmp_path):
    round_trip(pg_engine, fresh_sqlite(tmp_path), tmp_path / "backup")


def test_backup_files_are_typed_json_lines_with_a_manifest(engine, tmp_path):
    fill_every_table(engine, tmp_path)
    backup(engine, tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    events = next(t for t in manifest["tables"] if t["name"] == "audit_event")
    assert events["columns"]["at"] == "datetime" and events["columns"]["before"] == "json"
    with gzip.open(tmp_path / "b" / events["file"], "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    assert len(rows) == events["rows"]
    assert ["2026-03-01T12:34:56.789012+00:00", "rating.update"] in [[r[1], r[3]] for r in rows]


# --- refusals: a clear message, nothing written ------------------------------------------------------------------


@pytest.fixture
def small_backup(engine, tmp_path) -> Path:
    with session_scope(engine, write=True) as s:
        s.add(ModelVersion(name="bot-ü", kind="chatbot", notes=AWKWARD))
    backup(engine, tmp_path / "small")
    return tmp_path / "small"


def test_restore_into_a_store_with_data_is_refused_and_changes_nothing(small_backup, any_engine):
    with session_scope(any_engine, write=True) as s:
        s.add(ModelVersion(name="already here", kind="chatbot"))
    before = _rows_allowing_empty(any_engine)
    with pytest.raises(BackupError, match=r"not empty \(table model_version has rows\).* nothing was restored"):
        restore(any_engine, small_backup)
    assert _rows_allowing_empty(any_engine) == before


def _restore_is_refused(folder: Path, tmp_path: Path, message: str) -> None:
    target = fresh_sqlite(tmp_path)
    with pytest.raises(BackupError, match=message):
        restore(target, folder)
    assert inspect(target).get_table_names() == []  # not even the schema was created


def test_a_changed_file_is_refused_by_its_checksum(small_backup, tmp_path):
    path = small_backup / "model_version.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as file:
        text = file.read()
    with gzip.open(path, "wt", encoding="utf-8") as file:
        file.write(text.replace("bot-ü", "bot-x"))
    _restore_is_refused(small_backup, tmp_path, "model_version.jsonl.gz does not match its sha256")


def test_a_missing_file_is_refused(small_backup, tmp_path):
    (small_backup / "prompt.jsonl.gz").unlink()
    _restore_is_refused(small_backup, tmp_path, "prompt.jsonl.gz is missing: the backup is incomplete")


def test_a_folder_without_manifest_is_refused(small_backup, tmp_path):
    (small_backup / "manifest.json").unlink()
    _restore_is_refused(small_backup, tmp_path, "manifest.json is missing")


def test_a_backup_from_an_unknown_newer_schema_is_refused(small_backup, tmp_path):
    path = small_backup / "manifest.json"
    path.write_text(path.read_text().replace('"schema_revision": "', '"schema_revision": "9'))
    _restore_is_refused(small_backup, tmp_path, "schema revision 9.* is unknown to this version")


def test_a_table_missing_from_the_manifest_is_refused(small_backup, tmp_path):
    path = small_backup / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["tables"] = [t for t in manifest["tables"] if t["name"] != "flag_triage"]
    path.write_text(json.dumps(manifest))
    _restore_is_refused(small_backup, tmp_path, r"missing: \['flag_triage'\]")


def test_a_row_the_store_refuses_rolls_back_the_whole_restore(engine, tmp_path):
    fill_every_table(engine, tmp_path)
    backup(engine, tmp_path / "b")
    # a bad backup with valid checksums: the last table's row breaks a constraint, after every other table went in
    path = tmp_path / "b" / "flag_triage.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as file:
        text = file.read()
    with gzip.open(path, "wt", encoding="utf-8") as file:
        file.write(text.replace('"dismissed"', '"bogus"'))
    manifest_path = tmp_path / "b" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = next(t for t in manifest["tables"] if t["name"] == "flag_triage")
    entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    _restore_is_refused(
        tmp_path / "b",
        tmp_path,
        r"flag_triage.jsonl.gz \(lines 1-1\) cannot be restored: .*(CHECK|ck_flag_triage_status)",
    )


def test_backup_into_a_folder_with_files_is_refused(engine, tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("mine")
    with pytest.raises(BackupError, match="not an empty folder"):
        backup(engine, tmp_path / "b")
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["keep.txt"]


# --- the commands ------------------------------------------------------------------------------------------------


def test_backup_and_restore_commands(engine, tmp_path, monkeypatch, capsys):
    with session_scope(engine, write=True) as s:
        s.add(ModelVersion(name="bot-ü", kind="chatbot"))
    add_admin(engine)  # the command acts as the store's one admin
    assert main(["backup", "--out", str(tmp_path / "b")]) == 0
    assert f"backed up 2 rows of {len(SQLModel.metadata.sorted_tables)} tables" in capsys.readouterr().out

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    assert main(["restore", str(tmp_path / "b")]) == 0
    assert "restored 2 rows" in capsys.readouterr().out
    with session_scope(get_engine()) as s:
        assert s.execute(select(ModelVersion.name)).scalars().all() == ["bot-ü"]

    assert main(["restore", str(tmp_path / "b")]) == 1
    assert "error: the target store is not empty" in capsys.readouterr().err
    with session_scope(get_engine()) as s:
        assert s.execute(select(ModelVersion.name)).scalars().all() == ["bot-ü"]


def test_a_backup_is_one_snapshot_while_the_app_writes(any_engine, tmp_path):
    fill_every_table(any_engine, tmp_path)
    before = {name: len(rows) for name, rows in table_rows(any_engine).items()}
    written: list[str] = []

    def write_meanwhile(done: int, total: int) -> None:
        if not written:  # after the first chunk: a reviewer's judgment lands, with its audit event
            with session_scope(any_engine, write=True) as s:
                s.add(ModelVersion(name="written during the backup", kind="chatbot"))
                s.add(AuditEvent(action="model_version.create", entity="model_version"))
            written.extend(["model_version", "audit_event"])

    summary = backup(any_engine, tmp_path / "b", progress=write_meanwhile)
    order = [t["name"] for t in json.loads((tmp_path / "b" / "manifest.json").read_text())["tables"]]
    first_read = next(name for name in order if before[name])
    assert any(order.index(name) > order.index(first_read) for name in written)  # read after the write
    assert summary.rows == before
    assert len(table_rows(any_engine)["audit_event"]) == before["audit_event"] + 1
