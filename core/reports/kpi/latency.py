"""Loop latency per version: for each moderation version made by retraining and each finished reward-model run, how
long the judgments it learned from took to reach it, in hours (p50 / p95, nearest rank, by the database through
core.reports.sql.distributions, as turnaround):

- arrival to judgment: from the item's arrival in the store (a moderation item's created_at; for a comparison the
  later of its two answers', when the pair could first be judged; a rated answer's) to the judgment (a moderation
  item's final label, as core.moderation.final_labels dates it; a comparison's or a rating's last change);
- judgment to version: from the judgment to the version being ready (a retrained version: registered, every item
  scored, the queue rebuilt; a reward run: finished);
- arrival to version: the two together.

A version counts the judgments it was the first to learn from: those made after the cut-off of the version before it
of its kind and up to its own. A retrained moderation version's cut-off is the newest final label it was trained on
(recorded by core.moderation.retrain); a reward run's is the time its dataset snapshot was taken, which read the
comparisons (and, with ratings, the ratings) made until then; runs on one snapshot share its judgments. Moderation
versions that were imported, not retrained, learned from no judgment of this store and are left out, as are runs
that did not finish. Gold items' judgments do not count (`_counted`, where any other exclusion belongs too).
Imported judgments count: they are data the version learned from, dated by their file (or the import)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    literal_column,
    select,
    union,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session

from core.moderation.final_labels import final_labels
from core.reports.sql import distributions, seconds_between
from core.store.models import (
    Adjudication,
    Comparison,
    DatasetSnapshot,
    ModelVersion,
    ModerationItem,
    ModerationLabel,
    Rating,
    Response,
    RewardModelRun,
    WorkItem,
)

DEFAULT_LOOP_SLA_HOURS = 72.0  # data to deployment: the figure teams quote
HOUR = literal_column("3600.0", Float)
QS = (0.5, 0.95)
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)  # the lower bound of a kind's first version: every judgment before it
METRICS = ("arrival_to_judgment", "judgment_to_version", "arrival_to_version")

DEFINITIONS = {
    "loop_latency": "Per moderation version made by retraining and per finished reward-model run (ready in the "
    "range), from the judgments it was the first to learn from (gold items left out): hours from the item's arrival "
    "to the judgment, from the judgment to the version being ready (retrained and scoring / training finished), and "
    "from arrival to ready; p50 / p95 nearest rank.",
    "loop_sla": "The loop-latency target: hours from an item's arrival to a model version that learned from it.",
}


@dataclass(frozen=True)
class LoopLatency:
    version: str  # a moderation version's name, or "run N" for a reward-model run
    kind: str  # "moderation" | "reward"
    judgments: int
    arrival_to_judgment_p50_hours: float | None
    arrival_to_judgment_p95_hours: float | None
    judgment_to_version_p50_hours: float | None
    judgment_to_version_p95_hours: float | None
    arrival_to_version_p50_hours: float | None
    arrival_to_version_p95_hours: float | None


@dataclass(frozen=True)
class _Window:
    """A version and the judgments it was the first to learn from: those of `sources` made in (after, until]."""

    version: str
    kind: str
    sources: tuple[str, ...]  # "moderation" (final labels), "comparison", "rating"
    after: datetime
    until: datetime
    ready: datetime


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _moderation_windows(session: Session) -> list[_Window]:
    """Retrained moderation versions in the order of their cut-offs (the newest final label each used)."""
    rows = session.execute(select(ModelVersion.name, ModelVersion.meta).where(ModelVersion.kind == "moderation"))
    trained = []
    for name, meta in rows:
        retrain = (meta or {}).get("retrain") or {}
        until, ready = _when(retrain.get("newest_label_at")), _when(retrain.get("ready_at"))
        if until is not None and ready is not None:
            trained.append((until, ready, name))
    windows, after = [], EARLIEST
    for until, ready, name in sorted(trained):
        windows.append(_Window(name, "moderation", ("moderation",), after, until, ready))
        after = until
    return windows


def _reward_windows(session: Session) -> list[_Window]:
    """Finished reward-model runs; each learnt from its snapshot's judgments that the previous snapshot trained on
    did not hold."""
    runs = session.execute(
        select(RewardModelRun.id, RewardModelRun.finished_at, DatasetSnapshot.created_at, DatasetSnapshot.filters)
        .join(DatasetSnapshot, DatasetSnapshot.id == RewardModelRun.snapshot_id)
        .where(RewardModelRun.status == "done", RewardModelRun.finished_at.is_not(None))
        .order_by(RewardModelRun.finished_at, RewardModelRun.id)
    ).all()
    taken = sorted({snapshot_at for _, _, snapshot_at, _ in runs})
    before = dict(zip(taken, [EARLIEST, *taken], strict=False))
    return [
        _Window(
            f"run {run_id}",
            "reward",
            ("comparison", "rating") if (filters or {}).get("with_ratings") else ("comparison",),
            before[snapshot_at],
            snapshot_at,
            finished_at,
        )
        for run_id, finished_at, snapshot_at, filters in runs
    ]


def _gold(queues: Sequence[str], subject: ColumnElement[int], subject_b: ColumnElement[int] | None = None):
    return exists().where(
        WorkItem.queue.in_(queues),
        WorkItem.subject_id == subject,
        WorkItem.subject_b_id == (subject_b if subject_b is not None else literal_column("0")),
        WorkItem.is_gold,
    )


def _counted(
    queues: Sequence[str], subject: ColumnElement[int], subject_b: ColumnElement[int] | None = None
) -> list[ColumnElement[bool]]:
    """The conditions a judgment of this subject must meet to count: its item is not gold. (Provisional judgments,
    when the store has them, are left out here too.)"""
    return [~_gold(queues, subject, subject_b)]


def _source(name: str) -> ColumnElement[str]:
    return literal_column(f"'{name}'")


def _moderation_judgments(since: datetime) -> Select:
    """(source, arrived_at, judged_at) of every final label decided after `since` (as turnaround: items with a label
    or an adjudication made since)."""
    items = None
    if since > EARLIEST:
        items = union(
            select(ModerationLabel.item_id).where(ModerationLabel.created_at > since),
            select(Adjudication.item_id).where(Adjudication.created_at > since),
        )
        items = select(items.subquery().c.item_id)
    decided = final_labels(items=items)
    return (
        select(
            _source("moderation").label("source"),
            ModerationItem.created_at.label("arrived_at"),
            decided.c.decided_at.label("judged_at"),
        )
        .select_from(decided)
        .join(ModerationItem, ModerationItem.id == decided.c.item_id)
        .where(*_counted(("moderation", "adjudication"), decided.c.item_id))
    )


def _comparison_judgments(until: datetime) -> Select:
    a, b = aliased(Response), aliased(Response)
    c = Comparison
    low = case((c.response_a_id < c.response_b_id, c.response_a_id), else_=c.response_b_id)
    high = case((c.response_a_id < c.response_b_id, c.response_b_id), else_=c.response_a_id)
    return (
        select(
            _source("comparison").label("source"),
            case((a.created_at > b.created_at, a.created_at), else_=b.created_at).label("arrived_at"),
            func.coalesce(c.updated_at, c.created_at).label("judged_at"),
        )
        .select_from(c)
        .join(a, a.id == c.response_a_id)
        .join(b, b.id == c.response_b_id)
        .where(c.created_at <= until, *_counted(("comparison",), low, high))
    )


def _rating_judgments(until: datetime) -> Select:
    return (
        select(
            _source("rating").label("source"),
            Response.created_at.label("arrived_at"),
            func.coalesce(Rating.updated_at, Rating.created_at).label("judged_at"),
        )
        .select_from(Rating)
        .join(Response, Response.id == Rating.response_id)
        .where(Rating.created_at <= until, *_counted(("rating",), Rating.response_id))
    )


def _windows_table(windows: Sequence[_Window]):
    at = ModelVersion.created_at.type  # binds as the store keeps times, on either database
    rows = [
        select(
            literal_column(str(i)).label("grp"),
            _source(source).label("source"),
            literal(w.after, at).label("after"),
            literal(w.until, at).label("until"),
            literal(w.ready, at).label("ready"),
        )
        for i, w in enumerate(windows)
        for source in w.sources
    ]
    return union_all(*rows).cte("loop_windows")


def _learnt(session: Session, windows: Sequence[_Window]) -> Select:
    """(grp, value) rows for core.reports.sql.distributions: grp = window * 3 + metric (METRICS' order)."""
    sources = {s for w in windows for s in w.sources}
    since, until = min(w.after for w in windows), max(w.until for w in windows)
    parts = {
        "moderation": lambda: _moderation_judgments(since),
        "comparison": lambda: _comparison_judgments(until),
        "rating": lambda: _rating_judgments(until),
    }
    judged = union_all(*(parts[s]() for s in sorted(sources))).subquery("judged")
    w = _windows_table(windows)
    learnt = (
        select(w.c.grp, judged.c.arrived_at, judged.c.judged_at, w.c.ready)
        .select_from(judged)
        .join(w, and_(w.c.source == judged.c.source, judged.c.judged_at > w.c.after, judged.c.judged_at <= w.c.until))
        .cte("loop_learnt")
        .prefix_with("MATERIALIZED")
    )
    spans = (
        (learnt.c.judged_at, learnt.c.arrived_at),
        (learnt.c.ready, learnt.c.judged_at),
        (learnt.c.ready, learnt.c.arrived_at),
    )
    return union_all(
        *(
            select(
                (learnt.c.grp * literal_column("3") + literal_column(str(m))).label("grp"),
                (seconds_between(session, later, earlier) / HOUR).label("value"),
            )
            for m, (later, earlier) in enumerate(spans)
        )
    )


def _hours(value) -> float | None:
    return None if value is None else float(value)


def loop_latency(session: Session, start: datetime, end: datetime) -> list[LoopLatency]:
    """Per version made ready in [start, end), oldest first: its judgments and their latencies (module docstring)."""
    windows = [w for w in _moderation_windows(session) + _reward_windows(session) if start <= w.ready < end]
    if not windows:
        return []
    windows.sort(key=lambda w: (w.ready, w.kind, w.version))
    found = distributions(session, _learnt(session, windows), QS)
    return [_row(w, [found.get(i * 3 + m) for m in range(len(METRICS))]) for i, w in enumerate(windows)]


def _row(window: _Window, found: Iterable) -> LoopLatency:
    figures: list[float | None] = []
    n = 0
    for d in found:
        n = max(n, d.n if d else 0)
        figures += [_hours(d.at[q]) if d else None for q in QS]
    return LoopLatency(window.version, window.kind, n, *figures)
