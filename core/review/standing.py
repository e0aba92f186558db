"""Named assignments as the hot path sees them (core.review.assignment makes and takes them back).

An assignment stands while it has not ended and its due time has not passed: its item then goes to its reviewer first
(core.review.queues) and to nobody else. The write path ends it when its reviewer judges or skips the item. A due time
needs no write to take effect: past it, the assignment no longer stands, and the item is back in the pool."""

from __future__ import annotations

from functools import cache

from sqlalchemy import ColumnElement, Update, and_, bindparam, case, exists, or_, select, update

from core.store import prepared
from core.store.models import NamedAssignment, WorkItem

N, W = NamedAssignment.__table__, WorkItem.__table__


def standing(now) -> ColumnElement[bool]:
    """The named assignment stands at `now`: not ended, not past its due time."""
    return and_(N.c.ended_at.is_(None), or_(N.c.due_at.is_(None), N.c.due_at > now))


def assigned_elsewhere(user_id, now) -> ColumnElement[bool]:
    """The work item (W) stands assigned to another reviewer than `user_id`: one probe of the standing index."""
    return exists().where(N.c.work_item_id == W.c.id, N.c.user_id != user_id, standing(now))


def assigned(item_id) -> ColumnElement[bool]:
    """A named assignment of the item has not ended (standing, or past its due time and not closed yet)."""
    return exists().where(N.c.work_item_id == item_id, N.c.ended_at.is_(None))


def end(run: prepared.Runner, *, item_id: int, user_id: int, outcome: str, now) -> None:
    """In the write path's transaction: the reviewer's assignment of the item ends with `outcome` (done, skipped); on
    an item that their judgment closed, another reviewer's ends as "closed" (the judging reviewer held it before it
    was assigned), or "expired" if past its due time (the item was back in the pool)."""
    run.rows(_end_statement(), {"item_id": item_id, "user_id": user_id, "outcome": outcome, "now": now})


@cache
def _end_statement() -> Update:
    """(values: item_id, user_id, outcome, now)"""
    user_id = bindparam("user_id")
    closed = ~select(W.c.open).where(W.c.id == bindparam("item_id")).scalar_subquery()
    ended = update(N).where(N.c.work_item_id == bindparam("item_id"), N.c.ended_at.is_(None))
    ended = ended.where(or_(N.c.user_id == user_id, closed))
    outcome = case(
        (N.c.user_id == user_id, bindparam("outcome")), (N.c.due_at <= bindparam("now"), "expired"), else_="closed"
    )
    return ended.values(ended_at=bindparam("now"), outcome=outcome)
