"""Passwords are never stored or logged in clear: every table, every audit event and every log line is searched."""

from __future__ import annotations

import io
import json
import logging
import sys

from sqlalchemy import Engine, MetaData, select

from core.cli.main import main
from tests.app_helpers import PASSWORD, USERS, add_users, app, fresh_streamlit_cache, sign_in  # noqa: F401

CLI_PASSWORD = "cli-Secret-4711"


def _store_text(engine: Engine) -> list[str]:
    """Every value of every row of every table, as text (JSON columns, such as audit before/after, serialised)."""
    tables = MetaData()
    tables.reflect(engine)
    values = []
    with engine.connect() as conn:
        for table in tables.sorted_tables:
            for row in conn.execute(select(table)):
                values += [json.dumps(v, default=str) if isinstance(v, dict | list) else str(v) for v in row]
    return values


def test_sign_ins_and_user_creation_leave_no_password_in_the_store_or_the_logs(engine, monkeypatch, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    add_users(engine)
    at = sign_in(app(), "eve", "eve-wrong-password")
    assert at.error and "user" not in at.session_state
    at = sign_in(app(), "eve", PASSWORD)
    assert at.session_state["user"].username == "eve"
    monkeypatch.setattr(sys, "stdin", io.StringIO(CLI_PASSWORD + "\n"))
    assert main(["users", "add", "cleo", "--role", "annotator"]) == 0
    assert main(["users", "list"]) == 0

    stored = _store_text(engine)
    assert any("cleo" in value for value in stored)  # the search does reach the new user and its audit event
    assert any('"username": "cleo"' in value for value in stored)
    hashes = [value for value in stored if value.startswith("$argon2")]
    assert len(hashes) == len(USERS) + 1  # the page-test users and cleo, each hashed with argon2
    out, err = capfd.readouterr()
    logged = [record.getMessage() for record in caplog.records] + [out, err]
    assert "user cleo (annotator) is active" in out
    for secret in (PASSWORD, "eve-wrong-password", CLI_PASSWORD):
        assert not [value for value in stored if secret in value], secret
        assert not [line for line in logged if secret in line], secret
