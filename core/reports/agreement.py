"""Can we trust these labels? Agreement per queue and dimension, between pairs of reviewers, and per reviewer
(agreement with the consensus, accuracy on gold items, time per item, outliers).

Every figure is counted in SQL (per item value counts, per pair confusion tables, per reviewer sums); the
statistics come from core.stats.agreement."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from statistics import median
from typing import Any

import numpy as np
from sqlalchemy import and_, case, func, select
from sqlmodel import Session

from core.models import Assignment, User, WorkItem
from core.reports.judgments import SOURCES, Dimension, Source
from core.reports.sql import percentiles
from core.stats.agreement import cohen_kappa, expand, fleiss_kappa, krippendorff_alpha

# Outliers: reviewers much faster than their peers whose judgments agree much less with the consensus.
OUTLIER_MIN_JUDGMENTS = 20
OUTLIER_SPEED_SHARE = 0.5
OUTLIER_AGREEMENT_GAP = 0.15
OUTLIER_RULE = (
    f"An outlier has at least {OUTLIER_MIN_JUDGMENTS} judged values compared with a consensus, a median time per "
    f"item under {OUTLIER_SPEED_SHARE:.0%} of the median of all reviewers' medians in the queue, and an agreement "
    f"with the consensus at least {OUTLIER_AGREEMENT_GAP:.2f} below the queue's."
)
CONSENSUS_RULE = (
    "Agreement with the consensus: the share of a reviewer's judged values (a rating gives one per rubric "
    "dimension) equal to the value most of the item's other reviewers gave; items judged by one person, and values "
    "where the others tie, are not compared."
)


@dataclass(frozen=True)
class DimensionAgreement:
    queue: str
    dimension: str
    level: str
    krippendorff_alpha: float | None
    fleiss_kappa: float | None
    n_items: int  # items judged at least twice: what alpha rests on
    n_items_fleiss: int  # items with the most common number of judgments: what Fleiss' kappa rests on
    n_judgments: int


@dataclass(frozen=True)
class PairAgreement:
    queue: str
    dimension: str
    reviewer_a: str
    reviewer_b: str
    cohen_kappa: float | None
    n_items: int


@dataclass(frozen=True)
class ReviewerAgreement:
    queue: str
    reviewer: str
    judgments: int
    compared: int  # judged values (one per dimension) on items whose other reviewers reached a consensus
    agreed: int
    agreement: float | None
    gold_judged: int
    gold_correct: int
    gold_accuracy: float | None
    median_seconds: float | None
    outlier: bool = False


@dataclass(frozen=True)
class AgreementReport:
    start: datetime | None
    end: datetime | None
    dimensions: list[DimensionAgreement]
    pairs: list[PairAgreement]
    reviewers: list[ReviewerAgreement]
    queue_agreement: dict[str, float | None] = field(default_factory=dict)
    outlier_rule: str = OUTLIER_RULE
    consensus_rule: str = CONSENSUS_RULE

    @property
    def empty(self) -> bool:
        return not any(d.n_judgments for d in self.dimensions)


def _judgments(source: Source, dimension: Dimension, start, end) -> Any:
    """(id, unit, user_id, value) of the queue's judgments by reviewers in the range."""
    model = source.model
    return (
        select(
            model.id.label("id"),
            source.unit().label("unit"),
            model.user_id.label("user_id"),
            source.value(dimension.name).label("value"),
        )
        .where(*source.in_range(start, end))
        .subquery()
    )


def _patterns(session: Session, judgments: Any, dimension: Dimension) -> tuple[np.ndarray, int]:
    """The value-counts table of the items (expanded from SQL's distinct patterns), and the judgments counted."""
    per_value = [
        func.sum(case((judgments.c.value == v, 1), else_=0)).label(f"c{i}") for i, v in enumerate(dimension.values)
    ]
    per_item = select(*per_value, func.count().label("n")).group_by(judgments.c.unit).subquery()
    rows = session.execute(
        select(*per_item.c[: len(dimension.values)], func.count(), func.sum(per_item.c.n)).group_by(
            *per_item.c[: len(dimension.values)]
        )
    ).all()
    table = expand(((row[: len(dimension.values)], row[-2]) for row in rows), len(dimension.values))
    return table, int(sum(row[-1] for row in rows))


def _pairs(session: Session, judgments: Any, dimension: Dimension) -> dict[tuple[int, int], np.ndarray]:
    """Per pair of reviewers (lower id first), their confusion table on the items both judged. The judgments are
    materialized first: a pair's item is an expression, and SQLite joins an expression only by trying every row
    against every row, while on a materialized table it builds an index for the join."""
    judged = select(judgments).cte("judged").prefix_with("MATERIALIZED")
    a, b = judged.alias("a"), judged.alias("b")
    rows = session.execute(
        select(a.c.user_id, b.c.user_id, a.c.value, b.c.value, func.count())
        .join(b, and_(a.c.unit == b.c.unit, a.c.user_id < b.c.user_id))
        .group_by(a.c.user_id, b.c.user_id, a.c.value, b.c.value)
    ).all()
    index = {value: i for i, value in enumerate(dimension.values)}
    tables: dict[tuple[int, int], np.ndarray] = defaultdict(lambda: np.zeros((len(index),) * 2, dtype=np.int64))
    for user_a, user_b, value_a, value_b, n in rows:
        tables[(user_a, user_b)][index[value_a], index[value_b]] += n
    return tables


def _consensus(session: Session, judgments: Any) -> dict[int, tuple[int, int, int]]:
    """Per reviewer: (judgments, judgments whose item's other reviewers reached a consensus, of those the ones
    that agree with it). The others' count of a value is the item's count minus the reviewer's own judgment."""
    j = judgments
    per_value = select(j.c.unit, j.c.value, func.count().label("n")).group_by(j.c.unit, j.c.value).subquery()
    others = (
        select(
            j.c.id,
            j.c.user_id,
            (per_value.c.value == j.c.value).label("own"),
            (per_value.c.n - case((per_value.c.value == j.c.value, 1), else_=0)).label("n_other"),
        )
        .join(per_value, per_value.c.unit == j.c.unit)
        .subquery()
    )
    topped = select(others, func.max(others.c.n_other).over(partition_by=others.c.id).label("top")).subquery()
    at_top = and_(topped.c.n_other == topped.c.top, topped.c.top > 0)
    per_judgment = (
        select(
            topped.c.user_id,
            func.sum(case((at_top, 1), else_=0)).label("n_top"),
            func.max(case((and_(at_top, topped.c.own), 1), else_=0)).label("own_top"),
        )
        .group_by(topped.c.id, topped.c.user_id)
        .subquery()
    )
    consensus = per_judgment.c.n_top == 1
    rows = session.execute(
        select(
            per_judgment.c.user_id,
            func.count(),
            func.sum(case((consensus, 1), else_=0)),
            func.sum(case((and_(consensus, per_judgment.c.own_top == 1), 1), else_=0)),
        ).group_by(per_judgment.c.user_id)
    ).all()
    return {user_id: (int(n), int(c or 0), int(a or 0)) for user_id, n, c, a in rows}


def _gold(session: Session, source: Source, start, end) -> dict[int, tuple[int, int]]:
    """Per reviewer: (judgments of gold items, of those matching the item's gold answer on every field it names)."""
    model = source.model
    fields = [d.name for d in source.dimensions] or ["final_label"]
    golds = dict(
        session.execute(
            select(WorkItem.id, WorkItem.gold_answer).where(WorkItem.queue == source.queue, WorkItem.is_gold)
        ).all()
    )
    if not golds:
        return {}
    columns = [getattr(model, name) for name in fields]
    rows = session.execute(
        select(model.user_id, Assignment.work_item_id, *columns, func.count())
        .join(Assignment, and_(Assignment.judgment_id == model.id, Assignment.status == "done"))
        .where(Assignment.work_item_id.in_(list(golds)), *source.in_range(start, end))
        .group_by(model.user_id, Assignment.work_item_id, *columns)
    ).all()
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for user_id, item_id, *values, n in rows:
        answer = {k: v for k, v in (golds[item_id] or {}).items() if k in fields}
        if not answer:
            continue
        given = dict(zip(fields, values, strict=True))
        out[user_id][0] += n
        out[user_id][1] += n if all(given[k] == v for k, v in answer.items()) else 0
    return {user_id: (judged, correct) for user_id, (judged, correct) in out.items()}


def _median_seconds(session: Session, source: Source, start, end) -> dict[int, float]:
    if not source.timed:
        return {}
    model = source.model
    rows = select(model.user_id.label("grp"), model.seconds_spent.label("value")).where(*source.in_range(start, end))
    return {user: float(v[0.5]) for user, v in percentiles(session, rows, [0.5]).items()}


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _queue_report(session: Session, source: Source, start, end, names: dict[int, str]):
    dimensions, pairs = [], []
    consensus: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    judged: dict[int, int] = {}
    for dimension in source.dimensions:
        judgments = _judgments(source, dimension, start, end)
        table, n_judgments = _patterns(session, judgments, dimension)
        kappa, n_fleiss = fleiss_kappa(table)
        dimensions.append(
            DimensionAgreement(
                source.queue,
                dimension.name,
                dimension.level,
                krippendorff_alpha(table, dimension.level),
                kappa,
                int((table.sum(axis=1) >= 2).sum()),
                n_fleiss,
                n_judgments,
            )
        )
        weights = "quadratic" if dimension.level == "ordinal" else None
        for (user_a, user_b), confusion in sorted(_pairs(session, judgments, dimension).items()):
            pairs.append(
                PairAgreement(
                    source.queue,
                    dimension.name,
                    names.get(user_a, "?"),
                    names.get(user_b, "?"),
                    cohen_kappa(confusion, weights=weights),
                    int(confusion.sum()),
                )
            )
        for user_id, (n, compared, agreed) in _consensus(session, judgments).items():
            judged[user_id] = max(judged.get(user_id, 0), n)
            consensus[user_id][0] += compared
            consensus[user_id][1] += agreed
    gold = _gold(session, source, start, end)
    seconds = _median_seconds(session, source, start, end)
    reviewers = []
    for user_id in sorted(set(judged) | set(gold) | set(seconds), key=lambda u: names.get(u, "")):
        compared, agreed = consensus.get(user_id, (0, 0))
        gold_judged, gold_correct = gold.get(user_id, (0, 0))
        reviewers.append(
            ReviewerAgreement(
                source.queue,
                names.get(user_id, "?"),
                judged.get(user_id, 0),
                compared,
                agreed,
                _share(agreed, compared),
                gold_judged,
                gold_correct,
                _share(gold_correct, gold_judged),
                seconds.get(user_id),
            )
        )
    overall = _share(sum(c[1] for c in consensus.values()), sum(c[0] for c in consensus.values()))
    return dimensions, pairs, mark_outliers(reviewers, overall), overall


def mark_outliers(reviewers: list[ReviewerAgreement], queue_agreement: float | None) -> list[ReviewerAgreement]:
    """The reviewers of one queue, with `outlier` set by OUTLIER_RULE."""
    medians = [r.median_seconds for r in reviewers if r.median_seconds is not None]
    if not medians or queue_agreement is None:
        return reviewers
    fast = OUTLIER_SPEED_SHARE * median(medians)
    out = []
    for r in reviewers:
        outlier = (
            r.compared >= OUTLIER_MIN_JUDGMENTS
            and r.median_seconds is not None
            and r.median_seconds < fast
            and r.agreement is not None
            and r.agreement <= queue_agreement - OUTLIER_AGREEMENT_GAP
        )
        out.append(replace(r, outlier=outlier))
    return out


def reviewer_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(User.id, User.username)).all())


def agreement_report(
    session: Session, *, start: datetime | None = None, end: datetime | None = None
) -> AgreementReport:
    """Agreement on the judgments made in [start, end) (all of them by default)."""
    names = reviewer_names(session)
    dimensions, pairs, reviewers, overall = [], [], [], {}
    for source in SOURCES:
        if not source.dimensions:
            continue
        d, p, r, o = _queue_report(session, source, start, end, names)
        dimensions += d
        pairs += p
        reviewers += r
        overall[source.queue] = o
    return AgreementReport(start, end, dimensions, pairs, reviewers, overall)
