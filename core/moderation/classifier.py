"""The moderation classifier's versions as the admin sees and sets them: thresholds and bands, which versions feed the
borderline queue, how much of the pool is embedded, and the latest retrain's summary."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from core import audit
from core.jobs.gate import GateDecision
from core.moderation import ModerationError
from core.moderation.borderline import VersionSettings, feeding_versions, moderation_versions, version_settings
from core.moderation.metrics import RetrainSummary, latest_retrain
from core.review.queues import get_config
from core.review.sync import sync_queue
from core.store.models import ModelVersion, ModerationItem


@dataclass(frozen=True)
class VersionLine:
    name: str
    threshold: float
    band: float
    feeds_queue: bool
    current: bool = False  # the newest feeding the queue: the one the promotion gate compares a new version with
    candidate: bool = False  # held back by the promotion gate and not promoted since
    gate: GateDecision | None = None  # the gate's decision on it (a retrained version)

    @property
    def status(self) -> str:
        """ "current", "feeds the queue", "candidate" or "" """
        if self.current:
            return "current"
        return "feeds the queue" if self.feeds_queue else "candidate" if self.candidate else ""


@dataclass(frozen=True)
class ClassifierOverview:
    versions: list[VersionLine]  # newest first
    items: int
    embedded: int  # items with a stored MiniLM embedding
    latest: RetrainSummary | None


def version_lines(session: Session) -> list[VersionLine]:
    """Every classifier version, newest first, with its threshold and band, whether it feeds the queue, and the
    promotion gate's decision on it."""
    feeding = [v.name for v in feeding_versions(session, get_config(session, "moderation"))]
    metas = dict(
        session.execute(select(ModelVersion.name, ModelVersion.meta).where(ModelVersion.kind == "moderation")).all()
    )
    return [
        VersionLine(
            v.name,
            v.threshold,
            v.band,
            v.name in feeding,
            v.name == next(iter(feeding), None),
            v.candidate,
            GateDecision.from_dict((metas.get(v.name) or {}).get("gate")),
        )
        for v in moderation_versions(session)
    ]


def overview(session: Session, *, embedded: int) -> ClassifierOverview:
    items = session.execute(select(func.count()).select_from(ModerationItem)).scalar_one()
    return ClassifierOverview(version_lines(session), items, embedded, latest_retrain(session))


def set_threshold(
    session: Session, *, version: str, actor_id: int | None, threshold: float | None = None, band: float | None = None
) -> VersionSettings:
    """Change a version's threshold and/or band (an audit event), then rebuild the moderation queue."""
    stored = session.execute(select(ModelVersion).where(ModelVersion.name == version)).scalar_one_or_none()
    if stored is None or stored.kind != "moderation":
        names = ", ".join(v.name for v in moderation_versions(session)) or "none yet: import moderation scores"
        raise ModerationError(f"no moderation classifier version {version!r}; versions: {names}")
    if threshold is not None and not 0 < threshold < 1:
        raise ModerationError("the threshold must lie between 0 and 1 (exclusive), e.g. 0.5")
    if band is not None and not 0 < band <= 0.5:
        raise ModerationError("the band must be above 0 and at most 0.5, e.g. 0.15 (scores within ±0.15)")
    before = version_settings(stored)
    meta = dict(stored.meta or {})
    meta["threshold"] = before.threshold if threshold is None else threshold
    meta["band"] = before.band if band is None else band
    stored.meta = meta
    session.add(stored)
    audit.record(
        session,
        actor_id=actor_id,
        action="model_version.threshold",
        entity="model_version",
        entity_id=stored.id,
        before={"threshold": before.threshold, "band": before.band},
        after={"threshold": meta["threshold"], "band": meta["band"]},
    )
    session.flush()
    sync_queue(session, "moderation")
    return version_settings(stored)
