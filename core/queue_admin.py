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
    moderation_versions: list[str]  # what can feed the borderline (moderation) queue, newest first

    def choices(self, queue: str) -> list[str] | None:
        """The versions a queue can be set to serve; None for a queue that serves none (adjudication)."""
        if queue in queues.WITHOUT_VERSIONS:
            return None
        return self.moderation_versions if queue == "moderation" else self.chatbot_versions


def queue_overview(*, engine: Engine | None = None) -> QueueOverview:
    with session_scope(engine) as session:
        settings = [
            QueueSettings(c.name, tuple(c.versions), c.k, c.gold_share, c.lease_minutes)
            for c in (queues.get_config(session, queue) for queue in queues.DEFAULT_K)
        ]
        newest_first = ModelVersion.created_at.desc(), ModelVersion.id.desc()
        versions = session.execute(select(ModelVersion.kind, ModelVersion.name).order_by(*newest_first)).all()
        kinds = {kind: [name for k, name in versions if k == kind] for kind in ("chatbot", "moderation")}
        return QueueOverview(queues.queue_status(session), settings, kinds["chatbot"], kinds["moderation"])


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
