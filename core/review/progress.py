"""What a reviewer has left in a queue and has judged today: each count defined once, for the review pages and Home."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Select, bindparam, func, select
from sqlmodel import Session, SQLModel

from core.review.cursors import seen_by
from core.review.standing import assigned_elsewhere
from core.store import prepared
from core.store.models import Adjudication, Comparison, ModerationLabel, Rating, WorkItem, utcnow

# The table that holds each queue's judgments.
JUDGMENTS: dict[str, type[SQLModel]] = {
    "rating": Rating,
    "comparison": Comparison,
    "moderation": ModerationLabel,
    "adjudication": Adjudication,
}


@dataclass(frozen=True)
class Progress:
    done_today: int
    left: int


def start_of_day(now: datetime | None = None) -> datetime:
    """Midnight UTC of `now`'s day: "today" on every page."""
    return (now or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)


def left_for(store: Session | prepared.Runner, user_id: int, queue: str, now: datetime | None = None) -> int:
    """Open items of the queue the reviewer may still take: not judged or skipped by them (nor, on adjudication, a
    disagreement they are part of), nor assigned to another reviewer. Gold items are left out: they are never
    announced."""
    return prepared.on(store).scalar(_left_statement(queue), {"user_id": user_id, "now": now or utcnow()})


def done_today(store: Session | prepared.Runner, user_id: int, queue: str, now: datetime | None = None) -> int:
    """The reviewer's judgments of this queue's kind made since midnight UTC, wherever they were made."""
    return prepared.on(store).scalar(_done_statement(queue), {"user_id": user_id, "since": start_of_day(now)})


def progress(store: Session | prepared.Runner, user_id: int, queue: str, now: datetime | None = None) -> Progress:
    return Progress(done_today(store, user_id, queue, now), left_for(store, user_id, queue, now))


@cache
def _left_statement(queue: str) -> Select:
    w = WorkItem.__table__
    user_id = bindparam("user_id")
    waiting = w.c.queue == queue, w.c.open, ~w.c.is_gold, ~seen_by(queue, user_id)
    waiting += (~assigned_elsewhere(user_id, bindparam("now")),)
    return select(func.count()).select_from(w).where(*waiting)


@cache
def _done_statement(queue: str) -> Select:
    table = JUDGMENTS[queue].__table__
    mine = table.c.user_id == bindparam("user_id"), table.c.created_at >= bindparam("since")
    return select(func.count()).select_from(table).where(*mine)
