"""The one audit writer: every change of a judgment, a user or a setting appends an event here."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from core.models import AuditEvent


def record(
    session: Session,
    *,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event in the caller's transaction, so it lands exactly when the change does."""
    event = AuditEvent(actor_id=actor_id, action=action, entity=entity, entity_id=entity_id, before=before, after=after)
    session.add(event)
    return event
