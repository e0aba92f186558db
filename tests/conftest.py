"""Stores for the tests: a fresh migrated SQLite store per test, and PostgreSQL where TEST_DATABASE_URL is set.

`engine` is SQLite only (fast); `any_engine` runs a test on SQLite and on PostgreSQL. Both point DATABASE_URL
at the test's store, so code that calls core.store.db.get_engine() with no argument uses it too."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine, make_url, text

from core.store.db import dispose_engines, get_engine, upgrade_schema
from tests.required import LOCAL_POSTGRES, unavailable

# CI runs the property-based tests on the same examples every time (HYPOTHESIS_PROFILE=ci, set by .ci/run), so a
# landing is never refused by a new random draw; a local run explores new examples (and keeps the failures it finds
# in .hypothesis/ to replay them).
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _main_module_kept() -> Iterator[None]:
    """Put back pytest's `__main__` after each test: a page run by AppTest becomes `sys.modules["__main__"]` (as
    Streamlit's script runner makes it), and a process spawned later by another test would run that page as its
    main script instead of its task, and hang the test that waits for it."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


def _use(monkeypatch: pytest.MonkeyPatch, url: str) -> Engine:
    monkeypatch.setenv("DATABASE_URL", url)
    return get_engine(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once; each test gets a copy of the file (much faster than migrating per test)."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    upgrade_schema(get_engine(f"sqlite:///{path}"))
    dispose_engines()
    return path


@pytest.fixture
def engine(sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    path = tmp_path / "store.db"
    shutil.copy(sqlite_template, path)
    yield _use(monkeypatch, f"sqlite:///{path}")
    dispose_engines()


# What the run's summary says about PostgreSQL: the server used, or why its tests were skipped.
_postgres_outcome: list[str] = []


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own for this test run, migrated once, dropped at the end. The server is TEST_DATABASE_URL's,
    else a local one on 127.0.0.1:5432 where it answers; with neither the tests are skipped (failed where CI sets
    REQUIRE_POSTGRES=1)."""
    base = os.environ.get("TEST_DATABASE_URL") or LOCAL_POSTGRES
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"wb_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        where = make_url(base).render_as_string()
        reason = f"PostgreSQL at {where} is unreachable (set TEST_DATABASE_URL to a server that answers): {error}"
        _postgres_outcome.append(f"skipped: {reason.splitlines()[0]}")
        unavailable("POSTGRES", reason)
    _postgres_outcome.append(f"ran on {make_url(base).render_as_string()}")
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    upgrade_schema(get_engine(url))
    yield url
    dispose_engines()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_postgres(engine: Engine) -> None:
    with engine.begin() as conn:
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
        ).scalars()
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def pg_engine(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    engine = _use(monkeypatch, postgres_url)
    _empty_postgres(engine)
    yield engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue("engine" if request.param == "sqlite" else "pg_engine")


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One headless Chromium for the browser tests: skipped where there is none, a failure where CI requires one."""
    from tests.live_app import CHROMIUM, chromium

    if not CHROMIUM.exists():
        unavailable(
            "BROWSER", f"no Chromium at {CHROMIUM}: apt-get install -y chromium chromium-driver (CI installs it)"
        )
    with chromium() as instance:
        yield instance


@pytest.fixture
def page(browser) -> Iterator:
    """A fresh browser context (no cookies, so a new app session) and its page; downloads accepted."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    yield context.new_page()
    context.close()


def pytest_terminal_summary(terminalreporter) -> None:
    """Say which databases the run used: SQLite always; PostgreSQL where a server answered."""
    postgres = _postgres_outcome[0] if _postgres_outcome else "no PostgreSQL test was selected"
    terminalreporter.write_line(f"databases: SQLite ran; PostgreSQL {postgres}")
