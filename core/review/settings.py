"""A queue's settings: what the admin's Review queues page shows and changes, and gold items."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlmodel import Session

from core import audit
from core.review import active
from core.review.active import STRATEGIES
from core.review.gold import GOLD_FIELDS, answer_problems
from core.review.queues import DEFAULT_K, WITHOUT_VERSIONS, QueueError, QueueStatus, get_config, queue_status
from core.review.skips import SkippedItem, most_skipped
from core.review.sync import sync_queue
from core.store.models import ModelVersion, QueueConfig, WorkItem, utcnow
from core.store.versions import newest_first

SETTINGS = {
    "versions",
    "k",
    "gold_share",
    "lease_minutes",
    "per_dimension",
    "qualify",
    "pass_share",
    "strategy",
    "prefer_uncertain",
}  # what configure changes and audits


@dataclass(frozen=True)
class QueueSettings:
    queue: str
    versions: tuple[str, ...]
    k: int
    gold_share: float
    lease_minutes: int
    per_dimension: bool = False  # comparison: asks left/right/tie per rubric dimension too
    qualify: int = 0  # the qualification gate's gold items per attempt; 0: no gate
    pass_share: float = 0.8  # the share of them a reviewer must get right, and keep getting right
    strategy: str = "random"  # comparison: random (every pair alike) or active (core.review.active)
    prefer_uncertain: bool = False  # comparison, active: the reward model's least sure prompts first


@dataclass(frozen=True)
class QueueOverview:
    status: list[QueueStatus]
    settings: list[QueueSettings]
    chatbot_versions: list[str]  # what the rating and comparison queues can serve, newest first
    moderation_versions: list[str]  # what can feed the borderline (moderation) queue, newest first
    skipped: list[SkippedItem]  # the items skipped most often, and why

    def choices(self, queue: str) -> list[str] | None:
        """The versions a queue can be set to serve; None for a queue that serves none (adjudication)."""
        if queue in WITHOUT_VERSIONS:
            return None
        return self.moderation_versions if queue == "moderation" else self.chatbot_versions


def queue_overview(session: Session) -> QueueOverview:
    settings = [settings_of(get_config(session, queue)) for queue in DEFAULT_K]
    versions = newest_first(session.execute(select(ModelVersion)).scalars())
    kinds = {kind: [v.name for v in versions if v.kind == kind] for kind in ("chatbot", "moderation")}
    return QueueOverview(queue_status(session), settings, kinds["chatbot"], kinds["moderation"], most_skipped(session))


def settings_of(config: QueueConfig) -> QueueSettings:
    return QueueSettings(
        config.name,
        tuple(config.versions),
        config.k,
        config.gold_share,
        config.lease_minutes,
        config.per_dimension,
        config.qualify,
        config.pass_share,
        config.strategy,
        config.prefer_uncertain,
    )


def configure(
    session: Session,
    *,
    queue: str,
    actor_id: int | None,
    versions: list[str] | None = None,
    k: int | None = None,
    gold_share: float | None = None,
    lease_minutes: int | None = None,
    per_dimension: bool | None = None,
    qualify: int | None = None,
    pass_share: float | None = None,
    strategy: str | None = None,
    prefer_uncertain: bool | None = None,
) -> QueueConfig:
    """Change a queue's settings (an audit event), then bring its items in line with them."""
    config = get_config(session, queue)
    before = config.model_dump(include=SETTINGS)
    if k is not None and not 1 <= k <= 10:
        raise QueueError("k (judgments per item) must be between 1 and 10")
    if gold_share is not None and not 0 <= gold_share <= 0.5:
        raise QueueError("the gold share must be between 0 and 0.5")
    if lease_minutes is not None and not 1 <= lease_minutes <= 24 * 60:
        raise QueueError("a lease lasts between 1 minute and 24 hours")
    if per_dimension and queue != "comparison":
        raise QueueError(f"only the comparison queue asks a preference per dimension, not the {queue} queue")
    _check_gate(session, queue, qualify, pass_share)
    if strategy is not None and strategy not in STRATEGIES:
        raise QueueError(f"unknown strategy {strategy!r}: choose {' or '.join(STRATEGIES)}")
    if (strategy is not None or prefer_uncertain is not None) and queue != "comparison":
        raise QueueError(f"only the comparison queue chooses its pairs by a strategy, not the {queue} queue")
    if versions and queue in WITHOUT_VERSIONS:
        raise QueueError(f"the {queue} queue serves items whose labels disagree, not model versions: drop --versions")
    if versions:
        known = set(session.execute(select(ModelVersion.name).where(ModelVersion.name.in_(versions))).scalars())
        if unknown := sorted(set(versions) - known):
            raise QueueError(f"no model version named {', '.join(unknown)}; see the model versions on the data page")
    changes = {
        "versions": versions,
        "k": k,
        "gold_share": gold_share,
        "lease_minutes": lease_minutes,
        "per_dimension": per_dimension,
        "qualify": qualify,
        "pass_share": pass_share,
        "strategy": strategy,
        "prefer_uncertain": prefer_uncertain,
    }
    for name, value in changes.items():
        if value is not None:
            setattr(config, name, sorted(set(value)) if name == "versions" else value)
    config.updated_at = utcnow()
    config = session.merge(config)  # a saved row, or a new one with the defaults
    session.flush()
    if k is not None:
        session.execute(update(WorkItem).where(WorkItem.queue == queue).values(k=k))
    after = config.model_dump(include=SETTINGS)
    audit.record(
        session,
        actor_id=actor_id,
        action="queue.configure",
        entity="queue_config",
        before=before,
        after={"queue": queue, **after},
    )
    sync_queue(session, queue)
    if config.strategy == "active":
        active.refresh(session)
    elif before["strategy"] == "active":
        active.lower(session)
    return config


def _check_gate(session: Session, queue: str, qualify: int | None, pass_share: float | None) -> None:
    """Refuse a qualification gate the queue cannot hold: more gold items than it has, or a share outside (0, 1]."""
    if pass_share is not None and not 0 < pass_share <= 1:
        raise QueueError("the pass share must be above 0 and at most 1 (e.g. 0.8)")
    if qualify is not None and qualify < 0:
        raise QueueError("--qualify takes a number of gold items, or 0 to turn the gate off")
    if not qualify:
        return
    if queue not in GOLD_FIELDS:
        raise QueueError(f"the {queue} queue has no gold items, so it cannot have a qualification gate")
    gold = session.execute(select(func.count()).where(WorkItem.queue == queue, WorkItem.is_gold)).scalar_one()
    if qualify > gold:
        raise QueueError(
            f"the {queue} queue has {gold} gold items, so a qualification can take 1 to {gold} of them, not {qualify}; "
            "make more gold items first"
        )


def mark_gold(session: Session, *, work_item_id: int, answer: dict, actor_id: int | None) -> None:
    """Make an item a gold item with a known answer; it is then mixed in for every reviewer, unannounced."""
    item = session.get(WorkItem, work_item_id)
    if item is None:
        raise QueueError(f"no work item {work_item_id}")
    if problems := answer_problems(item.queue, answer):
        raise QueueError(f"work item {work_item_id} ({item.queue}): " + "; ".join(problems))
    before = {"is_gold": item.is_gold, "gold_answer": item.gold_answer}
    item.is_gold, item.gold_answer, item.open = True, answer, True
    session.add(item)
    audit.record(
        session,
        actor_id=actor_id,
        action="work_item.gold",
        entity="work_item",
        entity_id=item.id,
        before=before,
        after={"is_gold": True, "gold_answer": answer},
    )
