"""Judgments held out of the judgment tables (core.store.models.ProvisionalJudgment): moved out of their table with
their work item's count, put back by a release, or kept marked discarded for the audit trail. Each step is an audit
event. Reports, k, agreement, KPIs, snapshots and retraining read the judgment tables alone, so a held judgment is
absent from all of them without a filter of their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, delete, insert, select, update

from core import audit
from core.review.cursors import order_changed
from core.store import prepared
from core.store.models import (
    Assignment,
    Comparison,
    ModerationLabel,
    ProvisionalJudgment,
    Rating,
    WorkItem,
)

JUDGMENTS = {"rating": Rating, "comparison": Comparison, "moderation": ModerationLabel}  # the gated queues' tables
A, W, P = Assignment.__table__, WorkItem.__table__, ProvisionalJudgment.__table__


@dataclass(frozen=True)
class Judged:
    """A judgment to hold: its assignment, item and row."""

    assignment_id: int
    work_item_id: int
    judgment_id: int
    is_gold: bool
    gold_passed: bool | None = None


def hold(run: prepared.Runner, *, queue: str, user_id: int, judged: list[Judged], why: str, now: datetime) -> None:
    """Move the judgments out of their table: their items count one judgment less (and reopen below k), the
    assignments stay done (the reviewer is not served the item again) without a judgment."""
    table = JUDGMENTS[queue].__table__
    for one in judged:
        row = run.execute(select(*table.c).where(table.c.id == one.judgment_id))[0]
        kept = {name: _plain(value) for name, value in row._asdict().items()}
        values = {"queue": queue, "work_item_id": one.work_item_id, "user_id": user_id, "judgment": kept}
        values |= {"why": why, "gold_passed": one.gold_passed, "status": "held", "created_at": now}
        held_id = run.execute(insert(P).values(values).returning(P.c.id))[0][0]
        run.execute(delete(table).where(table.c.id == one.judgment_id))
        run.execute(update(A).where(A.c.id == one.assignment_id).values(judgment_id=None))
        _count(run, one.work_item_id, -1)
        audit.record(
            run,
            actor_id=None,
            action="provisional_judgment.hold",
            entity="provisional_judgment",
            entity_id=held_id,
            before={"table": table.name, "judgment_id": one.judgment_id},
            after={"queue": queue, "user_id": user_id, "work_item_id": one.work_item_id, "why": why},
        )
    if any(not one.is_gold for one in judged):
        order_changed(run, queue)  # items reopened: reviewers' cursors may have passed them


def held(run: prepared.Runner, *, queue: str, user_id: int, why: str) -> list[Any]:
    """The reviewer's judgments held on the queue for this reason, oldest first."""
    mine = (P.c.queue == queue, P.c.user_id == user_id, P.c.status == "held", P.c.why == why)
    return run.execute(select(*P.c).where(*mine).order_by(P.c.id))


def release(run: prepared.Runner, rows: list[Any], *, actor_id: int | None, now: datetime) -> None:
    """Put held judgments back into their table (a new id, the rest as it was): they count again, from k on."""
    for row in rows:
        table = JUDGMENTS[row.queue].__table__
        values = _restored(table, row.judgment)
        judgment_id = run.execute(insert(table).values(values).returning(table.c.id))[0][0]
        mine = (A.c.work_item_id == row.work_item_id, A.c.user_id == row.user_id)
        run.execute(update(A).where(*mine).values(judgment_id=judgment_id))
        _count(run, row.work_item_id, 1)
        _decide(run, row, "released", actor_id, now, {"judgment_id": judgment_id})
    if rows:
        order_changed(run, rows[0].queue)  # items closed at k again


def discard(run: prepared.Runner, rows: list[Any], *, actor_id: int | None, now: datetime) -> None:
    """Keep held judgments out for good: the rows stay, marked discarded, for the audit trail."""
    for row in rows:
        _decide(run, row, "discarded", actor_id, now, {})


ACTIONS = {"released": "release", "discarded": "discard"}  # a decision's status -> its audit action


def _decide(run: prepared.Runner, row: Any, status: str, actor_id: int | None, now: datetime, after: dict) -> None:
    values = {"status": status, "decided_by": actor_id, "decided_at": now}
    run.execute(update(P).where(P.c.id == row.id).values(values))
    audit.record(
        run,
        actor_id=actor_id,
        action=f"provisional_judgment.{ACTIONS[status]}",
        entity="provisional_judgment",
        entity_id=row.id,
        before={"status": "held", "why": row.why},
        after={"status": status, **after},
    )


def _count(run: prepared.Runner, item_id: int, step: int) -> None:
    """One judgment more or less on the item: open while below k (gold items stay open)."""
    counted = update(W).where(W.c.id == item_id)
    run.execute(counted.values(done=W.c.done + step, open=W.c.is_gold | (W.c.done + step < W.c.k)))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _restored(table, kept: dict[str, Any]) -> dict[str, Any]:
    """A kept row's values as its table takes them: times parsed back, without its old id."""
    times = {c.name for c in table.c if isinstance(getattr(c.type, "impl", c.type), DateTime)}
    return {
        name: datetime.fromisoformat(value) if name in times and value is not None else value
        for name, value in kept.items()
        if name != "id"
    }
