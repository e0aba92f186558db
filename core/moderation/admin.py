"""What the admin's moderation section of the Data page shows and changes: the classifier versions with their
thresholds and bands, how much of the pool is embedded, and the latest retrain's summary."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from core import queues
from core.db import session_scope
from core.models import ModerationItem
from core.moderation import borderline
from core.moderation.embeddings import default_embedder, store_for
from core.moderation.metrics import RetrainSummary, latest_retrain


@dataclass(frozen=True)
class VersionLine:
    name: str
    threshold: float
    band: float
    feeds_queue: bool


@dataclass(frozen=True)
class ClassifierOverview:
    versions: list[VersionLine]  # newest first
    items: int
    embedded: int  # items with a stored MiniLM embedding
    latest: RetrainSummary | None


def classifier_overview(engine: Engine | None = None) -> ClassifierOverview:
    with session_scope(engine) as session:
        config = queues.get_config(session, "moderation")
        feeding = {v.name for v in borderline.feeding_versions(session, config)}
        versions = [
            VersionLine(v.name, v.threshold, v.band, v.name in feeding) for v in borderline.moderation_versions(session)
        ]
        items = session.execute(select(func.count()).select_from(ModerationItem)).scalar_one()
        latest = latest_retrain(session)
    embedded = len(store_for(default_embedder(), engine).ids())
    return ClassifierOverview(versions, items, embedded, latest)


def set_threshold(
    version: str, *, threshold: float, band: float, actor_id: int | None, engine: Engine | None = None
) -> borderline.VersionSettings:
    """Set a version's threshold and band and rebuild the borderline queue (one transaction, audited)."""
    with session_scope(engine, write=True) as session:
        return borderline.set_threshold(session, version=version, threshold=threshold, band=band, actor_id=actor_id)
