"""Which moderation items need human eyes: the borderline queue's rule, and the adjudication queue's.

- moderation (borderline): an item is borderline when its score by the newest of the queue's classifier versions that
  scored it lies within that version's band around its threshold, or when another of the queue's versions predicts
  the other label. The closer the score to the threshold, the higher the priority (most uncertain first). Adjudicated
  items are done.
- adjudication: an item whose labels disagree (any two of them, imported ones too).

Which versions feed the moderation queue: its configured versions (`python -m core queue configure moderation
--versions ...`); with none configured (the default) the newest moderation version and the one registered before it,
so a retrained version takes over the queue as soon as it is registered. Each version has its own threshold and band
(kept in ModelVersion.meta; default 0.5 and 0.15), set with `python -m core moderation threshold` or the Data page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, Select, cast, exists, false, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session

from core import audit
from core.models import Adjudication, ModelVersion, ModerationItem, ModerationLabel, ModerationScore, QueueConfig
from core.moderation import ModerationError

DEFAULT_THRESHOLD = 0.5
DEFAULT_BAND = 0.15
PRIORITY_SCALE = 10_000  # priority = PRIORITY_SCALE * (1 - distance to the threshold), an integer
EDGE = 1e-9  # a score exactly at the band's edge is inside it, whatever the floating-point rounding


@dataclass(frozen=True)
class VersionSettings:
    id: int
    name: str
    threshold: float
    band: float
    created_at: datetime


def _settings(version: ModelVersion) -> VersionSettings:
    meta = version.meta or {}
    return VersionSettings(
        version.id,
        version.name,
        float(meta.get("threshold", DEFAULT_THRESHOLD)),
        float(meta.get("band", DEFAULT_BAND)),
        version.created_at,
    )


def moderation_versions(session: Session) -> list[VersionSettings]:
    """Every moderation classifier version with its threshold and band, newest (last registered) first."""
    versions = session.execute(
        select(ModelVersion)
        .where(ModelVersion.kind == "moderation")
        .order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
    ).scalars()
    return [_settings(v) for v in versions]


def feeding_versions(session: Session, config: QueueConfig) -> list[VersionSettings]:
    """The versions that feed the moderation queue, newest first: the first one's band decides, the others can
    disagree with it."""
    versions = moderation_versions(session)
    if config.versions:
        return [v for v in versions if v.name in config.versions]
    return versions[:2]


def set_threshold(
    session: Session, *, version: str, actor_id: int | None, threshold: float | None = None, band: float | None = None
) -> VersionSettings:
    """Change a version's threshold and/or band (an audit event), then rebuild the moderation queue."""
    from core.queue_sync import sync_queue

    stored = session.execute(select(ModelVersion).where(ModelVersion.name == version)).scalar_one_or_none()
    if stored is None or stored.kind != "moderation":
        names = ", ".join(v.name for v in moderation_versions(session)) or "none yet: import moderation scores"
        raise ModerationError(f"no moderation classifier version {version!r}; versions: {names}")
    if threshold is not None and not 0 < threshold < 1:
        raise ModerationError("the threshold must lie between 0 and 1 (exclusive), e.g. 0.5")
    if band is not None and not 0 < band <= 0.5:
        raise ModerationError("the band must be above 0 and at most 0.5, e.g. 0.15 (scores within ±0.15)")
    before = _settings(stored)
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
    return _settings(stored)


def borderline_subjects(session: Session, config: QueueConfig) -> Select:
    """(item id, 0, arrival, priority) of every borderline item, for core.queue_sync. Each item is judged by the
    newest feeding version that scored it (so items a newer version has not scored yet keep their place).

    One branch per version, joined by UNION ALL: each reads its own scores along the version's index with its own
    threshold and band as constants, and looks for newer scores only when there are newer versions. One query for
    all versions, with per-row CASEs over them, took two and a half times as long at a million scores."""
    versions = feeding_versions(session, config)
    if not versions:
        return select(ModerationItem.id, literal(0), ModerationItem.created_at, literal(0)).where(false())
    ids = [v.id for v in versions]
    branches = [_borderline_of(v, newer=ids[:n], others=ids[:n] + ids[n + 1 :]) for n, v in enumerate(versions)]
    if len(branches) == 1:
        return branches[0]
    every = union_all(*branches).subquery()
    return select(*every.c)


def _borderline_of(version: VersionSettings, newer: list[int], others: list[int]) -> Select:
    """The borderline items that `version` judges: scored by none of the `newer` versions, and near its threshold
    or given the other label by one of the `others`."""
    score, other = aliased(ModerationScore), aliased(ModerationScore)
    distance = func.abs(score.score - version.threshold)
    borderline = distance <= version.band + EDGE
    if others:
        disagrees = exists().where(
            other.item_id == score.item_id,
            other.model_version_id.in_(others),
            other.predicted_label != score.predicted_label,
        )
        borderline = or_(borderline, disagrees)
    adjudicated = exists().where(Adjudication.item_id == score.item_id)
    judged_here = [score.model_version_id == version.id, borderline, ~adjudicated]
    if newer:
        judged_here.append(~exists().where(other.item_id == score.item_id, other.model_version_id.in_(newer)))
    priority = cast(PRIORITY_SCALE - func.round(distance * PRIORITY_SCALE), Integer)
    return (
        select(score.item_id, literal(0), ModerationItem.created_at, priority)
        .join(ModerationItem, ModerationItem.id == score.item_id)
        .where(*judged_here)
    )


def disagreement_subjects() -> Select:
    """(item id, 0, when the labels came, 0) of every item whose labels disagree, for core.queue_sync."""
    return (
        select(ModerationLabel.item_id, literal(0), func.max(ModerationLabel.created_at), literal(0))
        .group_by(ModerationLabel.item_id)
        .having(func.count(func.distinct(ModerationLabel.label)) > 1)
    )


def label_judgments() -> Select:
    """(item id, 0, user id, label id, at) of the labels our users made (in the app or imported)."""
    return select(
        ModerationLabel.item_id, literal(0), ModerationLabel.user_id, ModerationLabel.id, ModerationLabel.created_at
    ).where(ModerationLabel.user_id.is_not(None))


def adjudication_judgments() -> Select:
    return select(Adjudication.item_id, literal(0), Adjudication.user_id, Adjudication.id, Adjudication.created_at)


def has_disagreement(session: Session, item_id: int) -> bool:
    labels = select(func.count(func.distinct(ModerationLabel.label))).where(ModerationLabel.item_id == item_id)
    return session.execute(labels).scalar_one() > 1
