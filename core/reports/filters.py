"""What an A/B report is asked for (two versions, a time range, a topic), checked against the store."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, select, true
from sqlmodel import Session

from core.store.models import ModelVersion, Prompt
from core.store.versions import oldest_first

NO_TOPIC = "(no topic)"


class ReportError(Exception):
    """A report cannot be made as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Filters:
    """Versions A (the baseline) and B (the candidate); `since` and `until` are days (UTC), both included."""

    a: str
    b: str
    since: date | None = None
    until: date | None = None
    topic: str | None = None

    def window(self, column: Any) -> ColumnElement[bool]:
        """`column` (a time) within the days asked for."""
        conditions = []
        if self.since:
            conditions.append(column >= datetime.combine(self.since, time(), UTC))
        if self.until:
            conditions.append(column < datetime.combine(self.until + timedelta(days=1), time(), UTC))
        return and_(true(), *conditions)

    def describe(self) -> str:
        days = f"{self.since or 'the start'} to {self.until or 'today'}"
        return f"A = {self.a}, B = {self.b}; {days}" + (f"; topic {self.topic}" if self.topic else "")


def version_ids(session: Session, filters: Filters, kind: str) -> tuple[int, int]:
    """The ids of A and B, which must be two different versions of this kind."""
    if filters.since and filters.until and filters.since > filters.until:
        raise ReportError(f"the time range starts ({filters.since}) after it ends ({filters.until})")
    if filters.a == filters.b:
        raise ReportError(f"A and B are both {filters.a!r}: choose two different versions")
    found = dict(
        session.execute(
            select(ModelVersion.name, ModelVersion.id).where(
                ModelVersion.name.in_([filters.a, filters.b]), ModelVersion.kind == kind
            )
        ).all()
    )
    for name in (filters.a, filters.b):
        if name not in found:
            known = version_names(session, kind)
            raise ReportError(
                f"no {kind} version named {name!r}; known {kind} versions: {', '.join(known) or '(none yet)'}"
            )
    return found[filters.a], found[filters.b]


def version_names(session: Session, kind: str) -> list[str]:
    """Names of the versions of one kind (chatbot, moderation), oldest first."""
    query = select(ModelVersion.id, ModelVersion.name, ModelVersion.created_at).where(ModelVersion.kind == kind)
    return [version.name for version in oldest_first(session.execute(query))]


def version_kind(session: Session, name: str) -> str | None:
    return session.execute(select(ModelVersion.kind).where(ModelVersion.name == name)).scalar_one_or_none()


def topic_names(session: Session) -> list[str]:
    query = select(Prompt.topic).where(Prompt.topic.is_not(None)).distinct().order_by(Prompt.topic)
    return list(session.execute(query).scalars())


def plain(value: Any) -> Any:
    """A value for JSON: NaN and infinity become None, numpy numbers Python numbers, dates ISO strings."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
