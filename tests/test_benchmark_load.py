"""The load benchmark at a tiny scale: the real app, reviewers over Streamlit's websocket, ratings in the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from benchmarks import load
from core.store.db import dispose_engines, get_engine, session_scope
from core.store.models import AuditEvent, Rating, User
from tests.required import postgres_server, unavailable

ARGS = ["--scale", "2000", "--reviewers", "3", "--seconds", "3", "--think", "0.2"]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str], db: str) -> tuple[str, dict]:
    load.main(ARGS + argv)
    output = capsys.readouterr().out
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures[f"{db}_paced_acknowledged"] > 0 and figures[f"{db}_flat_acknowledged"] > 0
    for leg in ("paced", "flat"):
        assert figures[f"{db}_{leg}_errors"] == 0, figures[f"{db}_{leg}_first_error"]
    assert figures[f"{db}_paced_lost"] == figures[f"{db}_flat_lost"] == 0
    assert f"{db} paced: lost judgments = 0: 0 PASS" in output
    assert f"{db} flat: errors = 0: 0 PASS" in output
    return output, figures


def test_load_benchmark_smoke_one_reviewer_checks_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The quickest run that still does the work: one reviewer, one second a leg, SQLite only (runs in make test)."""
    load.main(["--scale", "2000", "--reviewers", "1", "--seconds", "1", "--think", "0.1",
               "--database-url", f"sqlite:///{tmp_path / 'smoke.db'}"])  # fmt: skip
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["checks_ok"] and figures["targets_met"] in (True, False)
    assert figures["sqlite_paced_acknowledged"] + figures["sqlite_flat_acknowledged"] > 0
    assert figures["sqlite_paced_lost"] == figures["sqlite_flat_lost"] == 0
    dispose_engines()


@pytest.mark.slow
def test_load_benchmark_stores_every_acknowledged_rating(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'load.db'}"
    _, figures = _run(["--database-url", url], capsys, "sqlite")
    saved = figures["sqlite_paced_acknowledged"] + figures["sqlite_flat_acknowledged"]

    # The store itself (kept: it is the caller's file): one rating and one audit event per "Saved" page.
    with session_scope(get_engine(url)) as session:
        reviewers = select(User.id).where(User.username.like("load%"))
        ratings = session.execute(select(func.count()).where(Rating.user_id.in_(reviewers))).scalar_one()
        events = session.execute(
            select(func.count()).where(AuditEvent.action == "rating.create", AuditEvent.actor_id.in_(reviewers))
        ).scalar_one()
    dispose_engines()
    assert ratings == events == saved


@pytest.mark.slow
def test_three_app_processes_on_one_postgres_store_every_acknowledged_rating(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A team deployment on loopback: three `streamlit run` replicas on one PostgreSQL, a reviewer on each, every
    one of them submitting. The store's rows carry their own ids: the app's new users, items and ratings must not
    collide with them."""
    server, why_not = postgres_server()
    if server is None:
        unavailable("POSTGRES", why_not)
    output, figures = _run(["--database-url", server, "--apps", "3"], capsys, "postgres")
    assert "PostgreSQL skipped" not in output
    assert "Load benchmark: 3 app process(es)" in output
    assert figures["postgres_paced_per_reviewer_min"] > 0 and figures["postgres_flat_per_reviewer_min"] > 0
