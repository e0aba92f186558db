"""A part a test needs that this machine lacks (PostgreSQL, a browser, Label Studio, root to mount a tmpfs,
PostgreSQL's server binaries): a skip on a developer's machine, a failure where CI requires the part
(REQUIRE_<PART>=1, which .ci/run sets for every part it provides)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest
from sqlalchemy import create_engine, make_url, text

# Where the PostgreSQL tests run when TEST_DATABASE_URL is unset: a local server, if one answers.
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def unavailable(part: str, reason: str) -> NoReturn:
    flag = f"REQUIRE_{part}"
    if os.environ.get(flag) == "1":
        pytest.fail(f"{flag}=1 but {reason}")
    pytest.skip(reason)


def postgres_server() -> tuple[str | None, str]:
    """(the PostgreSQL server's URL, or None where none answers; why not)."""
    base = os.environ.get("TEST_DATABASE_URL") or LOCAL_POSTGRES
    engine = create_engine(base)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:
        where = make_url(base).render_as_string()
        return None, f"PostgreSQL at {where} is unreachable (set TEST_DATABASE_URL to a server that answers): {error}"
    finally:
        engine.dispose()
    return base, ""
