"""The promotion gate for moderation classifier versions (the decision itself: core.jobs.gate), and promotion.

"Current" is the version the borderline queue follows: the newest of the versions feeding it (its band decides). A
retrain compares its new version with that one on the same held-out items (the retrain's test split, those the
current version scored) by F1 of the "toxic" class, and decides in the same transaction that registers the version.

Promotion means the new version feeds the queue in place of the current one:
- with the queue's versions left to the default, the newest two versions that are not candidates feed it: the
  promoted version (whose band decides) and the one before it (a second opinion where they disagree);
- with versions configured (`python -m core queue configure moderation --versions ...`), the promoted version
  replaces the current one in that list.
A version held back stays a candidate: it has scored every item, but feeds no queue until a person promotes it
(`python -m core moderation promote VERSION`, or the Data page) or names it in the queue's versions."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlmodel import Session

from core import audit
from core.jobs.gate import GateDecision, decide, gate_settings, record
from core.moderation import ModerationError
from core.moderation.borderline import VersionSettings, feeding_versions, moderation_versions, version_settings
from core.review.queues import get_config
from core.review.sync import sync_queue
from core.store.models import ModelVersion, utcnow


def current_version(session: Session) -> VersionSettings | None:
    """The version the moderation queue follows now: the newest feeding it."""
    return next(iter(feeding_versions(session, get_config(session, "moderation"))), None)


def gate_version(
    session: Session, version: ModelVersion, current: VersionSettings | None, joint: np.ndarray | None
) -> GateDecision:
    """In the caller's transaction (a retrain's, before the queue is rebuilt): decide on a new version against the
    current one from the joint cells of the held-out items (current as A, new as B), store the decision on the
    version, audit it, and promote the version when it passes and automatic promotion is on; else it is a candidate.
    """
    settings = gate_settings(session, "moderation")
    decision = decide(
        kind="moderation",
        candidate=version.name,
        current=current.name if current else None,
        joint=joint,
        auto_promote=settings.auto_promote,
        margin=settings.margin,
    )
    version.meta = dict(version.meta or {}) | {"gate": decision.as_dict(), "candidate": True}
    session.add(version)
    session.flush()
    record(session, decision, entity="model_version", entity_id=version.id, actor_id=None)
    if decision.promoted:
        promote(session, version, actor_id=None)
    return decision


def promote(session: Session, version: ModelVersion, *, actor_id: int | None) -> VersionSettings | None:
    """In the caller's transaction: the version feeds the moderation queue in place of the current one (see the module
    docstring); audited. The caller rebuilds the queue. The version it replaced, if any."""
    config = get_config(session, "moderation")
    current = next(iter(feeding_versions(session, config)), None)
    meta = dict(version.meta or {})
    meta.pop("candidate", None)
    version.meta = meta | {"promoted_at": utcnow().isoformat()}
    session.add(version)
    if config.versions:
        replaced = {current.name} if current else set()
        config.versions = sorted((set(config.versions) - replaced) | {version.name})
        config.updated_at = utcnow()
        session.merge(config)  # detached (core.review.queues.get_config): merged into this transaction
    session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        action="model_version.promote",
        entity="model_version",
        entity_id=version.id,
        before={"current": current.name if current else None},
        after={"current": version.name, "queue_versions": list(config.versions) or "default"},
    )
    return current


def promote_by_name(session: Session, *, name: str, actor_id: int | None) -> VersionSettings:
    """A person promotes a version (a candidate, or any other): it feeds the queue in place of the current one, and
    the queue is rebuilt. Refused for an unknown version or the current one."""
    stored = session.execute(select(ModelVersion).where(ModelVersion.name == name)).scalar_one_or_none()
    if stored is None or stored.kind != "moderation":
        names = ", ".join(v.name for v in moderation_versions(session)) or "none yet"
        raise ModerationError(f"no moderation classifier version {name!r}; versions: {names}")
    current = current_version(session)
    if current is not None and current.id == stored.id:
        raise ModerationError(f"{name} is the current version already: it feeds the moderation queue")
    promote(session, stored, actor_id=actor_id)
    sync_queue(session, "moderation")
    return version_settings(stored)
