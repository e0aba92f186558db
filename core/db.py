"""The engine, transactions and schema upgrades: the one place that knows which database is behind the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlmodel import Session

from core.config import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class StoreError(Exception):
    """The store cannot be reached or used; the message says what to do."""


_engines: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL for the whole process (pages, CLI and tests share it); default: DATABASE_URL."""
    url = url or get_settings().database_url
    if url not in _engines:
        if make_url(url).get_backend_name() == "sqlite":
            _engines[url] = _sqlite_engine(url)
        else:
            _engines[url] = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    return _engines[url]


def dispose_engines() -> None:
    """Close every pooled connection (tests switching stores, a process about to fork)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # A writer takes the write lock up front, so two writers queue on busy_timeout instead of
        # failing when a read lock cannot be upgraded.
        immediate = conn.get_execution_options().get("write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def session_scope(engine: Engine | None = None, *, write: bool = False) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any error.

    `write=True` is for blocks that write: on SQLite it takes the write lock at BEGIN."""
    engine = engine or get_engine()
    bind = engine.execution_options(write=True) if write else engine
    with Session(bind, expire_on_commit=False) as session, session.begin():
        yield session


def upgrade_schema(engine: Engine | None = None) -> None:
    """Create or upgrade the schema to the newest migration (the only way the schema changes)."""
    from alembic import command
    from alembic.config import Config

    engine = engine or get_engine()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
