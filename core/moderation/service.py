"""What the admin's moderation section and `python -m core moderation` call: the classifier's versions and their
thresholds, embedding the pool, and retraining. One function per action, each checked against the rule table."""

from __future__ import annotations

from sqlalchemy import Engine

from core.auth import UserPublic, guarded
from core.moderation import classifier, embeddings, gate
from core.moderation import retrain as retraining
from core.moderation.borderline import VersionSettings
from core.moderation.classifier import ClassifierOverview, VersionLine
from core.moderation.embeddings import EmbedSummary, Progress
from core.moderation.metrics import RetrainSummary
from core.store.db import session_scope


@guarded("moderation.read")
def classifier_overview(*, actor: UserPublic, engine: Engine | None = None) -> ClassifierOverview:
    """The versions with their thresholds and bands, how much of the pool is embedded, the latest retrain."""
    embedded = len(embeddings.store_for(embeddings.default_embedder(), engine).ids())
    with session_scope(engine) as session:
        return classifier.overview(session, embedded=embedded)


@guarded("moderation.read")
def versions(*, actor: UserPublic, engine: Engine | None = None) -> list[VersionLine]:
    with session_scope(engine) as session:
        return classifier.version_lines(session)


@guarded("moderation.threshold")
def set_threshold(
    *,
    actor: UserPublic,
    version: str,
    threshold: float | None = None,
    band: float | None = None,
    engine: Engine | None = None,
) -> VersionSettings:
    """Set a version's threshold and band and rebuild the borderline queue (one transaction, audited)."""
    with session_scope(engine, write=True) as session:
        return classifier.set_threshold(session, version=version, threshold=threshold, band=band, actor_id=actor.id)


@guarded("moderation.promote")
def promote(*, actor: UserPublic, version: str, engine: Engine | None = None) -> VersionSettings:
    """Promote a version by hand: it feeds the borderline queue in place of the current one, and the queue is
    rebuilt (one transaction, audited)."""
    with session_scope(engine, write=True) as session:
        return gate.promote_by_name(session, name=version, actor_id=actor.id)


@guarded("moderation.retrain")
def embed(*, actor: UserPublic, progress: Progress | None = None, engine: Engine | None = None) -> EmbedSummary:
    """Embed the items that have no stored embedding yet (resumable)."""
    return embeddings.embed_missing(engine, progress=progress)


@guarded("moderation.retrain")
def retrain(
    *,
    actor: UserPublic,
    name: str | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    progress: retraining.Progress | None = None,
    engine: Engine | None = None,
) -> RetrainSummary:
    """Retrain on the final human labels, re-score every item and rebuild the queue (audited)."""
    return retraining.retrain(engine, name=name, test_size=test_size, seed=seed, actor_id=actor.id, progress=progress)
