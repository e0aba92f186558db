"""The one audit writer: every change of a judgment, a user or a setting appends an event here."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert, bindparam, insert
from sqlmodel import Session

from core.store import prepared
from core.store.models import AuditEvent, utcnow

COLUMNS = ("at", "actor_id", "action", "entity", "entity_id", "before", "after")


def record(
    session: Session | prepared.Runner,
    *,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append an event in the caller's transaction (a Session's, or a core.store.db.write_scope), so it lands exactly
    when the change does (a prepared insert: it sits on the write path of every judgment)."""
    values = {"at": utcnow(), "actor_id": actor_id, "action": action, "entity": entity, "entity_id": entity_id}
    prepared.on(session).rows(_insert(), values | {"before": before, "after": after})


@cache
def _insert() -> Insert:
    return insert(AuditEvent.__table__).values({name: bindparam(name) for name in COLUMNS})
