"""The qualification gate of a queue (its settings `qualify` and `pass_share`): a reviewer new to the queue first
judges `qualify` gold items, each held provisional (core.review.provisional) and scored against its answer at once;
at a share of at least `pass_share` right they are qualified and those judgments count, below it they fail until an
expert lead allows a retry. A qualified reviewer whose share of their last WINDOW gold items falls below the pass
share is paused: their judgments on the queue since the last gold item they passed are held, and they get no items
until a lead releases those judgments (they count, and the reviewer is qualified again) or discards them (the
reviewer qualifies again). Reviewers who judged the queue before its gate was set count as qualified."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core import audit
from core.review import provisional
from core.review.guidelines import guidelines, rubric
from core.review.provisional import JUDGMENTS, Judged
from core.store import prepared
from core.store.models import Assignment, AuditSampleItem, FlagTriage, Qualification, QueueConfig, User, WorkItem

WINDOW = 10  # the gold items of a qualified reviewer the auto-pause reads, newest first
A, W, Q, P = Assignment.__table__, WorkItem.__table__, Qualification.__table__, provisional.P
C = QueueConfig.__table__


class QualificationError(Exception):
    """A lead's action on a reviewer's standing was refused; the message says why."""


@dataclass(frozen=True)
class Standing:
    """A reviewer's standing on a gated queue, as their review page and the lead's Review queues page show it."""

    queue: str
    user: str
    status: str  # qualifying | qualified | failed | paused
    attempt: int
    judged: int  # gold items judged in this attempt
    passed: int
    qualify: int  # gold items an attempt holds
    pass_share: float
    held: int  # their judgments held provisional, waiting for the attempt's end or a lead


@dataclass(frozen=True)
class GoldFeedback:
    """What a qualifying reviewer sees after a gold item: the known answer, theirs, and the guideline deciding it."""

    work_item_id: int
    passed: bool
    answer: dict[str, Any]
    given: dict[str, Any]
    guideline: str  # Markdown


def gold_passed(answer: dict[str, Any] | None, given: dict[str, Any]) -> bool | None:
    """Whether a judgment matches a gold answer on every field the answer names (of the judgment's fields); None when
    it names none of them. The one comparison: core.reports.audit.agreement's gold accuracy uses it too."""
    named = {name: value for name, value in (answer or {}).items() if name in given}
    if not named:
        return None
    return all(given[name] == value for name, value in named.items())


@cache
def _gate_statement() -> Select:
    """A queue's gate settings (value: queue)."""
    return select(C.c.qualify, C.c.pass_share).where(C.c.name == bindparam("queue"))


@cache
def _state_statement() -> Select:
    """A reviewer's standing on a queue (values: queue, user_id)."""
    return select(*Q.c).where(Q.c.queue == bindparam("queue"), Q.c.user_id == bindparam("user_id"))


@cache
def _veteran_statement() -> Select:
    """Whether the reviewer judged the queue before (values: queue, user_id)."""
    judged = exists().where(
        A.c.user_id == bindparam("user_id"),
        A.c.status == "done",
        W.c.id == A.c.work_item_id,
        W.c.queue == bindparam("queue"),
    )
    return select(judged)


@cache
def practice_statement() -> Select:
    """The next gold item for a qualifying reviewer: one they have no counted judgment of, did not skip and have not
    judged in this attempt (values: queue, user_id)."""
    user_id = bindparam("user_id")
    mine = and_(A.c.work_item_id == W.c.id, A.c.user_id == user_id)
    counted = exists().where(mine, (A.c.status == "skipped") | A.c.judgment_id.is_not(None))
    this_attempt = exists().where(P.c.work_item_id == W.c.id, P.c.user_id == user_id, P.c.status == "held")
    return (
        select(W.c.id, W.c.subject_id, W.c.subject_b_id, W.c.is_gold)
        .where(W.c.queue == bindparam("queue"), W.c.open, W.c.is_gold, ~counted, ~this_attempt)
        .order_by(W.c.priority.desc(), W.c.id)
        .limit(1)
    )


def gate(run: prepared.Runner, *, queue: str, user_id: int, now: datetime) -> str:
    """How the gated queue serves the reviewer: "open" (qualified), "practice" (gold items of their attempt) or
    "closed" (failed or paused). A reviewer's first visit starts their standing (an audit event)."""
    key = {"queue": queue, "user_id": user_id}
    state = run.first(_state_statement(), key)
    if state is None:
        status = "qualified" if run.scalar(_veteran_statement(), key) else "qualifying"
        values = key | {"status": status, "attempt": 1, "judged": 0, "passed": 0, "updated_at": now}
        insert = sqlite_insert if run.dialect.name == "sqlite" else pg_insert
        run.execute(insert(Q).values(values).on_conflict_do_nothing())  # another tab of theirs may start it too
        _audit(run, None, f"qualification.{'start' if status == 'qualifying' else 'grandfather'}", key, status)
    else:
        status = state.status
    return {"qualified": "open", "qualifying": "practice"}.get(status, "closed")


def judged(
    run: prepared.Runner, *, queue: str, claim: Any, assignment_id: int, judgment_id: int, values: dict, now: datetime
) -> bool:
    """After a judgment is stored (core.review.judgments.store_judgment): on a gated queue, hold it while the
    reviewer is not qualified and score a qualifying gold item; score a qualified reviewer's gold item against the
    pause rule. Returns whether the judgment was held."""
    if queue not in JUDGMENTS:
        return False  # adjudication has no gold items, so no gate
    gate_row = run.first(_gate_statement(), {"queue": queue})
    if gate_row is None or not gate_row.qualify:
        return False
    key = {"queue": queue, "user_id": claim.user_id}
    state = run.first(_state_statement(), key)
    if state is None:
        return False  # leased before the gate was set
    if state.status == "qualified":
        if claim.is_gold:
            _check_window(run, queue, state, gate_row.pass_share, now)
        return False
    passed = gold_passed(_gold_answer(run, claim.item_id), values) if claim.is_gold else None
    one = Judged(assignment_id, claim.item_id, judgment_id, claim.is_gold, passed)
    why = "paused" if state.status == "paused" else "qualifying"
    provisional.hold(run, queue=queue, user_id=claim.user_id, judged=[one], why=why, now=now)
    if state.status == "qualifying" and passed is not None:
        _scored(run, queue, state, bool(passed), gate_row, now)
    return True


def _gold_answer(run: prepared.Runner, item_id: int) -> dict | None:
    return run.execute(select(W.c.gold_answer).where(W.c.id == item_id))[0][0]


def _scored(run: prepared.Runner, queue: str, state: Any, passed: bool, gate_row: Any, now: datetime) -> None:
    """Count a qualifying gold item; at the attempt's last one, pass (the attempt's judgments count) or fail."""
    judged_n, passed_n = state.judged + 1, state.passed + passed
    values = {"judged": judged_n, "passed": passed_n, "updated_at": now}
    key = {"queue": queue, "user_id": state.user_id}
    if judged_n >= gate_row.qualify:
        share = passed_n / judged_n
        status = "qualified" if share >= gate_row.pass_share else "failed"
        values |= {"status": status}
        rows = provisional.held(run, queue=queue, user_id=state.user_id, why="qualifying")
        (provisional.release if status == "qualified" else provisional.discard)(run, rows, actor_id=None, now=now)
        _audit(
            run,
            None,
            "qualification.pass" if status == "qualified" else "qualification.fail",
            key,
            status,
            {"attempt": state.attempt, "judged": judged_n, "passed": passed_n, "share": round(share, 4)},
        )
    _set(run, key, values)


def _gold_judgments(run: prepared.Runner, queue: str, user_id: int) -> list[tuple[datetime, bool | None]]:
    """The reviewer's counted gold judgments on the queue, newest first: (when, whether it matched the answer)."""
    model = JUDGMENTS[queue]
    table = model.__table__
    rows = run.execute(
        select(W.c.gold_answer, A.c.updated_at.label("judged_at"), *table.c)
        .select_from(A.join(W, W.c.id == A.c.work_item_id).join(table, table.c.id == A.c.judgment_id))
        .where(A.c.user_id == user_id, W.c.queue == queue, W.c.is_gold, A.c.status == "done")
        .order_by(A.c.updated_at.desc(), A.c.id.desc())
    )
    return [(row.judged_at, gold_passed(row.gold_answer, row._asdict())) for row in rows]


def _check_window(run: prepared.Runner, queue: str, state: Any, pass_share: float, now: datetime) -> None:
    """Pause a qualified reviewer whose share right of their last WINDOW gold items is below the pass share."""
    scored = [(at, ok) for at, ok in _gold_judgments(run, queue, state.user_id) if ok is not None]
    window = [ok for at, ok in scored if state.counted_from is None or at > state.counted_from][:WINDOW]
    if not window or sum(window) / len(window) >= pass_share:
        return
    since = next((at for at, ok in scored if ok), None)
    mine = and_(A.c.user_id == state.user_id, A.c.status == "done", A.c.judgment_id.is_not(None), W.c.queue == queue)
    if since is not None:
        mine = and_(mine, A.c.updated_at > since)
    rows = run.execute(
        select(A.c.id, A.c.work_item_id, A.c.judgment_id, W.c.is_gold)
        .select_from(A.join(W, W.c.id == A.c.work_item_id))
        .where(mine, ~_kept_elsewhere(queue))
        .order_by(A.c.updated_at)
    )
    judged_rows = [Judged(*row) for row in rows]
    provisional.hold(run, queue=queue, user_id=state.user_id, judged=judged_rows, why="paused", now=now)
    key = {"queue": queue, "user_id": state.user_id}
    _set(run, key, {"status": "paused", "updated_at": now})
    share = round(sum(window) / len(window), 4)
    _audit(
        run,
        None,
        "qualification.pause",
        key,
        "paused",
        {"share": share, "gold_items": len(window), "held": len(judged_rows)},
    )


def _kept_elsewhere(queue: str):
    """Judgments other records point at, which a pause leaves counted: a rating whose flag a lead triaged, a judgment
    drawn into an audit sample."""
    sampled = AuditSampleItem.__table__
    kept = exists().where(sampled.c.queue == queue, sampled.c.judgment_id == A.c.judgment_id)
    if queue == "rating":
        kept = kept | exists().where(FlagTriage.__table__.c.rating_id == A.c.judgment_id)
    return kept


def _set(run: prepared.Runner, key: dict, values: dict) -> None:
    run.execute(update(Q).where(Q.c.queue == key["queue"], Q.c.user_id == key["user_id"]).values(values))


def _audit(run: prepared.Runner, actor_id: int | None, action: str, key: dict, status: str, more: dict | None = None):
    audit.record(
        run, actor_id=actor_id, action=action, entity="qualification", after=key | {"status": status} | (more or {})
    )


def _require(run: prepared.Runner, queue: str, user_id: int, statuses: tuple[str, ...], what: str) -> Any:
    state = run.first(_state_statement(), {"queue": queue, "user_id": user_id})
    if state is None or state.status not in statuses:
        now_status = "has no standing there" if state is None else f"is {state.status}"
        raise QualificationError(
            f"Only a reviewer who is {' or '.join(statuses)} on the {queue} queue can be {what}; this one {now_status}."
        )
    return state


def user_id_of(run: prepared.Runner, username: str) -> int:
    found = run.execute(select(User.__table__.c.id).where(User.__table__.c.username == username))
    if not found:
        raise QualificationError(f"no user named {username!r}; see the users on the Users page")
    return found[0][0]


def allow_retry(run: prepared.Runner, *, queue: str, user_id: int, actor_id: int, now: datetime) -> None:
    """A lead lets a reviewer who failed qualify again: a new attempt of the queue's gold items."""
    state = _require(run, queue, user_id, ("failed",), "allowed a retry")
    key = {"queue": queue, "user_id": user_id}
    _set(run, key, {"status": "qualifying", "attempt": state.attempt + 1, "judged": 0, "passed": 0, "updated_at": now})
    _audit(run, actor_id, "qualification.retry", key, "qualifying", {"attempt": state.attempt + 1})


def release(run: prepared.Runner, *, queue: str, user_id: int, actor_id: int, now: datetime) -> int:
    """A lead releases a paused reviewer's held judgments: they count, and the reviewer is qualified again with a
    fresh window of gold items. Returns how many were released."""
    _require(run, queue, user_id, ("paused",), "released")
    rows = provisional.held(run, queue=queue, user_id=user_id, why="paused")
    provisional.release(run, rows, actor_id=actor_id, now=now)
    key = {"queue": queue, "user_id": user_id}
    _set(run, key, {"status": "qualified", "counted_from": now, "updated_at": now})
    _audit(run, actor_id, "qualification.release", key, "qualified", {"released": len(rows)})
    return len(rows)


def discard(run: prepared.Runner, *, queue: str, user_id: int, actor_id: int, now: datetime) -> int:
    """A lead discards a paused reviewer's held judgments (kept, marked discarded); the reviewer qualifies again.
    Returns how many were discarded."""
    state = _require(run, queue, user_id, ("paused",), "discarded")
    rows = provisional.held(run, queue=queue, user_id=user_id, why="paused")
    provisional.discard(run, rows, actor_id=actor_id, now=now)
    key = {"queue": queue, "user_id": user_id}
    values = {"status": "qualifying", "attempt": state.attempt + 1, "judged": 0, "passed": 0, "counted_from": now}
    _set(run, key, values | {"updated_at": now})
    _audit(run, actor_id, "qualification.discard", key, "qualifying", {"discarded": len(rows)})
    return len(rows)


def standings(run: prepared.Runner, queue: str | None = None, user_id: int | None = None) -> list[Standing]:
    """Per reviewer and gated queue (or one of each): their standing and their judgments held."""
    held = (
        select(func.count())
        .where(P.c.queue == Q.c.queue, P.c.user_id == Q.c.user_id, P.c.status == "held")
        .scalar_subquery()
    )
    statement = (
        select(
            Q.c.queue,
            User.__table__.c.username,
            Q.c.status,
            Q.c.attempt,
            Q.c.judged,
            Q.c.passed,
            C.c.qualify,
            C.c.pass_share,
            held,
        )
        .join(User.__table__, User.__table__.c.id == Q.c.user_id)
        .join(C, C.c.name == Q.c.queue)
        .order_by(Q.c.queue, User.__table__.c.username)
    )
    if queue is not None:
        statement = statement.where(Q.c.queue == queue)
    if user_id is not None:
        statement = statement.where(Q.c.user_id == user_id)
    return [Standing(*row) for row in run.execute(statement)]


@dataclass(frozen=True)
class Gate:
    queue: str
    qualify: int  # 0: no gate
    pass_share: float
    gold_items: int  # the most an attempt can take


def gates(run: prepared.Runner) -> list[Gate]:
    """Each queue with gold items: its gate and how many gold items it has."""
    gold = dict(run.execute(select(W.c.queue, func.count()).where(W.c.is_gold).group_by(W.c.queue)))
    saved = {row.name: row for row in run.execute(select(C.c.name, C.c.qualify, C.c.pass_share))}
    default = QueueConfig(name="")
    return [
        Gate(
            queue,
            saved[queue].qualify if queue in saved else default.qualify,
            saved[queue].pass_share if queue in saved else default.pass_share,
            gold.get(queue, 0),
        )
        for queue in JUDGMENTS
    ]


def held_counts(run: prepared.Runner) -> dict[str, int]:
    """Per queue, the judgments held provisional."""
    statement = select(P.c.queue, func.count()).where(P.c.status == "held").group_by(P.c.queue)
    return dict(run.execute(statement))


def last_feedback(run: prepared.Runner, *, queue: str, user_id: int) -> GoldFeedback | None:
    """The reviewer's latest scored qualifying gold item on the queue, with the guideline that decides it."""
    rows = run.execute(
        select(P.c.work_item_id, P.c.gold_passed, P.c.judgment, W.c.gold_answer)
        .join(W, W.c.id == P.c.work_item_id)
        .where(P.c.queue == queue, P.c.user_id == user_id, P.c.why == "qualifying", P.c.gold_passed.is_not(None))
        .order_by(P.c.id.desc())
        .limit(1)
    )
    if not rows:
        return None
    item_id, passed, judgment, answer = rows[0]
    given = {name: judgment.get(name) for name in answer or {}}
    return GoldFeedback(item_id, bool(passed), dict(answer or {}), given, _guideline(queue, answer or {}))


def _guideline(queue: str, answer: dict[str, Any]) -> str:
    """The rubric anchors of the answer's levels (rating), or the queue's guidelines."""
    if queue != "rating":
        return guidelines(queue)
    anchors = rubric()
    return "\n".join(
        f"- **{name} {value}**: {anchors[name]['anchors'][str(value)]}"
        for name, value in answer.items()
        if name in anchors
    )
