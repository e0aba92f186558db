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
from sqlalchemy import and_, case, func, literal, literal_column, select, union_all
from sqlmodel import Session

from core.models import Assignment, User, WorkItem
from core.reports.judgments import SOURCES, Source
from core.reports.sql import median_of_counts, whole
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


def _judgments(source: Source, start, end) -> Any:
    """(id, unit, user_id, and one column per dimension) of the queue's judgments by reviewers in the range."""
    model = source.model
    return (
        select(
            model.id.label("id"),
            source.unit().label("unit"),
            model.user_id.label("user_id"),
            *(source.value(d.name).label(d.name) for d in source.dimensions),
        )
        .where(*source.in_range(start, end))
        .subquery()
    )


def _patterns(session: Session, judgments: Any, source: Source) -> dict[str, tuple[np.ndarray, int]]:
    """Per dimension: the value-counts table of the items, and the judgments counted. One pass for every dimension:
    SQL counts each item's values and sums the items up by their counts (the distinct patterns), which are expanded
    here into one row per item."""
    columns = _value_counts(judgments, source)
    per_item = select(*columns, func.count().label("n")).group_by(judgments.c.unit).subquery()
    counts = per_item.c[: len(columns)]
    rows = session.execute(select(*counts, func.count(), func.sum(per_item.c.n)).group_by(*counts)).all()
    out, at = {}, 0
    for d in source.dimensions:
        merged: dict[tuple, int] = defaultdict(int)
        for row in rows:
            merged[tuple(row[at : at + len(d.values)])] += row[-2]
        out[d.name] = (expand(merged.items(), len(d.values)), int(sum(row[-1] for row in rows)))
        at += len(d.values)
    return out


def _pairs(session: Session, judgments: Any, source: Source) -> dict[str, dict[tuple[int, int], np.ndarray]]:
    """Per dimension and pair of reviewers (lower id first), their confusion table on the items both judged.

    The judgments, then their pairs, are materialized once for every dimension: a pair's item is an expression,
    and SQLite joins an expression only by trying every row against every row, while on a materialized table it
    builds an index for the join."""
    judged = select(judgments).cte("judged").prefix_with("MATERIALIZED")
    a, b = judged.alias("a"), judged.alias("b")
    names = [d.name for d in source.dimensions]
    values = [a.c[n].label(f"a_{n}") for n in names] + [b.c[n].label(f"b_{n}") for n in names]
    both = (
        select(a.c.user_id.label("ua"), b.c.user_id.label("ub"), *values)
        .join(b, and_(a.c.unit == b.c.unit, a.c.user_id < b.c.user_id))
        .cte("both_judged")
        .prefix_with("MATERIALIZED")
    )
    per_dimension = [
        select(
            literal(n).label("dimension"), both.c.ua, both.c.ub, both.c[f"a_{n}"], both.c[f"b_{n}"], func.count()
        ).group_by(both.c.ua, both.c.ub, both.c[f"a_{n}"], both.c[f"b_{n}"])
        for n in names
    ]
    tables: dict[str, dict[tuple[int, int], np.ndarray]] = {}
    for d in source.dimensions:
        size = (len(d.values),) * 2
        tables[d.name] = defaultdict(lambda size=size: np.zeros(size, dtype=np.int64))
    index = {d.name: {value: i for i, value in enumerate(d.values)} for d in source.dimensions}
    for name, user_a, user_b, value_a, value_b, n in session.execute(union_all(*per_dimension)):
        tables[name][(user_a, user_b)][index[name][value_a], index[name][value_b]] += n
    return tables


def _value_counts(judgments: Any, source: Source) -> list[Any]:
    """Per item (grouped by unit): how many of its judgments gave each value of each dimension."""
    return [
        func.sum(case((judgments.c[d.name] == v, 1), else_=0)).label(f"{d.name}_{i}")
        for d in source.dimensions
        for i, v in enumerate(d.values)
    ]


def consensus_of(counts: tuple[int, ...], own: int) -> bool | None:
    """Whether a judgment with value index `own` agrees with the consensus of the item's other judgments, given
    the item's count of each value (the judgment included); None where the others have no single top value."""
    others = list(counts)
    others[own] -= 1
    top = max(others)
    if top == 0 or others.count(top) != 1:
        return None
    return others[own] == top


def _consensus(session: Session, judgments: Any, source: Source) -> dict[str, dict[int, tuple[int, int, int]]]:
    """Per dimension and reviewer: (judgments, those compared with a consensus of the item's other reviewers,
    those that agree with it). Whether a judgment agrees depends only on its own value and its item's counts of
    each value, so SQL counts the judgments by (reviewer, own value, item's counts) and the rule runs on those."""
    columns = _value_counts(judgments, source)
    per_item = select(judgments.c.unit, *columns).group_by(judgments.c.unit).subquery()
    joined = (
        select(judgments.c.user_id, *(judgments.c[d.name] for d in source.dimensions), *per_item.c[1:])
        .join(per_item, per_item.c.unit == judgments.c.unit)
        .cte("with_counts")
        .prefix_with("MATERIALIZED")
    )
    width = max(len(d.values) for d in source.dimensions)
    parts, at = [], 1 + len(source.dimensions)
    for d in source.dimensions:
        counts = joined.c[at : at + len(d.values)]
        padding = [literal_column("0")] * (width - len(d.values))  # one UNION: every part as wide as the widest
        parts.append(
            select(literal(d.name), joined.c.user_id, joined.c[d.name], func.count(), *counts, *padding).group_by(
                joined.c.user_id, joined.c[d.name], *counts
            )
        )
        at += len(d.values)
    index = {d.name: {v: i for i, v in enumerate(d.values)} for d in source.dimensions}
    sizes = {d.name: len(d.values) for d in source.dimensions}
    out: dict[str, dict[int, list[int]]] = {d.name: defaultdict(lambda: [0, 0, 0]) for d in source.dimensions}
    for name, user_id, own, times, *counts in session.execute(union_all(*parts)):
        agrees = consensus_of(tuple(counts[: sizes[name]]), index[name][own])
        totals = out[name][user_id]
        totals[0] += times
        if agrees is not None:
            totals[1] += times
            totals[2] += times if agrees else 0
    return {name: {user: tuple(t) for user, t in per_user.items()} for name, per_user in out.items()}


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
    """Per reviewer, the nearest-rank median of their seconds per item, in whole seconds, from a histogram that SQL
    counts (reviewer, whole seconds) -> judgments."""
    if not source.timed:
        return {}
    model = source.model
    seconds = whole(session, model.seconds_spent)
    rows = session.execute(
        select(model.user_id, seconds, func.count())
        .where(*source.in_range(start, end), model.seconds_spent.is_not(None))
        .group_by(model.user_id, seconds)
    )
    histograms: dict[int, dict[int, int]] = defaultdict(dict)
    for user_id, value, n in rows:
        histograms[user_id][int(value)] = n
    return {user_id: float(median_of_counts(counts)) for user_id, counts in histograms.items()}


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _queue_report(session: Session, source: Source, start, end, names: dict[int, str]):
    dimensions, pairs = [], []
    per_reviewer: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    judged: dict[int, int] = {}
    judgments = _judgments(source, start, end)
    tables = _patterns(session, judgments, source)
    confusions = _pairs(session, judgments, source)
    consensus = _consensus(session, judgments, source)
    for dimension in source.dimensions:
        table, n_judgments = tables[dimension.name]
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
        for (user_a, user_b), confusion in sorted(confusions[dimension.name].items()):
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
        for user_id, (n, compared, agreed) in consensus[dimension.name].items():
            judged[user_id] = max(judged.get(user_id, 0), n)
            per_reviewer[user_id][0] += compared
            per_reviewer[user_id][1] += agreed
    gold = _gold(session, source, start, end)
    seconds = _median_seconds(session, source, start, end)
    reviewers = []
    for user_id in sorted(set(judged) | set(gold) | set(seconds), key=lambda u: names.get(u, "")):
        compared, agreed = per_reviewer.get(user_id, (0, 0))
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
    overall = _share(sum(c[1] for c in per_reviewer.values()), sum(c[0] for c in per_reviewer.values()))
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
