"""The store itself: schema from migrations on both databases, SQLite settings, audit events."""

from __future__ import annotations

from sqlalchemy import inspect, select, text
from sqlmodel import SQLModel

from core import audit
from core.store.db import MIGRATIONS_DIR, get_engine, session_scope, upgrade_schema
from core.store.models import AuditEvent, ModelVersion

HEAD = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("0*.py"))[-1][:4]


def test_migrations_create_every_table_of_the_data_model(any_engine):
    tables = set(inspect(any_engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    assert "alembic_version" in tables
    with any_engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD


def test_upgrading_an_up_to_date_store_changes_nothing(any_engine):
    with session_scope(any_engine, write=True) as s:
        s.add(ModelVersion(name="bot-v1", kind="chatbot"))
    upgrade_schema(any_engine)
    with session_scope(any_engine) as s:
        assert s.execute(select(ModelVersion.name)).scalars().all() == ["bot-v1"]


def test_sqlite_store_runs_in_wal_mode_with_a_busy_timeout_and_foreign_keys(engine):
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_failed_transaction_writes_nothing(any_engine):
    try:
        with session_scope(any_engine, write=True) as s:
            s.add(ModelVersion(name="bot-v1", kind="chatbot"))
            s.flush()
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with session_scope(any_engine) as s:
        assert s.execute(select(ModelVersion)).first() is None


def test_audit_events_land_with_the_change_they_describe(any_engine):
    with session_scope(any_engine, write=True) as s:
        version = ModelVersion(name="bot-v1", kind="chatbot")
        s.add(version)
        s.flush()
        audit.record(
            s,
            actor_id=None,
            action="model_version.create",
            entity="model_version",
            entity_id=version.id,
            after={"name": "bot-v1"},
        )
    with session_scope(any_engine) as s:
        event = s.execute(select(AuditEvent)).scalar_one()
    assert (event.action, event.entity, event.after) == ("model_version.create", "model_version", {"name": "bot-v1"})
    assert event.at.tzinfo is not None


def test_database_url_picks_the_store(engine, monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'other' / 'x.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert str(get_engine().url) == url
    upgrade_schema(get_engine())
    assert (tmp_path / "other" / "x.db").exists()
