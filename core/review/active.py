"""Active comparison selection: the comparison queue serves first the pairs of versions whose comparison settles the
leaderboard most (core.stats.pair_design), instead of every pair alike.

The take itself is unchanged (core.review.queues: highest priority first, then oldest). A refresh, run every EVERY
comparisons and when the queue's settings change, plans the next EVERY comparisons from the battle counts of the
queue's versions (core.reports.ab.leaderboard.battle_counts, one index scan) and raises that many open items of each
planned pair above 0 (each pair's first item highest, then each pair's second, and so on), every other open item
going back to 0: EVERY rows at most, each pair's items one range of ix_work_item_pair. Once those are taken, the
rest are served in the usual order until the next refresh. With `prefer_uncertain` and an active reward model, a
pair's items on which the reward model is least sure (the smallest difference of the two answers' rewards) come
first, oldest first otherwise.

A refresh bumps the queue's order generation first (core.review.cursors), so reviewers' cursors restart; on
PostgreSQL that row's lock also serialises two refreshes, the second reading what the first committed."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Select, and_, bindparam, func, null, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from core.reports.ab.leaderboard import battle_counts
from core.reports.filters import Filters
from core.review.cursors import order_changed
from core.review.queues import get_config
from core.stats.bradley_terry import Battles
from core.stats.pair_design import plan
from core.store import prepared
from core.store.models import ModelVersion, RewardModelRun, RewardScore, WorkItem

STRATEGIES = ("random", "active")
EVERY = 50  # comparisons between two refreshes, and the size of the batch each plans
QUEUE = "comparison"
W = WorkItem.__table__


def due(judgment_id: int) -> bool:
    """Whether this comparison (its id) is one after which the order is planned again: every EVERY-th, counted by
    the store's ids so that every process agrees without keeping a count."""
    return judgment_id % EVERY == 0


def refresh(session: Session) -> int:
    """Plan the next comparisons and raise their items in place of those raised before (in the caller's write
    transaction), when the queue's strategy is active; returns how many items are raised."""
    config = get_config(session, QUEUE)
    if config.strategy != "active":
        return 0
    order_changed(prepared.on(session), QUEUE)  # first: the lock that serialises refreshes on PostgreSQL
    session.execute(_lower_statement())
    ids = dict(
        session.execute(select(ModelVersion.name, ModelVersion.id).where(ModelVersion.name.in_(config.versions))).all()
    )
    models = sorted(ids)
    outcomes = [row for row in battle_counts(session, Filters(a="", b="")) if row[0] in ids and row[1] in ids]
    run_id = session.execute(select(RewardModelRun.id).where(RewardModelRun.is_active)).scalar()
    uncertain = config.prefer_uncertain and run_id is not None
    raised: dict[int, int] = {}  # item id -> priority: each pair's first item, then each pair's second, ...
    for (a, b), count in plan(Battles.of(models, outcomes), EVERY).items():
        values = {"a": ids[a], "b": ids[b], "count": count, "run_id": run_id}
        found = [session.execute(_items_statement(uncertain, flip), values).all() for flip in (False, True)]
        for rank, row in enumerate(sorted(found[0] + found[1], key=_least_sure_first)[:count]):
            raised[row.id] = EVERY - rank
    if raised:
        session.execute(
            update(W).where(W.c.id == bindparam("item")).values(priority=bindparam("level")),
            [{"item": item, "level": level} for item, level in raised.items()],
        )
    return len(raised)


def lower(session: Session) -> None:
    """Put every raised item back to priority 0: the queue left the active strategy."""
    if session.execute(_lower_statement()).rowcount:
        order_changed(prepared.on(session), QUEUE)


def _lower_statement():
    return update(W).where(*_open(), W.c.priority > 0).values(priority=0)


def _least_sure_first(row) -> tuple:
    return row.gap is None, row.gap or 0, row.id


def _open() -> tuple:
    return W.c.queue == QUEUE, W.c.open, ~W.c.is_gold


@cache
def _items_statement(uncertain: bool, flip: bool) -> Select:
    """A pair of versions' first open items, the first answer by version a (by b where `flip`), as (id, gap): oldest
    first, or least sure first by the reward model run, gap being the difference of its rewards (values: a, b,
    count, run_id)."""
    a, b = (bindparam("b"), bindparam("a")) if flip else (bindparam("a"), bindparam("b"))
    if not uncertain:
        statement = select(W.c.id, null().label("gap"))
        return (
            statement.where(*_open(), W.c.version_a_id == a, W.c.version_b_id == b)
            .order_by(W.c.id)
            .limit(bindparam("count"))
        )
    left, right = aliased(RewardScore), aliased(RewardScore)
    run_id = bindparam("run_id")
    gap = func.abs(left.score - right.score)
    return (
        select(W.c.id, gap.label("gap"))
        .where(*_open(), W.c.version_a_id == a, W.c.version_b_id == b)
        .join(left, and_(left.run_id == run_id, left.response_id == W.c.subject_id), isouter=True)
        .join(right, and_(right.run_id == run_id, right.response_id == W.c.subject_b_id), isouter=True)
        .order_by(gap.is_(None), gap, W.c.id)
        .limit(bindparam("count"))
    )
