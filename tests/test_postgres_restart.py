"""The PostgreSQL server restarts while reviewers work: the app reconnects (pool pre-ping), a submission that failed
is refused with what to do, and no acknowledged judgment is lost or stored twice. The server is a private one started
for this module (never the machine's shared server)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from core.review.judgments import RatingIn
from core.review.service import next_item, rate
from core.store.db import StoreError, dispose_engines, get_engine, session_scope, upgrade_schema
from core.store.models import Assignment, Rating, WorkItem
from tests.live_app import free_port
from tests.required import unavailable
from tests.review_store import actor, build

GOOD = RatingIn(helpfulness=4, harmlessness=5, accuracy=4)
T = TypeVar("T")


class PrivateServer:
    """A PostgreSQL cluster in a temporary folder on a free loopback port, run by the `postgres` user under root."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            unavailable(
                "POSTGRES", "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)"
            )
        self.bin = Path(found[-1]).parent
        self.data = Path(tempfile.mkdtemp(prefix="wb-pg-"))
        self.port = free_port()
        self.as_user = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}
        if self.as_user:
            shutil.chown(self.data, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([str(self.bin / tool), *args], check=True, capture_output=True, timeout=120, **self.as_user)

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-o", options, "-w", *args)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        """As an operator would: active sessions are cut, the server is down for a moment, then back."""
        self._ctl("restart", "-m", "fast")

    def remove(self) -> None:
        subprocess.run([str(self.bin / "pg_ctl"), "-D", str(self.data), "stop", "-m", "immediate"], **self.as_user)
        shutil.rmtree(self.data, ignore_errors=True)


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateServer]:
    server = PrivateServer()
    try:
        server.start()
        yield server
    finally:
        dispose_engines()
        server.remove()


@pytest.fixture
def store(server: PrivateServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh database on the private server with experts and rating items (k = 2)."""
    dispose_engines()
    admin = get_engine(server.url)
    name = f"wb_{tmp_path.name[-20:].replace('-', '_').lower()}"
    with admin.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = server.url.rsplit("/", 1)[0] + f"/{name}"
    monkeypatch.setenv("DATABASE_URL", url)
    engine = get_engine(url)
    upgrade_schema(engine)
    return engine, build(engine, tmp_path, prompts=40, experts=4, rating_k=2)


def retried(call: Callable[[], T], outages: list[str], deadline: float) -> T:
    """What a reviewer does when told the store is unreachable: try again (the write path is idempotent)."""
    while True:
        try:
            return call()
        except StoreError as error:
            outages.append(str(error))
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def short_items(engine, acknowledged: list[tuple[int, int]], outages: list[str]) -> str:
    """What a failure needs to be understood: the items short of k, their assignments and ratings."""
    with session_scope(engine) as s:
        short = s.execute(select(WorkItem).where(WorkItem.queue == "rating", WorkItem.done < WorkItem.k)).scalars()
        lines = []
        for item in short:
            held = s.execute(select(Assignment).where(Assignment.work_item_id == item.id)).scalars().all()
            rated = s.execute(select(Rating.id, Rating.user_id).where(Rating.response_id == item.subject_id)).all()
            assignments = [(a.id, a.user_id, a.status, a.judgment_id) for a in held]
            lines.append(f"item {item.id} done {item.done}: assignments {assignments}; ratings {[*map(tuple, rated)]}")
    return "; ".join(lines) + f"; acknowledged {len(acknowledged)}; outages {len(outages)}"


def stored(engine) -> dict[int, tuple[int, int]]:
    with session_scope(engine) as s:
        return {
            id_: (user, response)
            for id_, user, response in s.execute(select(Rating.id, Rating.user_id, Rating.response_id))
        }


@pytest.mark.slow
def test_reviewers_lose_nothing_when_the_server_restarts_under_them(server, store):
    engine, users = store
    experts = [users[f"expert{n}"] for n in range(4)]
    acknowledged: list[tuple[int, int]] = []  # (assignment, rating id) the app told a reviewer were saved
    outages: list[str] = []
    failures: list[BaseException] = []
    deadline = time.monotonic() + 120

    def review(user_id: int) -> None:
        who = actor(engine, user_id)
        try:
            while view := retried(lambda: next_item(actor=who, queue="rating", engine=engine), outages, deadline):
                rating_id = retried(
                    lambda: rate(actor=who, assignment_id=view.assignment_id, rating=GOOD, engine=engine),
                    outages,
                    deadline,
                )
                acknowledged.append((view.assignment_id, rating_id))
        except BaseException as error:  # the test fails on anything but the outage it expects
            failures.append(error)

    reviewers = [threading.Thread(target=review, args=(user_id,)) for user_id in experts]
    for reviewer in reviewers:
        reviewer.start()
    while len(acknowledged) < 30 and not failures:
        time.sleep(0.01)
    server.restart()
    at_restart = len(acknowledged)
    for reviewer in reviewers:
        reviewer.join()

    assert failures == []
    assert outages, "no submission met the restart: the test proved nothing"
    assert all("is unreachable" in o and o.endswith("Nothing was saved: try again.") for o in outages)
    assert len(acknowledged) > at_restart  # the app reconnected by itself
    rows = stored(engine)
    ids = [rating_id for _, rating_id in acknowledged]
    assert sorted(ids) == sorted(rows)  # every acknowledged rating is stored, once, and nothing else
    assert len(set(rows.values())) == len(rows)  # no reviewer rated an answer twice
    with session_scope(engine) as s:
        per_item = s.execute(
            select(WorkItem.done, func.count()).where(WorkItem.queue == "rating").group_by(WorkItem.done)
        )
        # every answer rated by exactly k = 2 reviewers; else which item, and its assignments and ratings
        assert dict(per_item.all()) == {2: 80}, short_items(engine, acknowledged, outages)
    assert len(rows) == 160


def test_a_submission_refused_while_the_server_is_down_is_stored_once_when_retried(server, store):
    engine, users = store
    expert = actor(engine, users["expert0"])
    view = next_item(actor=expert, queue="rating", engine=engine)
    server.stop()
    try:
        with pytest.raises(StoreError, match=r"is unreachable .*Nothing was saved: try again\.$"):
            rate(actor=expert, assignment_id=view.assignment_id, rating=GOOD, engine=engine)
    finally:
        server.start()
    rating_id = rate(actor=expert, assignment_id=view.assignment_id, rating=GOOD, engine=engine)
    assert rate(actor=expert, assignment_id=view.assignment_id, rating=GOOD, engine=engine) == rating_id  # once
    assert list(stored(engine)) == [rating_id]
