"""What the admin's queue page calls: every queue's state and settings, and changing them (one transaction each)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from core import queues
from core.db import session_scope
from core.models import ModelVersion
from core.queues import QueueStatus


@dataclass(frozen=True)
class QueueSettings:
    queue: str
    versions: tuple[str, ...]
    k: int
    gold_share: float
    lease_minutes: int


@dataclass(frozen=True)
class QueueOverview:
    status: list[QueueStatus]
    settings: list[QueueSettings]
    chatbot_versions: list[str]  # what the rating and comparison queues can serve, newest first


def queue_overview(*, engine: Engine | None = None) -> QueueOverview:
    with session_scope(engine) as session:
        settings = [
            QueueSettings(c.name, tuple(c.versions), c.k, c.gold_share, c.lease_minutes)
            for c in (queues.get_config(session, queue) for queue in queues.DEFAULT_K)
        ]
        versions = session.execute(
            select(ModelVersion.name)
            .where(ModelVersion.kind == "chatbot")
            .order_by(ModelVersion.created_at.desc(), ModelVersion.name)
        ).scalars()
        return QueueOverview(queues.queue_status(session), settings, list(versions))


def configure_queue(
    actor_id: int,
    queue: str,
    *,
    versions: list[str],
    k: int,
    gold_share: float,
    lease_minutes: int,
    engine: Engine | None = None,
) -> QueueSettings:
    """Save a queue's settings (audited) and bring its work items in line; raises QueueError when refused."""
    with session_scope(engine, write=True) as session:
        config = queues.configure(
            session,
            queue=queue,
            actor_id=actor_id,
            versions=versions,
            k=k,
            gold_share=gold_share,
            lease_minutes=lease_minutes,
        )
        return QueueSettings(config.name, tuple(config.versions), config.k, config.gold_share, config.lease_minutes)
