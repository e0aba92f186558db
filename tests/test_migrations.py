"""A store made by the first migration, with data in every table it has, upgraded to the newest: nothing lost, and
the app reads it (queue status, the A/B report, the KPI report); a backup of it restores into an upgraded store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import JSON, Boolean, Engine, MetaData, column, inspect, select, table, text
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import UTCDateTime

from core.reports.ab.chatbot import compare_versions
from core.reports.filters import Filters
from core.reports.kpi.report import kpi_report
from core.review import queues, settings
from core.store.backup import backup, restore
from core.store.db import get_engine, migrate, session_scope, upgrade_schema
from core.store.models import Comparison, Prompt, Rating

FIRST = "0001"
WHEN = datetime(2026, 3, 1, 12, 34, 56, 789012, tzinfo=UTC)
TEXT = 'Ünïcödé — مرحبا\nline two "q" 🙂'

# One row or two in every table of migration 0001, in its columns, parents first.
ROWS_0001: dict[str, list[dict]] = {
    "user_account": [
        dict(id=1, username="eva", display_name=TEXT, email=None, role="expert", password_hash="$argon2id$v=19$x",
             active=True, failed_logins=0, locked_until=None, created_at=WHEN),
        dict(id=2, username="ana", display_name="", email="ana@example.org", role="annotator", password_hash=None,
             active=False, failed_logins=3, locked_until=WHEN, created_at=WHEN),
    ],
    "model_version": [
        dict(id=1, name="bot-v1", kind="chatbot", notes=TEXT, meta={"a": [1, None]}, created_at=WHEN),
        dict(id=2, name="bot-v2", kind="chatbot", notes="", meta={}, created_at=WHEN),
        dict(id=3, name="clf-v1", kind="moderation", notes="", meta={}, created_at=WHEN),
    ],
    "prompt": [dict(id=1, external_id="p1", source="import", text=TEXT, topic="vat", meta={}, created_at=WHEN)],
    "response": [
        dict(id=1, external_id="r1", prompt_id=1, model_version_id=1, text="v1 " + TEXT, meta={}, created_at=WHEN),
        dict(id=2, external_id="r2", prompt_id=1, model_version_id=2, text="v2", meta={"x": 1}, created_at=WHEN),
    ],
    "rating": [
        dict(id=1, key="rating:eva:1", source="app", response_id=1, user_id=1, helpfulness=2, harmlessness=5,
             accuracy=3, flags=["unsafe"], rationale=TEXT, seconds_spent=12.5, created_at=WHEN, updated_at=None),
    ],
    "comparison": [
        dict(id=1, key="comparison:eva:1", source="app", prompt_id=1, response_a_id=1, response_b_id=2,
             left_response_id=2, choice="b", strength="clear", rationale=TEXT, user_id=1, seconds_spent=None,
             created_at=WHEN, updated_at=WHEN),
        dict(id=2, key="comparison:import:1", source="import", prompt_id=1, response_a_id=1, response_b_id=2,
             left_response_id=None, choice="tie", strength=None, rationale="", user_id=None, seconds_spent=None,
             created_at=WHEN, updated_at=None),
    ],
    "moderation_item": [dict(id=1, external_id="m1", source="import", text=TEXT, meta={}, created_at=WHEN)],
    "moderation_score": [
        dict(id=1, item_id=1, model_version_id=3, score=0.51, predicted_label="toxic", categories=["hate"],
             created_at=WHEN),
    ],
    "moderation_label": [
        dict(id=1, key="label:ana:1", source="app", item_id=1, user_id=2, label="not_toxic", categories=[],
             note=TEXT, seconds_spent=3.0, created_at=WHEN, updated_at=None),
    ],
    "adjudication": [
        dict(id=1, item_id=1, user_id=1, final_label="toxic", categories=["hate"], reason=TEXT, created_at=WHEN,
             updated_at=None),
    ],
    "audit_event": [
        dict(id=1, at=WHEN, actor_id=1, action="rating.create", entity="rating", entity_id=1, before=None,
             after={"accuracy": 3, "note": TEXT}),
    ],
    "import_run": [
        dict(id=1, kind="conversations", file_name="a.jsonl", status="done", rows_read=1, rows_added=1,
             rows_present=0, rows_refused=0, errors=[], actor_id=None, started_at=WHEN, finished_at=WHEN),
    ],
    "dataset_snapshot": [
        dict(id=1, kind="preferences", content_hash="ab" * 32, row_count=1, filters={"topic": None}, path="s.jsonl",
             created_at=WHEN),
    ],
    "reward_model_run": [
        dict(id=1, snapshot_id=1, base_model="tiny", params={"lr": 5e-5}, metrics={"accuracy": 0.75},
             progress={}, status="done", artifact_path="runs/1", is_active=True, started_at=WHEN, finished_at=WHEN),
    ],
    "experiment": [
        dict(id=1, name="ab-1", variant_a="bot-v1", variant_b="bot-v2", metric="resolved",
             planned_split={"a": 0.5, "b": 0.5}, started_at=WHEN, ended_at=None),
    ],
    "experiment_event": [
        dict(id=1, experiment_id=1, unit_id="u1", variant="b", metric="resolved", value=1.0, at=WHEN),
    ],
}  # fmt: skip


def _table(name: str):
    """A Core table of ROWS_0001[name]'s columns, typed as the app writes them (times in UTC, JSON, booleans)."""
    types = {datetime: UTCDateTime(), dict: JSON(), list: JSON(), bool: Boolean()}
    rows = ROWS_0001[name]
    typed = {key: types.get(type(row[key])) for row in reversed(rows) for key in row if row[key] is not None}
    return table(name, *[column(key, typed.get(key)) for key in rows[0]])


def fill_0001(engine: Engine) -> Engine:
    """Migration 0001 alone on an empty store, and ROWS_0001 inserted."""
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if postgres:  # the test database is at the newest revision, empty: start again from nothing
            schema = MetaData()
            schema.reflect(conn)
            schema.drop_all(conn)
        migrate(conn, FIRST)
        assert set(inspect(conn).get_table_names()) - {"alembic_version"} == set(ROWS_0001)
        for name, rows in ROWS_0001.items():
            conn.execute(_table(name).insert(), rows)
            if postgres:  # as if the app had written them: the ids' sequence moves on
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), {len(rows)})"))
    return engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_0001(request, tmp_path) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield fill_0001(get_engine(f"sqlite:///{tmp_path / 'old.db'}"))
    else:
        engine = request.getfixturevalue("pg_engine")
        yield fill_0001(engine)
        upgrade_schema(engine)  # the PostgreSQL test database is shared: leave it at the newest revision


def test_upgrading_a_store_of_the_first_migration_loses_nothing(store_0001):
    upgrade_schema(store_0001)
    with store_0001.connect() as conn:
        for name, rows in ROWS_0001.items():
            t = _table(name)
            assert [row._asdict() for row in conn.execute(select(t).order_by(t.c.id))] == rows, name
    with session_scope(store_0001) as s:  # the columns added later were filled by the migrations
        versions = s.execute(select(Comparison.version_a_id, Comparison.version_b_id)).all()
        turns = s.execute(select(Prompt.turns)).scalars().all()
        spans = s.execute(select(Rating.spans)).scalars().all()
        sides = s.execute(select(Comparison.spans)).scalars().all()
    assert spans and all(row == [] for row in spans)  # a rating from before error spans has none
    assert sides == [{}, {}]  # nor a comparison on either side
    assert versions == [(1, 2), (1, 2)]
    assert turns == [[]]  # a prompt from before conversations is a one-turn conversation


def test_the_app_reads_an_upgraded_store_of_the_first_migration(store_0001):
    upgrade_schema(store_0001)
    with session_scope(store_0001, write=True) as s:
        settings.configure(s, queue="rating", actor_id=None, versions=["bot-v1", "bot-v2"], k=1)
    with session_scope(store_0001) as s:
        rating = next(q for q in queues.queue_status(s) if q.queue == "rating")
        report = compare_versions(s, Filters("bot-v1", "bot-v2", since=date(2026, 3, 1), until=date(2026, 3, 1)))
        kpi = kpi_report(s, start=WHEN - timedelta(days=1), end=WHEN + timedelta(days=1), now=WHEN)
    assert (rating.waiting, rating.done) == (1, 1)  # the old rating of answer 1 counts: answer 2 waits
    assert (report.overall.win.wins_b, report.overall.ties) == (1, 1)
    assert [(q.kind, q.files, q.rows_read) for q in kpi.data_quality] == [("conversations", 1, 1)]


def test_a_backup_of_a_first_migration_store_restores_upgraded(store_0001, tmp_path):
    backup(store_0001, tmp_path / "old-backup")
    restored = get_engine(f"sqlite:///{tmp_path / 'restored.db'}")
    assert restore(restored, tmp_path / "old-backup").revision == FIRST
    upgrade_schema(store_0001)
    assert _every_row(restored) == _every_row(store_0001)


def _every_row(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(t).order_by(*t.primary_key)).all() for t in SQLModel.metadata.sorted_tables}


@pytest.mark.postgres
def test_a_first_migration_backup_restores_upgraded_into_a_migrated_postgres_store(pg_engine, tmp_path):
    old = fill_0001(get_engine(f"sqlite:///{tmp_path / 'old.db'}"))
    backup(old, tmp_path / "old-backup")
    restore(pg_engine, tmp_path / "old-backup")  # the empty store is at the newest revision: rebuilt at 0001 first
    upgrade_schema(old)
    assert _every_row(pg_engine) == _every_row(old)
