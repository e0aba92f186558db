"""The hot path's prepared statements (core.store.prepared) and its light write transaction (core.store.db.write_scope):
the same rows read, the same values stored and the same errors as SQLAlchemy's own execution, on SQLite and
PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Select, bindparam, insert, select, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from core import audit
from core.review import queues
from core.review import service as review
from core.review.judgments import ComparisonIn, RatingIn, _claim_statement
from core.review.queues import _held_statement
from core.review.service import compare, next_item
from core.store import prepared
from core.store.db import session_scope, write_scope
from core.store.models import AuditEvent, QueueConfig, Rating, WorkItem
from tests.review_store import actor, build

LEFT = ComparisonIn(preferred="left", strength="clear")
T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def typed(rows) -> list[list[tuple[type, object]]]:
    return [[(type(value), value) for value in row] for row in rows]


def test_prepared_statements_read_what_sqlalchemy_reads(any_engine, tmp_path):
    users = build(any_engine, tmp_path)
    with write_scope(any_engine) as run:
        lease = queues.next_item(run, queue="comparison", user_id=users["expert0"], now=T0)
    held = {"user_id": users["expert0"], "now": T0, "queue": "comparison"}
    config = QueueConfig.__table__
    config_statement = select(config.c.gold_share, config.c.lease_minutes).where(config.c.name == "comparison")
    with session_scope(any_engine) as s:
        for statement, values in (
            (_held_statement(), held),  # timestamps
            (_claim_statement(), {"assignment_id": lease.assignment_id}),  # timestamps, booleans
            (config_statement, {}),  # a float
        ):
            expected = s.connection().execute(statement, values).all()
            assert expected, "the comparison proved nothing"
            assert typed(prepared.on(s).rows(statement, values)) == typed(expected)
    assert (lease.started_at, lease.expires_at) == (T0, T0 + timedelta(minutes=15))


def test_prepared_inserts_store_what_sqlalchemy_stores(any_engine, monkeypatch):
    """An audit event byte for byte (JSON text, a JSON null, the timestamp's text), but for its id. Both at the same
    time: PostgreSQL's text of a timestamp drops its microseconds' trailing zeros, so only equal times compare."""
    monkeypatch.setattr(audit, "utcnow", lambda: T0)
    values = {"actor_id": None, "action": "comparison.create", "entity": "comparison", "entity_id": 7}
    after = {"choice": "a", "strength": None, "rationale": 'ünïcode "quoted"'}
    with session_scope(any_engine, write=True) as s:
        audit.record(s, **values, after=after)
        s.connection().execute(insert(AuditEvent.__table__), [values | {"at": T0, "before": None, "after": after}])
    stored = "SELECT CAST(at AS TEXT), CAST(before AS TEXT), CAST(after AS TEXT), action, entity_id FROM audit_event"
    with any_engine.connect() as conn:
        ours, theirs = conn.execute(text(stored + " ORDER BY id")).all()
    assert ours == theirs
    assert ours[1] == "null"  # as SQLAlchemy stores a JSON column's None


def test_a_write_scope_commits_its_block_and_rolls_back_a_failed_one(any_engine):
    with write_scope(any_engine) as run:
        audit.record(run, actor_id=None, action="kept", entity="test")
    with pytest.raises(IntegrityError), write_scope(any_engine) as run:  # SQLAlchemy's exception, not the driver's
        audit.record(run, actor_id=None, action="lost", entity="test")
        audit.record(run, actor_id=None, action=None, entity="test")  # action is NOT NULL
    with pytest.raises(RuntimeError), write_scope(any_engine) as run:
        audit.record(run, actor_id=None, action="lost", entity="test")
        raise RuntimeError("the page failed after the write")
    with session_scope(any_engine) as s:
        assert list(s.execute(select(AuditEvent.action).where(AuditEvent.entity == "test")).scalars()) == ["kept"]


def test_a_lease_taken_in_a_write_scope_is_held_then_expires_and_goes_to_another(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=1)  # one rating item per answer, k = 1
    with write_scope(any_engine) as run:
        mine = queues.next_item(run, queue="rating", user_id=users["expert0"], now=T0)
        other = queues.next_item(run, queue="rating", user_id=users["expert1"], now=T0)
    with write_scope(any_engine) as run:
        again = queues.next_item(run, queue="rating", user_id=users["expert0"], now=T0 + timedelta(minutes=14))
    with write_scope(any_engine) as run:
        late = queues.next_item(run, queue="rating", user_id=users["expert2"], now=T0 + timedelta(minutes=16))
    assert other.work_item_id != mine.work_item_id  # k = 1: not while it is held
    assert again == mine  # still held: read back with its times
    assert late.work_item_id == mine.work_item_id  # expired: the next reviewer gets it


def test_the_page_path_stores_one_comparison_with_its_audit_event(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=2)
    expert = actor(any_engine, users["expert0"])
    view = next_item(actor=expert, queue="comparison", engine=any_engine)
    assert view.prompt.startswith("Question ") and {view.left[:2], view.right[:2]} == {"v1", "v2"}
    comparison_id = compare(actor=expert, assignment_id=view.assignment_id, comparison=LEFT, engine=any_engine)
    again = compare(actor=expert, assignment_id=view.assignment_id, comparison=LEFT, engine=any_engine)
    assert again == comparison_id  # a retry: stored once
    with session_scope(any_engine) as s:
        events = s.execute(
            select(AuditEvent.entity_id, AuditEvent.actor_id, AuditEvent.after).where(
                AuditEvent.action == "comparison.create"
            )
        ).all()
        assert [event[:2] for event in events] == [(comparison_id, expert.id)]
        assert events[0].after["choice"] in ("a", "b") and events[0].after["strength"] == "clear"
        done = s.execute(select(WorkItem.done).where(WorkItem.queue == "comparison", WorkItem.done > 0)).scalars()
        assert list(done) == [1]


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        (select(WorkItem.id).where(WorkItem.id.in_(bindparam("ids", expanding=True))), "expanding"),
        # SQLAlchemy computes such defaults at each execution: a statement run once compiled would store NULL
        (insert(Rating.__table__).values(key=bindparam("key")).returning(Rating.id), "source, flags, spans, rationale"),
    ],
)
def test_a_statement_that_cannot_run_as_compiled_once_is_refused(engine, statement, refusal):
    with pytest.raises(ValueError, match=refusal):
        prepared.prepare(statement, engine.dialect)


class _Closed:
    """A DB-API connection whose database has gone: every statement and the rollback fail."""

    def cursor(self) -> _Closed:
        return self

    def execute(self, *args: object) -> None:
        raise sqlite3.ProgrammingError("Cannot operate on a closed database.")

    rollback = execute


def test_a_lost_connection_leaves_the_pool_once(engine):
    """The statement's error drops it; the rollback that follows fails too and must not drop it again (SQLAlchemy
    warns "Can't invalidate an already-closed connection")."""
    dropped = []
    run = prepared.Runner(_Closed(), engine.dialect, lambda: dropped.append(1))
    with pytest.raises(ProgrammingError) as raised:
        run.driver_sql("BEGIN IMMEDIATE")
    run.rollback()
    assert raised.value.connection_invalidated and dropped == [1]


def test_every_select_of_the_judgment_path_reads_what_sqlalchemy_reads(any_engine, tmp_path, monkeypatch):
    """Each statement the judgment path compiles itself (take, view, rate, compare, skip, change, progress, the last
    judgment) reads, on the same data, the rows and Python types SQLAlchemy's own execution reads: what breaks first
    if a SQLAlchemy upgrade changes the compiler internals core.store.prepared relies on."""
    users = build(any_engine, tmp_path, prompts=3)
    seen: dict[str, tuple] = {}
    original = prepared.Runner.rows

    def recording(self, statement, values):
        seen.setdefault(str(statement), (statement, dict(values)))
        return original(self, statement, values)

    monkeypatch.setattr(prepared.Runner, "rows", recording)
    expert = actor(any_engine, users["expert0"])
    for queue in ("rating", "comparison"):
        review.progress_in(actor=expert, queue=queue)
        view = review.next_item(actor=expert, queue=queue)
        review.skip(actor=expert, queue=queue, assignment_id=view.assignment_id)
        view = review.next_item(actor=expert, queue=queue)
        if queue == "rating":
            rating_id = review.rate(actor=expert, assignment_id=view.assignment_id, rating=RatingIn(4, 5, 4))
            review.change_rating(actor=expert, rating_id=rating_id, rating=RatingIn(3, 5, 4))
        else:
            review.compare(actor=expert, assignment_id=view.assignment_id, comparison=LEFT)
        review.last_judgment(actor=expert, queue=queue)
    monkeypatch.setattr(prepared.Runner, "rows", original)
    selects = [(statement, values) for statement, values in seen.values() if isinstance(statement, Select)]
    assert len(selects) >= 8, "the path ran fewer of its own statements than it should"
    compared = 0
    with session_scope(any_engine) as s:
        for statement, values in selects:
            expected = s.connection().execute(statement, values).all()
            assert typed(prepared.on(s).rows(statement, values)) == typed(expected), str(statement)
            compared += bool(expected)
    assert compared >= 6, "too few of the statements found rows to compare"


def test_a_statement_run_once_expands_its_lists_as_sqlalchemy_does(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=4)
    items = select(WorkItem.id, WorkItem.queue, WorkItem.open).where(
        WorkItem.subject_id.in_([1, 2, 3]), WorkItem.queue == "rating"
    )
    with session_scope(any_engine) as s:
        expected = s.execute(items.order_by(WorkItem.id)).all()
        assert expected, "the comparison proved nothing"
        assert typed(prepared.on(s).execute(items.order_by(WorkItem.id))) == typed(expected)
        assert prepared.on(s).execute(select(WorkItem.id).where(WorkItem.id.in_([]))) == []
    assert users
