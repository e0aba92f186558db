"""The audit trail, read only: every audit event, filtered and paged newest first, and its CSV export.

Pages are keyset pages on (at, id): the next page starts strictly after the last event shown, so a page costs the
same at the millionth event as at the first (an OFFSET would read every event before it), and events appended
meanwhile never shift a page. Nothing here writes: callers use a read-only session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import Select, select, text, tuple_
from sqlmodel import Session

from core.reports.csv_safe import write_csv
from core.store.models import AuditEvent, User

PAGE_SIZE = 50
EXPORT_BATCH = 2_000
CSV_HEADER = ("id", "at", "actor", "action", "entity", "entity_id", "before", "after")
SYSTEM = "(system)"  # events with no person behind them: imports, command-line changes, lock-outs


@dataclass(frozen=True)
class TrailFilter:
    """Every field optional: a person (username), an action and an entity (exact), an entity id, a time range."""

    actor: str | None = None
    action: str | None = None
    entity: str | None = None
    entity_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class Cursor:
    at: datetime
    id: int


@dataclass(frozen=True)
class TrailEvent:
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: int | None
    before: dict | None
    after: dict | None

    def row(self) -> tuple[Any, ...]:
        return (self.id, self.at, self.actor, self.action, self.entity, self.entity_id, self.before, self.after)


@dataclass(frozen=True)
class TrailPage:
    events: list[TrailEvent]
    next: Cursor | None  # where the next (older) page starts; None on the last page


@dataclass(frozen=True)
class TrailChoices:
    """What the filters offer: the people and the actions and entities that occur in the trail."""

    actors: list[str]
    actions: list[str]
    entities: list[str]


def _query(filters: TrailFilter, session: Session) -> Select | None:
    query = select(
        AuditEvent.id,
        AuditEvent.at,
        User.username,
        AuditEvent.action,
        AuditEvent.entity,
        AuditEvent.entity_id,
        AuditEvent.before,
        AuditEvent.after,
    ).outerjoin(User, User.id == AuditEvent.actor_id)
    if filters.actor:
        if filters.actor == SYSTEM:
            query = query.where(AuditEvent.actor_id.is_(None))
        else:
            actor_id = session.execute(select(User.id).where(User.username == filters.actor)).scalar_one_or_none()
            if actor_id is None:
                return None
            query = query.where(AuditEvent.actor_id == actor_id)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.entity:
        query = query.where(AuditEvent.entity == filters.entity)
    if filters.entity_id is not None:
        query = query.where(AuditEvent.entity_id == filters.entity_id)
    if filters.start is not None:
        query = query.where(AuditEvent.at >= filters.start)
    if filters.end is not None:
        query = query.where(AuditEvent.at < filters.end)
    return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


def _event(row: Any) -> TrailEvent:
    id_, at, username, action, entity, entity_id, before, after = row
    return TrailEvent(id_, at, username or SYSTEM, action, entity, entity_id, before, after)


def page_query(
    session: Session, filters: TrailFilter = TrailFilter(), *, after: Cursor | None = None, size: int = PAGE_SIZE
) -> Select | None:
    """The query of one page (one row more than `size`, to tell whether another page follows); None when the
    filters match nothing (an unknown person)."""
    query = _query(filters, session)
    if query is None:
        return None
    if after is not None:
        query = query.where(tuple_(AuditEvent.at, AuditEvent.id) < tuple_(after.at, after.id))
    return query.limit(size + 1)


def trail_page(
    session: Session, filters: TrailFilter = TrailFilter(), *, after: Cursor | None = None, size: int = PAGE_SIZE
) -> TrailPage:
    """One page of matching events, newest first, starting after `after` (None: the newest)."""
    query = page_query(session, filters, after=after, size=size)
    if query is None:
        return TrailPage([], None)
    rows = session.execute(query).all()
    events = [_event(row) for row in rows[:size]]
    more = len(rows) > size
    return TrailPage(events, Cursor(events[-1].at, events[-1].id) if more else None)


def iter_trail(
    session: Session, filters: TrailFilter = TrailFilter(), *, limit: int | None = None
) -> Iterator[TrailEvent]:
    """Every matching event, newest first, read a batch (a keyset page) at a time."""
    cursor, given = None, 0
    while True:
        page = trail_page(session, filters, after=cursor, size=EXPORT_BATCH)
        for event in page.events:
            if limit is not None and given >= limit:
                return
            given += 1
            yield event
        if page.next is None:
            return
        cursor = page.next


def write_trail_csv(
    session: Session, out: TextIO, filters: TrailFilter = TrailFilter(), *, limit: int | None = None
) -> int:
    """The matching events as CSV (formula-safe); returns how many were written."""
    return write_csv(out, CSV_HEADER, (event.row() for event in iter_trail(session, filters, limit=limit)))


# Distinct values by a skip scan: one index seek per distinct value, however many events there are.
_DISTINCT = """
WITH RECURSIVE found(value) AS (
    SELECT MIN({column}) FROM audit_event
    UNION ALL
    SELECT (SELECT MIN({column}) FROM audit_event WHERE {column} > found.value) FROM found WHERE found.value IS NOT NULL
)
SELECT value FROM found WHERE value IS NOT NULL
"""


def trail_choices(session: Session) -> TrailChoices:
    actions = list(session.execute(text(_DISTINCT.format(column="action"))).scalars())
    entities = list(session.execute(text(_DISTINCT.format(column="entity"))).scalars())
    actors = list(session.execute(select(User.username).order_by(User.username)).scalars())
    return TrailChoices([SYSTEM, *actors], actions, entities)
