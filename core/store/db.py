"""The engine, transactions and schema upgrades: the one place that knows which database is behind the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session

from core.config import get_settings
from core.store.prepared import Runner, wrapped

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


# PostgreSQL's undefined table and undefined column: a store whose schema was never created or is older.
MISSING_SCHEMA = ("42P01", "42703")


class StoreError(Exception):
    """The store cannot be reached or used; the message says what to do."""


def store_error(
    error: OperationalError | InterfaceError | ProgrammingError | PoolTimeout, engine: Engine
) -> StoreError:
    """What a person can do about a failure of the store itself (not of the data): a read-only or full store, a
    file that cannot be opened, a schema not yet created, a lock or every pooled connection held too long, or a
    server down or restarting."""
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    code = getattr(getattr(error, "orig", None), "sqlstate", None)
    where = engine.url.database if is_sqlite(engine) else engine.url.render_as_string(hide_password=True)
    if isinstance(error, PoolTimeout):
        fix = f"every connection to the store {where} stayed busy: raise DB_POOL_SIZE (docs/deploy.md) if this recurs"
    elif "readonly" in reason:
        fix = f"the store {where} is read-only: make it, its folder and its -wal/-shm files writable by the app's user"
    elif "disk is full" in reason or code == "53100":
        fix = f"the disk holding the store {where} is full: free some space (or move the store)"
    elif "unable to open" in reason:
        fix = f"the store file {where} cannot be opened: check that its folder exists and the app's user may write it"
    elif "no such table" in reason or "no such column" in reason or code in MISSING_SCHEMA:
        fix = f"the store {where} lacks tables of this version: create or upgrade it with `python -m core init`"
    elif "locked" in reason:
        fix = f"the store {where} stayed busy with another write for too long"
    else:
        fix = f"the store at {where} is unreachable ({reason}): if it lasts, check that the database server is up"
    return StoreError(f"{fix[0].upper()}{fix[1:]}. Nothing was saved: try again.")


_engines: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL for the whole process (pages, CLI and tests share it); default: DATABASE_URL."""
    url = url or get_settings().database_url
    if url not in _engines:
        if make_url(url).get_backend_name() == "sqlite":
            _engines[url] = _sqlite_engine(url)
        else:
            settings = get_settings()
            _engines[url] = create_engine(
                url, pool_pre_ping=True, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
            )
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

    `write=True` is for blocks that write: on SQLite it takes the write lock at BEGIN. A failure of the store itself
    (down, restarting, read-only, full) becomes a StoreError saying what to do. Trying again is safe: the write paths
    are idempotent by key, so a retry after a commit whose acknowledgement was lost stores nothing twice."""
    engine = engine or get_engine()
    bind = engine.execution_options(write=True) if write else engine
    try:
        with Session(bind, expire_on_commit=False) as session, session.begin():
            yield session
    except (OperationalError, InterfaceError, PoolTimeout) as error:
        raise store_error(error, engine) from error
    except ProgrammingError as error:
        raise _missing_schema(error, engine) from error


def _missing_schema(error: ProgrammingError, engine: Engine) -> Exception:
    """A StoreError for a PostgreSQL store without this version's tables; any other programming error as it is."""
    return store_error(error, engine) if getattr(error.orig, "sqlstate", None) in MISSING_SCHEMA else error


@contextmanager
def write_scope(engine: Engine | None = None, *, write: bool = True) -> Iterator[Runner]:
    """session_scope without the ORM Session, for the judgment path (core.review.service: take an item, submit, skip,
    change a judgment, and the reads of the review pages): one transaction on a pooled connection's bare driver,
    running prepared statements (core.store.prepared). The same semantics: BEGIN IMMEDIATE on SQLite where it
    writes, committed when the block ends, rolled back on any error, a failure of the store itself raised as a
    StoreError. A Session's set-up, events and commit cost more than the whole transaction's SQL."""
    engine = engine or get_engine()
    try:
        pooled = _checkout(engine)
        run = Runner(pooled.dbapi_connection, engine.dialect, pooled.invalidate)
        try:
            if is_sqlite(engine):
                run.driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")  # psycopg begins at the first statement
            yield run
            run.commit()
        except BaseException:
            run.rollback()
            raise
        finally:
            pooled.close()
    except (OperationalError, InterfaceError, PoolTimeout) as error:
        raise store_error(error, engine) from error
    except ProgrammingError as error:
        raise _missing_schema(error, engine) from error


def _checkout(engine: Engine):
    """A pooled connection; a failure to connect raised as SQLAlchemy's exception, as `engine.connect()` would."""
    try:
        return engine.raw_connection()
    except engine.dialect.loaded_dbapi.Error as error:
        raise wrapped(error, engine.dialect, None, None) from error


def refresh_statistics(engine: Engine | None = None) -> None:
    """Fresh table statistics for SQLite's query planner, after a bulk change (an import, a retrain, the demo).

    SQLite never gathers them by itself, and without them the reports choose slow plans (the KPI report took three
    to five times as long at 300,000 judgments). Sampled (`analysis_limit`), it takes milliseconds. PostgreSQL's
    autovacuum analyses changed tables by itself."""
    engine = engine or get_engine()
    if is_sqlite(engine):
        with engine.execution_options(write=True).connect() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")
            conn.commit()


def upgrade_schema(engine: Engine | None = None) -> None:
    """Create or upgrade the schema to the newest migration (the only way the schema changes)."""
    with migration_scope(engine or get_engine()) as connection:
        migrate(connection)


@contextmanager
def migration_scope(engine: Engine) -> Iterator[Connection]:
    """One transaction to migrate in. On SQLite, foreign keys are not enforced while it runs and are checked whole
    before the commit: a migration may rebuild a table that others refer to, which SQLite cannot do with them
    enforced, and they cannot be switched inside a transaction."""
    with engine.connect() as connection:
        driver = connection.connection.dbapi_connection if is_sqlite(engine) else None
        if driver is not None:
            driver.execute("PRAGMA foreign_keys=OFF")  # outside any transaction: BEGIN comes below
        try:
            with connection.begin():
                yield connection
                if driver is not None and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
                    raise StoreError(
                        f"the migration left rows that refer to missing ones (table, row, parent): {broken[:5]}"
                    )
        finally:
            if driver is not None:
                driver.execute("PRAGMA foreign_keys=ON")


def migrate(connection: Connection, revision: str = "head") -> None:
    """Run the migrations up to `revision` on `connection`, inside its transaction."""
    from alembic import command

    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def revisions() -> list[str]:
    """Every migration's revision, oldest first; the last one is the schema this code expects."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_alembic_config()).walk_revisions()  # newest first
    return [script.revision for script in scripts][::-1]


def current_revision(connection: Connection) -> str | None:
    """The revision the store's schema is at (None: no schema yet)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def require_current_schema(engine: Engine | None = None) -> str:
    """The store's revision, when it is the one this code expects; else a StoreError saying what to do. For a long-lived
    process (the worker) that must not write to a store of an older schema, or of a newer one it does not know."""
    engine = engine or get_engine()
    known = revisions()
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
    except (OperationalError, InterfaceError) as error:
        raise store_error(error, engine) from error
    if revision == known[-1]:
        return revision
    where = engine.url.database if is_sqlite(engine) else engine.url.render_as_string(hide_password=True)
    if revision is None or revision in known:
        state = "has no schema yet" if revision is None else f"is at schema {revision}"
        raise StoreError(
            f"The store {where} {state}; this version needs {known[-1]}: upgrade it with `python -m core init` first."
        )
    raise StoreError(
        f"The store {where} is at schema {revision}, which this version does not know (newest: {known[-1]}): "
        "it was upgraded by a newer version of the workbench; run that version."
    )


def _alembic_config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config
