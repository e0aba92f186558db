"""The one queue implementation: who gets which work item next, leases that expire, overlap k, gold items.

Taking an item is atomic on both databases: on SQLite the caller's write transaction (BEGIN IMMEDIATE) serialises
takers; on PostgreSQL the candidate row is locked with FOR UPDATE SKIP LOCKED and its free places are counted again
once the lock is held, so two reviewers never take the last place of an item."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Select, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from core.review import cursors, qualification, standing
from core.review.cursors import band, seen_by
from core.store import prepared
from core.store.models import SKIP_REASONS, Assignment, NamedAssignment, QueueConfig, WorkItem, utcnow

# Defaults per queue: overlap k (judgments per item). rating: an answer; comparison: a pair of answers to one prompt;
# moderation: a borderline moderation item (core.moderation.borderline); adjudication: an item whose labels disagree.
DEFAULT_K = {"rating": 1, "comparison": 2, "moderation": 2, "adjudication": 1}
# The action of judging each queue (core.auth.RULES): taking, skipping, reading progress and changing a judgment fall
# under it, and only its roles may be assigned the queue's items.
QUEUE_ACTIONS = {
    "rating": "review.rate",
    "comparison": "review.compare",
    "moderation": "review.label",
    "adjudication": "review.adjudicate",
}
# Queues that serve no model versions' output: their settings take no versions.
WITHOUT_VERSIONS = ("adjudication",)
TAKE_ATTEMPTS = 8
_RANDOM = random.Random()  # seeding a new one per call costs more than a statement


# A queue's settings before anyone saved them (k aside: DEFAULT_K).
DEFAULTS = QueueConfig(name="")


class QueueError(Exception):
    """A queue action was refused; the message says why and what to do."""


@dataclass(frozen=True)
class Lease:
    """What a reviewer holds. Carries no model names: pages show texts only."""

    assignment_id: int
    work_item_id: int
    queue: str
    subject_id: int
    subject_b_id: int
    left_response_id: int | None
    started_at: datetime
    expires_at: datetime


def get_config(store: Session | prepared.Runner, queue: str) -> QueueConfig:
    """The queue's settings (its defaults where none were saved), detached from any session."""
    if queue not in DEFAULT_K:
        raise QueueError(f"unknown queue {queue!r}; queues: {', '.join(DEFAULT_K)}")
    row = prepared.on(store).first(_config_statement(), {"queue": queue})
    return QueueConfig(**row._asdict()) if row else QueueConfig(name=queue, k=DEFAULT_K[queue])


# The hot path (next_item, and the write path in core.review.judgments) runs Core statements built once and compiled
# once (core.store.prepared) on the transaction's bare driver connection: ORM objects, flushes, statement building and
# SQLAlchemy's execution of each statement cost several times the SQL itself.
A, W, N = Assignment.__table__, WorkItem.__table__, NamedAssignment.__table__
LEASE_COLUMNS = (A.c.id, W.c.id, W.c.queue, W.c.subject_id, W.c.subject_b_id, A.c.left_response_id)


def _active(now):
    return and_(A.c.status == "leased", A.c.expires_at > now)


def next_item(
    session: Session | prepared.Runner,
    *,
    queue: str,
    user_id: int,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Lease | None:
    """The reviewer's current lease in this queue, or a new one on the best free item; None when nothing is left.

    Call inside a write transaction (core.store.db.session_scope(write=True), or core.store.db.write_scope on the hot
    path)."""
    now, rng = now or utcnow(), rng or _RANDOM
    if queue not in DEFAULT_K:
        raise QueueError(f"unknown queue {queue!r}; queues: {', '.join(DEFAULT_K)}")
    run = prepared.on(session)
    held = run.first(_held_statement(), {"user_id": user_id, "now": now, "queue": queue})
    if held:
        return Lease(*held)
    config = run.first(_config_statement(), {"queue": queue}) or DEFAULTS  # a row: no model to validate per call
    length = timedelta(minutes=config.lease_minutes)
    if config.qualify:  # a qualification gate (core.review.qualification)
        served = qualification.gate(run, queue=queue, user_id=user_id, now=now)
        if served == "closed":
            return None
        if served == "practice":
            item = run.first(qualification.practice_statement(), {"queue": queue, "user_id": user_id})
            return None if item is None else _lease(run, queue, item, user_id, now, length, rng)
    for gold in (True, False) if rng.random() < config.gold_share else (False,):
        item = _take(run, queue, user_id, now, gold)
        if item is not None:
            return _lease(run, queue, item, user_id, now, length, rng)
    return None


def _free_places(item_id, user_id, now):
    """Places left on an item for this reviewer: k minus judgments minus other reviewers' live leases."""
    others = (
        select(func.count()).select_from(A).where(A.c.work_item_id == item_id, A.c.user_id != user_id, _active(now))
    ).scalar_subquery()
    return W.c.k - W.c.done - others


# Built once, values bound at each call: building a statement and its cache key costs more than running it.


@cache
def _config_statement() -> Select:
    """A queue's saved settings (value: queue)."""
    config = QueueConfig.__table__
    return select(*config.c).where(config.c.name == bindparam("queue"))


@cache
def _held_statement() -> Select:
    """The reviewer's live lease in the queue, as Lease's fields (values: user_id, now, queue)."""
    return (
        select(*LEASE_COLUMNS, A.c.started_at, A.c.expires_at)
        .join(W, W.c.id == A.c.work_item_id)
        .where(A.c.user_id == bindparam("user_id"), _active(bindparam("now")), W.c.queue == bindparam("queue"))
        .limit(1)
    )


def _locked(statement: Select, lock: str) -> Select:
    """Locked: passing items other transactions hold ("skip"), or waiting for them ("wait"); or not at all ("none")."""
    return statement if lock == "none" else statement.with_for_update(skip_locked=lock == "skip", of=W)


@cache
def _take_statement(queue: str, name: str | None, lock: str = "skip") -> Select:
    """The best free item the reviewer has not judged or skipped: gold (no band), or not gold in one band from their
    cursor on (core.review.cursors; values: queue, user_id, now, from_priority, from_id), and not assigned to another
    reviewer (core.review.standing)."""
    user_id, now = bindparam("user_id"), bindparam("now")
    statement = (
        select(W.c.id, W.c.subject_id, W.c.subject_b_id, W.c.is_gold)
        .where(W.c.queue == bindparam("queue"), W.c.open, W.c.is_gold == (name is None), ~seen_by(queue, user_id))
        .where(band(name), or_(W.c.is_gold, _free_places(W.c.id, user_id, now) > 0))
        .order_by(W.c.priority.desc(), W.c.id)
        .limit(1)
    )
    if name is not None:  # gold items are never assigned
        statement = statement.where(~standing.assigned_elsewhere(user_id, now))
    return _locked(statement, lock)


@cache
def _own_statement(queue: str, lock: str = "skip") -> Select:
    """The reviewer's best item among those assigned to them: earliest due first (no due date last), then the queue's
    order; free places and not judged or skipped, as the take statement checks (values: queue, user_id, now)."""
    user_id, now = bindparam("user_id"), bindparam("now")
    statement = (
        select(W.c.id, W.c.subject_id, W.c.subject_b_id, W.c.is_gold)
        .select_from(N.join(W, W.c.id == N.c.work_item_id))
        .where(N.c.user_id == user_id, standing.standing(now), W.c.queue == bindparam("queue"), W.c.open)
        .where(~W.c.is_gold, ~seen_by(queue, user_id), _free_places(W.c.id, user_id, now) > 0)
        .order_by(N.c.due_at.is_(None), N.c.due_at, W.c.priority.desc(), W.c.id)
        .limit(1)
    )
    return _locked(statement, lock)


@cache
def _places_statement() -> Select:
    """An item's free places for the reviewer (values: item_id, user_id, now)."""
    item_id = bindparam("item_id")
    return select(_free_places(item_id, bindparam("user_id"), bindparam("now"))).where(W.c.id == item_id)


@cache
def _lease_statement(dialect: str):
    """Lease an item to a reviewer in one statement: a new assignment, or their own expired one renewed (values:
    work_item_id, user_id, status, started_at, expires_at, updated_at, left_response_id). The left/right placement
    of a pair, once drawn, stays."""
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    statement = insert(A).values({c: bindparam(c) for c in _LEASE_VALUES})
    return statement.on_conflict_do_update(
        index_elements=[A.c.work_item_id, A.c.user_id],
        set_={
            "status": statement.excluded.status,
            "started_at": statement.excluded.started_at,
            "expires_at": statement.excluded.expires_at,
            "updated_at": statement.excluded.updated_at,
            "left_response_id": func.coalesce(A.c.left_response_id, statement.excluded.left_response_id),
        },
    ).returning(A.c.id, A.c.left_response_id)


_LEASE_VALUES = ("work_item_id", "user_id", "status", "started_at", "expires_at", "updated_at", "left_response_id")


def _take(run: prepared.Runner, queue: str, user_id: int, now: datetime, gold: bool) -> tuple | None:
    """The best free item, locked. On SQLite the write transaction holds the store's one write lock from its BEGIN
    IMMEDIATE, so the take query's count stands. On PostgreSQL the free places are counted again once the row is
    locked: a lease committed since the query began is seen there, and then the next attempt's query (a new
    snapshot, READ COMMITTED) sees it too and passes that item. When every item with a free place is held by another
    transaction (a reviewer taking or judging it), passing them would say "nothing left" though a place may stay
    free: then the attempt waits for them (holding no lock itself, it cannot deadlock), and if what it waited for
    changed meanwhile (its snapshot predates the change), the next attempt looks again with a fresh one."""
    values = {"queue": queue, "user_id": user_id, "now": now}
    if gold:
        return _attempts(run, lambda name, lock: _take_statement(queue, name, lock), (None,), values)
    own = _attempts(run, lambda name, lock: _own_statement(queue, lock), (None,), values)
    if own is not None:
        return own  # an item assigned to them comes first
    origin = cursors.start(run, queue, user_id)
    if origin is None:
        return None  # every open item is one they judged or skipped
    return _attempts(run, lambda name, lock: _take_statement(queue, name, lock), cursors.BANDS, values | origin)


def _attempts(run: prepared.Runner, statement, bands: tuple, values: dict) -> tuple | None:
    """The first row of `statement(band, lock)` over the bands, taken as _take says."""

    def take(lock: str) -> tuple | None:
        return cursors.first(run, lambda name: statement(name, lock), bands, values)

    for _ in range(TAKE_ATTEMPTS):
        item = take("skip")
        if item is None and run.dialect.name != "sqlite":
            if take("none") is None:
                return None  # nothing free, held or not
            item = take("wait")
            if item is None:
                continue
        if item is None or item.is_gold or run.dialect.name == "sqlite":
            return item
        if run.scalar(_places_statement(), values | {"item_id": item.id}) > 0:
            return item
    return None


def _lease(
    run: prepared.Runner, queue: str, item: tuple, user_id: int, now: datetime, length: timedelta, rng: random.Random
) -> Lease:
    expires = now + length
    left = rng.choice((item.subject_id, item.subject_b_id)) if item.subject_b_id else None
    values = dict(zip(_LEASE_VALUES, (item.id, user_id, "leased", now, expires, now, left), strict=True))
    assignment_id, left = run.first(_lease_statement(run.dialect.name), values)
    return Lease(assignment_id, item.id, queue, item.subject_id, item.subject_b_id, left, now, expires)


def skip(
    store: Session | prepared.Runner,
    *,
    queue: str,
    assignment_id: int,
    user_id: int,
    reason: str | None = None,
    now: datetime | None = None,
) -> None:
    """The reviewer passes on the item, with an optional reason (SKIP_REASONS): it goes back to the others and never
    comes back to them (an assignment of it to them ends)."""
    if reason is not None and reason not in SKIP_REASONS:
        raise QueueError(f"Unknown reason to skip {reason!r}: choose {', '.join(SKIP_REASONS)}, or none.")
    run = prepared.on(store)
    values = {"assignment_id": assignment_id, "user_id": user_id, "queue": queue, "reason": reason}
    values["now"] = now or utcnow()
    skipped = run.first(_skip_statement(), values)
    if skipped is None:
        owner = run.first(_owner_statement(), values)
        if owner is None or owner.user_id != user_id or owner.queue != queue:
            raise QueueError("This item is not yours to skip.")  # else judged or skipped already: nothing to do
        return
    standing.end(run, item_id=skipped.work_item_id, user_id=user_id, outcome="skipped", now=values["now"])


@cache
def _skip_statement():
    """The reviewer's lease on an item of the queue, skipped (values: assignment_id, user_id, queue, reason, now)."""
    mine = and_(A.c.id == bindparam("assignment_id"), A.c.user_id == bindparam("user_id"), A.c.status == "leased")
    in_queue = exists().where(W.c.id == A.c.work_item_id, W.c.queue == bindparam("queue"))
    skipped = update(A).where(mine, in_queue)
    skipped = skipped.values(status="skipped", skip_reason=bindparam("reason"), updated_at=bindparam("now"))
    return skipped.returning(A.c.id, A.c.work_item_id)


@cache
def _owner_statement() -> Select:
    """Whose assignment it is, and in which queue (value: assignment_id)."""
    return (
        select(A.c.user_id, W.c.queue).join(W, W.c.id == A.c.work_item_id).where(A.c.id == bindparam("assignment_id"))
    )


@dataclass(frozen=True)
class QueueStatus:
    queue: str
    waiting: int
    leased: int
    done: int
    gold_items: int
    gold_share: float
    provisional: int = 0  # judgments held out of the counts (core.review.qualification)


def queue_status(session: Session, now: datetime | None = None) -> list[QueueStatus]:
    """Per queue: open items, live leases, finished items, gold items, the configured gold share and the judgments
    held provisional."""
    now = now or utcnow()
    counts = {
        row.queue: row
        for row in session.execute(
            select(
                WorkItem.queue,
                func.count().filter(WorkItem.open, ~WorkItem.is_gold).label("waiting"),
                func.count().filter(~WorkItem.open).label("done"),
                func.count().filter(WorkItem.is_gold).label("gold"),
            ).group_by(WorkItem.queue)
        )
    }
    leased = dict(
        session.execute(
            select(WorkItem.queue, func.count())
            .join(Assignment, Assignment.work_item_id == WorkItem.id)
            .where(_active(now))
            .group_by(WorkItem.queue)
        ).all()
    )
    held = qualification.held_counts(prepared.on(session))
    result = []
    for queue in DEFAULT_K:
        row = counts.get(queue)
        result.append(
            QueueStatus(
                queue,
                row.waiting if row else 0,
                leased.get(queue, 0),
                row.done if row else 0,
                row.gold if row else 0,
                get_config(session, queue).gold_share,
                held.get(queue, 0),
            )
        )
    return result
