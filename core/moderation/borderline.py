"""Which moderation items need human eyes: the borderline queue's rule, and the adjudication queue's.

- moderation (borderline): an item is borderline when its score by the newest of the queue's classifier versions that
  scored it lies within that version's band around its threshold, or when another of the queue's versions predicts
  the other label. The closer the score to the threshold, the higher the priority (most uncertain first). Adjudicated
  items are done.
- adjudication: an item whose labels disagree (any two of them, imported ones too).

Which versions feed the moderation queue: its configured versions (`python -m core queue configure moderation
--versions ...`); with none configured (the default) the newest two moderation versions that are not candidates, so
a retrained version takes over the queue as soon as the promotion gate (core.moderation.gate) or a person promotes
it; a version held back by the gate is a candidate and feeds nothing. Each version has its own threshold and band
(kept in ModelVersion.meta; default 0.5 and 0.15), set with `python -m core moderation threshold` or the Data page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Integer, Select, bindparam, cast, exists, false, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session

from core.store import prepared
from core.store.models import Adjudication, ModelVersion, ModerationItem, ModerationLabel, ModerationScore, QueueConfig
from core.store.versions import newest_first

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
    candidate: bool = False  # held back by the promotion gate, not promoted since: feeds no queue by default


def version_settings(version: ModelVersion | tuple) -> VersionSettings:
    """A version's threshold and band (kept in its meta), from its row."""
    meta = version.meta or {}
    return VersionSettings(
        version.id,
        version.name,
        float(meta.get("threshold", DEFAULT_THRESHOLD)),
        float(meta.get("band", DEFAULT_BAND)),
        version.created_at,
        bool(meta.get("candidate", False)),
    )


@cache
def _versions_statement() -> Select:
    v = ModelVersion.__table__
    return select(v.c.id, v.c.name, v.c.meta, v.c.created_at).where(v.c.kind == "moderation")


def moderation_versions(store: Session | prepared.Runner) -> list[VersionSettings]:
    """Every moderation classifier version with its threshold and band, newest (last registered) first."""
    return [version_settings(row) for row in newest_first(prepared.on(store).rows(_versions_statement(), {}))]


def feeding_versions(store: Session | prepared.Runner, config: QueueConfig) -> list[VersionSettings]:
    """The versions that feed the moderation queue, newest first: the first one's band decides, the others can
    disagree with it."""
    versions = moderation_versions(store)
    if config.versions:
        return [v for v in versions if v.name in config.versions]
    return [v for v in versions if not v.candidate][:2]


def borderline_subjects(store: Session | prepared.Runner, config: QueueConfig) -> Select:
    """(item id, 0, arrival, priority) of every borderline item, for core.review.sync. Each item is judged by the
    newest feeding version that scored it (so items a newer version has not scored yet keep their place).

    One branch per version, joined by UNION ALL: each reads its own scores along the version's index with its own
    threshold and band as constants, and looks for newer scores only when there are newer versions. One query for
    all versions, with per-row CASEs over them, took two and a half times as long at a million scores."""
    versions = feeding_versions(store, config)
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
    """(item id, 0, when the labels came, 0) of every item whose labels disagree, for core.review.sync."""
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


def has_disagreement(store: Session | prepared.Runner, item_id: int) -> bool:
    return prepared.on(store).scalar(_labels_statement(), {"item_id": item_id}) > 1


@cache
def _labels_statement() -> Select:
    """How many different labels an item has (value: item_id)."""
    labels = ModerationLabel.__table__
    return select(func.count(func.distinct(labels.c.label))).where(labels.c.item_id == bindparam("item_id"))
