"""The team deployment, as far as this machine allows: compose.yaml read and checked (images cannot be pulled here),
the settings it relies on, and several app processes submitting at once against one PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from core.config import get_settings
from core.review.judgments import ComparisonIn, RatingIn
from core.review.service import compare, next_item, rate
from core.store.db import dispose_engines, get_engine, session_scope
from core.store.models import Comparison, Rating, WorkItem
from tests.review_store import actor, build

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text(encoding="utf-8"))
CADDYFILE = (REPO_ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
PROCESSES, REVIEWERS_EACH, K = 3, 2, 2


def default(value: str | int) -> int:
    """A compose value, `${NAME:-default}` read as its default."""
    found = re.fullmatch(r"\$\{\w+:-(\d+)\}", str(value))
    return int(found.group(1) if found else value)


def test_compose_runs_postgres_the_schema_upgrade_once_then_the_replicas_behind_the_proxy():
    services = COMPOSE["services"]
    assert set(services) == {"db", "init", "app", "worker", "proxy"}
    assert services["init"]["command"] == ["python", "-m", "core", "init"]
    assert services["init"]["restart"] == "no"
    assert services["init"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["app"]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert default(services["app"]["deploy"]["replicas"]) >= 2
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]


def test_the_worker_runs_as_its_own_service_on_the_upgraded_store_with_the_apps_settings():
    worker, app = COMPOSE["services"]["worker"], COMPOSE["services"]["app"]
    assert worker["command"] == ["python", "-m", "core", "worker"]
    assert worker["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert worker["environment"] == app["environment"] and worker["volumes"] == app["volumes"]  # the same artifacts
    assert "deploy" not in worker  # one worker: a second would only wait (one job of a kind at a time)


def test_the_proxy_keeps_each_browser_on_one_replica_and_reaches_every_replica():
    port = COMPOSE["services"]["app"]["expose"][0]
    assert re.search(rf"^\s*dynamic a app {port}\b", CADDYFILE, re.M)
    assert re.search(r"^\s*lb_policy cookie \w+", CADDYFILE, re.M)
    assert "8501" in (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8") and port == "8501"


def test_every_variable_compose_sets_is_one_the_app_reads_and_secrets_stay_in_files():
    config = (REPO_ROOT / "core" / "config.py").read_text(encoding="utf-8")
    read = set(re.findall(r'"([A-Z][A-Z_]+)"', config))
    read |= {f"{name}_FILE" for name in re.findall(r'_secret\("([A-Z_]+)"\)', config)}
    for name in ("init", "app", "worker"):
        assert set(COMPOSE["services"][name]["environment"]) <= read, name
    env = COMPOSE["services"]["app"]["environment"]
    assert {"DB_POOL_SIZE", "DB_MAX_OVERFLOW", "DATABASE_URL_FILE"} <= set(env)
    assert "DATABASE_URL" not in env and "POSTGRES_PASSWORD" not in COMPOSE["services"]["db"]["environment"]
    assert {s["file"] for s in COMPOSE["secrets"].values()} == {"./secrets/db_password", "./secrets/database_url"}
    assert "secrets/" in (REPO_ROOT / ".gitignore").read_text(encoding="utf-8").split()


def test_the_replicas_connection_pools_fit_in_postgres_max_connections():
    env = COMPOSE["services"]["app"]["environment"]
    replicas = default(COMPOSE["services"]["app"]["deploy"]["replicas"])
    per_replica = default(env["DB_POOL_SIZE"]) + default(env["DB_MAX_OVERFLOW"])
    command = COMPOSE["services"]["db"]["command"]
    max_connections = int(command[command.index("-c") + 1].split("=")[1])
    assert replicas * per_replica + 5 + 3 <= max_connections  # + jobs and backups, + PostgreSQL's reserve


def test_the_pool_size_and_the_store_url_come_from_the_environment_or_a_secret_file(tmp_path, monkeypatch):
    secret = tmp_path / "database_url"
    secret.write_text("postgresql+psycopg://team:s3cret@db.example:5432/workbench\n")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL_FILE", str(secret))
    monkeypatch.setenv("DB_POOL_SIZE", "7")
    monkeypatch.setenv("DB_MAX_OVERFLOW", "2")
    settings = get_settings()
    assert settings.database_url == "postgresql+psycopg://team:s3cret@db.example:5432/workbench"
    engine = get_engine()  # makes the pool without connecting
    assert (engine.pool.size(), engine.pool._max_overflow) == (7, 2)
    dispose_engines()
    monkeypatch.setenv("DATABASE_URL", "sqlite:///elsewhere.db")
    assert get_settings().database_url == "sqlite:///elsewhere.db"  # the plain variable wins


GOOD, LEFT = RatingIn(helpfulness=4, harmlessness=5, accuracy=4), ComparisonIn("left", "clear")


def app_process(url: str, user_ids: list[int], start_at: float) -> dict:
    """One app replica: its own engine and pool (DB_POOL_SIZE=2), one thread per signed-in reviewer, each rating and
    comparing until its queues are empty. Returns what the replica told its reviewers was saved. The replicas start
    their reviewers together at `start_at` (wall clock): a replica slower to start would find the queues empty."""
    os.environ |= {"DATABASE_URL": url, "DB_POOL_SIZE": "2", "DB_MAX_OVERFLOW": "0"}
    engine = get_engine(url)
    time.sleep(max(0.0, start_at - time.time()))
    saved: dict[str, list[int]] = {"rating": [], "comparison": []}
    failures: list[str] = []

    def reviewer(user_id: int) -> None:
        try:
            who = actor(engine, user_id)
            while view := next_item(actor=who, queue="rating", engine=engine):
                saved["rating"].append(rate(actor=who, assignment_id=view.assignment_id, rating=GOOD, engine=engine))
            while view := next_item(actor=who, queue="comparison", engine=engine):
                assignment_id = view.assignment_id
                saved["comparison"].append(
                    compare(actor=who, assignment_id=assignment_id, comparison=LEFT, engine=engine)
                )
        except Exception as error:
            failures.append(repr(error))

    threads = [threading.Thread(target=reviewer, args=(user_id,)) for user_id in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pool = engine.pool.size()
    dispose_engines()
    return saved | {"failures": failures, "pool": pool}


@pytest.mark.postgres
@pytest.mark.slow
def test_several_app_processes_on_one_postgres_lose_nothing_and_serve_no_item_beyond_k(pg_engine, tmp_path):
    reviewers = PROCESSES * REVIEWERS_EACH
    users = build(pg_engine, tmp_path, prompts=20, experts=reviewers, rating_k=K, comparison_k=K)
    url = pg_engine.url.render_as_string(hide_password=False)
    experts = [users[f"expert{n}"] for n in range(reviewers)]
    dispose_engines()
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        start_at = time.time() + 20  # after every spawned process has imported the app
        replicas = pool.starmap(app_process, [(url, experts[n::PROCESSES], start_at) for n in range(PROCESSES)])

    assert [r["failures"] for r in replicas] == [[]] * PROCESSES
    assert [r["pool"] for r in replicas] == [2] * PROCESSES
    assert all(r["rating"] and r["comparison"] for r in replicas)  # every replica did its share
    engine = get_engine(url)
    with session_scope(engine) as s:
        ratings = s.execute(select(Rating.id, Rating.user_id, Rating.response_id)).all()
        comparisons = s.execute(select(Comparison.id, Comparison.user_id, Comparison.prompt_id)).all()
        served = dict(s.execute(select(WorkItem.queue, func.max(WorkItem.done)).group_by(WorkItem.queue)).all())
        short = s.execute(select(func.count()).where(WorkItem.done != K)).scalar_one()
    for kind, rows in (("rating", ratings), ("comparison", comparisons)):
        acknowledged = sorted(i for r in replicas for i in r[kind])
        assert acknowledged == sorted(row.id for row in rows)  # every acknowledged judgment stored, once
        assert len({(row[1], row[2]) for row in rows}) == len(rows)  # nobody judged the same item twice
    assert (len(ratings), len(comparisons)) == (40 * K, 20 * K)
    assert served == {"rating": K, "comparison": K} and short == 0  # every item judged k times, none beyond
