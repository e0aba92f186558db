"""Can we trust these labels? Agreement per queue and dimension, between pairs of reviewers, and per reviewer
(agreement with the consensus, accuracy on gold items, time per item, outliers).

The database reads each queue's judgments in the range once and sends a few numbers per judgment; the value
counts per item, the confusion tables per pair of reviewers, the consensus and the times are counted from those on
arrays (core.stats.agreement, which also holds the statistics). Gold accuracy is counted in SQL on the gold items'
judgments alone."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from statistics import median
from typing import Any, ClassVar

import numpy as np
from sqlalchemy import BigInteger, Text, and_, case, cast, func, literal, literal_column, select
from sqlmodel import Session

from core.reports.judgments import SOURCES, Source
from core.reports.sql import dialect, month_number, month_text, rank_of, whole
from core.review.qualification import gold_passed
from core.stats.agreement import (
    cohen_kappa,
    confusion_tables,
    consensus,
    fleiss_kappa,
    judgment_pairs,
    krippendorff_alpha,
    value_counts,
)
from core.store.models import Assignment, User, WorkItem

# Outliers: reviewers much faster than their peers whose judgments agree much less with the consensus.
OUTLIER_MIN_JUDGMENTS = 20
OUTLIER_SPEED_SHARE = 0.5
OUTLIER_AGREEMENT_GAP = 0.15
OUTLIER_RULE = (
    f"An outlier has at least {OUTLIER_MIN_JUDGMENTS} judged values compared with a consensus, a median time per "
    f"item under {OUTLIER_SPEED_SHARE:.0%} of the median of all reviewers' medians in the queue, and an agreement "
    f"with the consensus at least {OUTLIER_AGREEMENT_GAP:.2f} below the queue's."
)
SECONDS_RULE = (
    "Seconds per item: from the moment the item was shown to the judgment, less the time the reviewer's tab was "
    "hidden; whole seconds, nearest-rank percentiles (p10, p25, median, p75, p90) per reviewer and for the queue."
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
class MonthAgreement:
    """Alpha of one queue's dimension on the judgments made in one month (an item counts in the months its
    judgments were made, with those judgments)."""

    queue: str
    dimension: str
    month: str  # YYYY-MM
    krippendorff_alpha: float | None
    n_items: int


@dataclass(frozen=True)
class PairAgreement:
    queue: str
    dimension: str
    reviewer_a: str
    reviewer_b: str
    cohen_kappa: float | None
    n_items: int


@dataclass(frozen=True)
class TimeSpread:
    """Active seconds per item (a hidden tab left out): how many judgments were timed, and the nearest-rank 10th,
    25th, 50th, 75th and 90th percentiles."""

    QUANTILES: ClassVar[tuple[float, ...]] = (0.1, 0.25, 0.5, 0.75, 0.9)
    timed: int
    p10: float
    p25: float
    median: float
    p75: float
    p90: float


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
    seconds: TimeSpread | None = None
    outlier: bool = False  # rushing: much faster than the queue's reviewers, and agreeing less (OUTLIER_RULE)


@dataclass(frozen=True)
class AgreementReport:
    start: datetime | None
    end: datetime | None
    dimensions: list[DimensionAgreement]
    pairs: list[PairAgreement]
    reviewers: list[ReviewerAgreement]
    queue_agreement: dict[str, float | None] = field(default_factory=dict)
    queue_seconds: dict[str, TimeSpread | None] = field(default_factory=dict)  # every reviewer's timed judgments
    by_month: list[MonthAgreement] = field(default_factory=list)
    outlier_rule: str = OUTLIER_RULE
    consensus_rule: str = CONSENSUS_RULE

    @property
    def empty(self) -> bool:
        return not any(d.n_judgments for d in self.dimensions)


@dataclass(frozen=True)
class _Judged:
    """A queue's judgments in the range, one entry per judgment in each array, sorted by item: the item's index
    (0 .. n_items - 1), the reviewer's index into `reviewer_ids` (ascending), per dimension the index of the value
    given (-1: none), the whole seconds spent (nan: not recorded) and the month it was made (core.reports.sql's
    month_number)."""

    items: np.ndarray
    reviewers: np.ndarray
    reviewer_ids: np.ndarray
    values: dict[str, np.ndarray]
    seconds: np.ndarray
    months: np.ndarray
    n_items: int


def _columns(session: Session, columns: list[Any], conditions: list[Any]) -> list[np.ndarray]:
    """The values of integer columns (never NULL) over the rows that meet the conditions, one array per column, in
    the same row order. The database sends each column as one text, its values joined by commas (group_concat on
    SQLite, string_agg on PostgreSQL: the aggregates of one query step over the same rows in the same order), which
    numpy parses: no row object is made per judgment, which for a million of them would cost more than the rest of
    the report. (Either database holds a text of up to 1 GB: some 50 million judgments of a queue.)"""
    if dialect(session) == "sqlite":
        joined = [func.group_concat(c) for c in columns]
    else:
        joined = [func.string_agg(cast(c, Text), literal_column("','")) for c in columns]
    texts = session.execute(select(*joined).where(*conditions)).one()
    return [np.fromstring(text or "", dtype=np.int64, sep=",") for text in texts]


def _dense(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct ids ascending, each id's index among them). Reviewer ids are a table's keys, so few and small:
    counted by id rather than sorted (np.unique) where the ids are not much larger than their number."""
    if not len(ids) or ids.min() < 0 or ids.max() > 4 * len(ids) + 100_000:
        distinct, index = np.unique(ids, return_inverse=True)
        return distinct, index.reshape(-1)
    present = np.bincount(ids) > 0
    return np.flatnonzero(present), (np.cumsum(present) - 1)[ids]


def _judged(session: Session, source: Source, start, end) -> _Judged:
    """One pass over the queue's judgments in the range: the database reads them and sends three numbers per
    judgment (its item; its reviewer, value indexes and whether it has a time, packed into one; its whole seconds),
    and everything else is counted from them on arrays. A value index is packed plus one (0: none) in base (number
    of values + 1)."""
    model = source.model
    packed: Any = cast(model.user_id, BigInteger)
    for d in source.dimensions:
        code = case({v: i + 1 for i, v in enumerate(d.values)}, value=source.value(d.name), else_=0)
        packed = packed * literal(len(d.values) + 1, BigInteger) + code
    if source.timed:
        timed = case((model.seconds_spent.is_(None), 0), else_=1)
        seconds = func.coalesce(whole(session, model.seconds_spent), 0)
    else:
        timed, seconds = literal(0), literal(0)
    columns = [source.unit(), packed * 2 + timed, seconds, month_number(session, model.created_at)]
    units, packed_values, spent, months = _columns(session, columns, source.in_range(start, end))
    order = np.argsort(units)
    units, packed_values, spent, months = units[order], packed_values[order], spent[order], months[order]
    packed_values, timed_values = np.divmod(packed_values, 2)
    values = {}
    for d in reversed(source.dimensions):
        packed_values, code = np.divmod(packed_values, len(d.values) + 1)
        values[d.name] = code - 1
    reviewer_ids, reviewers = _dense(packed_values)
    items = np.concatenate(([0], np.cumsum(units[1:] != units[:-1]))) if len(units) else units
    return _Judged(
        items=items,
        reviewers=reviewers,
        reviewer_ids=reviewer_ids,
        values=values,
        seconds=np.where(timed_values == 1, spent, np.nan),
        months=months,
        n_items=int(items[-1]) + 1 if len(items) else 0,
    )


def _pairs(judged: _Judged, source: Source) -> dict[str, dict[tuple[int, int], np.ndarray]]:
    """Per dimension and pair of reviewers (lower id first) who judged an item in common, their confusion table on
    the items both judged."""
    first, second = judgment_pairs(judged.items, judged.reviewers)
    n_reviewers = len(judged.reviewer_ids)
    pair_keys, pair = np.unique(judged.reviewers[first] * n_reviewers + judged.reviewers[second], return_inverse=True)
    lower, higher = (judged.reviewer_ids[k].tolist() for k in np.divmod(pair_keys, n_reviewers))
    out = {}
    for d in source.dimensions:
        values = judged.values[d.name]
        tables = confusion_tables(pair.reshape(-1), values[first], values[second], len(pair_keys), len(d.values))
        out[d.name] = {(a, b): table for a, b, table in zip(lower, higher, tables, strict=True) if table.any()}
    return out


def _consensus(judged: _Judged, values: np.ndarray, table: np.ndarray) -> dict[int, tuple[int, int, int]]:
    """Per reviewer, on one dimension: (judgments, those compared with a consensus of the item's other reviewers,
    those that agree with it)."""
    compared, agrees = consensus(table, judged.items, values)
    n = len(judged.reviewer_ids)
    counts = [np.bincount(judged.reviewers, weights=w, minlength=n).tolist() for w in (None, compared, agrees)]
    return {r: (int(j), int(c), int(a)) for r, j, c, a in zip(judged.reviewer_ids.tolist(), *counts, strict=True)}


def _gold(session: Session, source: Source, start, end) -> dict[int, tuple[int, int]]:
    """Per reviewer: (judgments of gold items, of those matching the item's gold answer on every field it names)."""
    model = source.model
    fields = [d.name for d in source.dimensions] or ["final_label"]
    golds = dict(
        session.execute(
            select(WorkItem.id, WorkItem.gold_answer).where(
                # open named too, so the index (queue, open, is_gold, ...) seeks the gold items rather than
                # reading every item of the queue
                WorkItem.queue == source.queue,
                WorkItem.open.in_([False, True]),
                WorkItem.is_gold,
            )
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
        passed = gold_passed(golds[item_id], dict(zip(fields, values, strict=True)))
        if passed is None:
            continue
        out[user_id][0] += n
        out[user_id][1] += n if passed else 0
    return {user_id: (judged, correct) for user_id, (judged, correct) in out.items()}


def _seconds(judged: _Judged) -> tuple[dict[int, TimeSpread], TimeSpread | None]:
    """Per reviewer, and for the queue as a whole, the nearest-rank spread of the whole seconds per item (judgments
    without a time left out)."""
    timed = ~np.isnan(judged.seconds)
    reviewers, seconds = judged.reviewers[timed], judged.seconds[timed].astype(np.int64)
    if not len(seconds):
        return {}, None
    low, span = seconds.min(), int(seconds.max() - seconds.min()) + 1
    if span * len(judged.reviewer_ids) < 2**62:  # sorted by (reviewer, seconds) as one number
        reviewers, seconds = np.divmod(np.sort(reviewers * span + (seconds - low)), span)
        seconds += low
    else:
        order = np.lexsort((seconds, reviewers))
        reviewers, seconds = reviewers[order], seconds[order]
    counts = np.bincount(reviewers, minlength=len(judged.reviewer_ids))
    starts = np.cumsum(counts) - counts
    per_reviewer = {
        int(judged.reviewer_ids[r]): _spread(seconds[starts[r] : starts[r] + counts[r]]) for r in np.flatnonzero(counts)
    }
    return per_reviewer, _spread(np.sort(seconds))


def _spread(ordered: np.ndarray) -> TimeSpread:
    n = len(ordered)
    return TimeSpread(n, *(float(ordered[rank_of(q, n) - 1]) for q in TimeSpread.QUANTILES))


def _by_month(judged: _Judged, source: Source) -> list[MonthAgreement]:
    """Per month and dimension, alpha on that month's judgments."""
    out = []
    for number in np.unique(judged.months).tolist():
        made = judged.months == number
        items = judged.items[made]  # still sorted: numbered anew, 0, 1, ...
        items = np.concatenate(([0], np.cumsum(items[1:] != items[:-1]))) if len(items) else items
        n_items = int(items[-1]) + 1 if len(items) else 0
        for d in source.dimensions:
            table = value_counts(items, judged.values[d.name][made], n_items, len(d.values))
            alpha = krippendorff_alpha(table, d.level)
            out.append(
                MonthAgreement(source.queue, d.name, month_text(number), alpha, int((table.sum(axis=1) >= 2).sum()))
            )
    return out


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _queue_report(session: Session, source: Source, start, end, names: dict[int, str]):
    dimensions, pairs = [], []
    per_reviewer: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    judgments_of: dict[int, int] = {}
    judged = _judged(session, source, start, end)
    confusions = _pairs(judged, source)
    for dimension in source.dimensions:
        values = judged.values[dimension.name]
        table = value_counts(judged.items, values, judged.n_items, len(dimension.values))
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
                len(values),
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
        for user_id, (n, compared, agreed) in _consensus(judged, values, table).items():
            judgments_of[user_id] = max(judgments_of.get(user_id, 0), n)
            per_reviewer[user_id][0] += compared
            per_reviewer[user_id][1] += agreed
    gold = _gold(session, source, start, end)
    seconds, queue_seconds = _seconds(judged) if source.timed else ({}, None)
    reviewers = []
    for user_id in sorted(set(judgments_of) | set(gold) | set(seconds), key=lambda u: names.get(u, "")):
        compared, agreed = per_reviewer.get(user_id, (0, 0))
        gold_judged, gold_correct = gold.get(user_id, (0, 0))
        reviewers.append(
            ReviewerAgreement(
                source.queue,
                names.get(user_id, "?"),
                judgments_of.get(user_id, 0),
                compared,
                agreed,
                _share(agreed, compared),
                gold_judged,
                gold_correct,
                _share(gold_correct, gold_judged),
                seconds[user_id].median if user_id in seconds else None,
                seconds.get(user_id),
            )
        )
    overall = _share(sum(c[1] for c in per_reviewer.values()), sum(c[0] for c in per_reviewer.values()))
    return dimensions, pairs, mark_outliers(reviewers, overall), overall, _by_month(judged, source), queue_seconds


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
    dimensions, pairs, reviewers, overall, times, by_month = [], [], [], {}, {}, []
    for source in SOURCES:
        if not source.dimensions:
            continue
        d, p, r, o, m, t = _queue_report(session, source, start, end, names)
        dimensions += d
        pairs += p
        reviewers += r
        overall[source.queue] = o
        times[source.queue] = t
        by_month += m
    return AgreementReport(start, end, dimensions, pairs, reviewers, overall, times, by_month)
