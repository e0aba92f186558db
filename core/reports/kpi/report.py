"""Is the feedback loop healthy? The product owner's KPIs over a time range: backlog and its age, throughput,
turnaround against the SLA, active reviewers, data freshness and quality, model iterations shipped (and, in
core.reports.kpi.quality, quality per version and drift; in core.reports.kpi.latency, the loop latency per
version). Every number is aggregated in SQL; percentiles by the database (core.reports.sql)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Float, and_, func, literal, literal_column, select, union, union_all
from sqlmodel import Session

from core.moderation.final_labels import final_labels
from core.reports.flat import as_data, long_rows
from core.reports.judgments import SOURCES
from core.reports.kpi import latency as kpi_latency
from core.reports.kpi import quality as kpi_quality
from core.reports.sql import day, distributions, indexed_percentiles, monday_of, month, seconds_between
from core.review.queues import DEFAULT_K
from core.store.models import (
    Adjudication,
    Assignment,
    ImportRun,
    ModelVersion,
    ModerationItem,
    ModerationLabel,
    RewardModelRun,
    WorkItem,
    utcnow,
)

DEFAULT_SLA_HOURS = 48.0
DEFAULT_DAYS = 30
FINAL_LABEL = "moderation (final label)"
HOUR = literal_column("3600.0", Float)  # seconds; a float, so that no database divides in numeric or integer

# One line per number: shown on hover on the dashboard and carried in the JSON report.
DEFINITIONS = {
    "backlog": "Open work items of a queue now (gold items left out): items still waiting for their k judgments.",
    "backlog_age": "Hours since an open item arrived; p50 / p95: half / 95 % of the open items are at most this old.",
    "throughput": "Judgments made per day (UTC) by reviewers: ratings, comparisons, labels, adjudications.",
    "turnaround": "Hours from an item's arrival to its final judgment (the k-th; for moderation items, the final "
    "label by adjudication or agreement), for items finished in the range; p50 / p95 nearest rank.",
    "within_sla": "Share of the items finished in the range whose turnaround was at most the SLA.",
    "active_reviewers": "People who made at least one judgment in the range (per week: in that week).",
    "freshness": "Hours since the last successful import of each kind of file ('never': not imported yet).",
    "data_quality": "Rows refused at import in the range, and their share of the rows read (a refused file "
    "counts its bad rows).",
    "versions_per_month": "Model versions registered per month, by kind (chatbot, moderation, reward).",
    "reward_runs": "Reward-model training runs started per month, and how many finished.",
    **kpi_quality.DEFINITIONS,
    **kpi_latency.DEFINITIONS,
}


@dataclass(frozen=True)
class Backlog:
    queue: str
    open_items: int
    age_p50_hours: float | None
    age_p95_hours: float | None


@dataclass(frozen=True)
class DailyCount:
    day: str  # YYYY-MM-DD
    queue: str
    judgments: int


@dataclass(frozen=True)
class Turnaround:
    queue: str
    items: int
    p50_hours: float | None
    p95_hours: float | None
    within_sla: int

    @property
    def within_sla_share(self) -> float | None:
        return self.within_sla / self.items if self.items else None


@dataclass(frozen=True)
class WeeklyReviewers:
    week: str  # the Monday, YYYY-MM-DD
    reviewers: int


@dataclass(frozen=True)
class Freshness:
    kind: str
    last_import: datetime | None
    hours_since: float | None


@dataclass(frozen=True)
class DataQuality:
    kind: str
    files: int
    refused_files: int
    rows_read: int
    rows_refused: int

    @property
    def refused_share(self) -> float | None:
        return self.rows_refused / self.rows_read if self.rows_read else None


@dataclass(frozen=True)
class MonthCount:
    month: str  # YYYY-MM
    kind: str  # a model kind, or a reward run's status
    count: int


@dataclass(frozen=True)
class KpiReport:
    start: datetime
    end: datetime
    sla_hours: float
    now: datetime
    backlog: list[Backlog]
    throughput: list[DailyCount]
    turnaround: list[Turnaround]
    active_reviewers: int
    reviewers_by_week: list[WeeklyReviewers]
    freshness: list[Freshness]
    data_quality: list[DataQuality]
    versions_by_month: list[MonthCount]
    reward_runs_by_month: list[MonthCount]
    quality: kpi_quality.Quality
    loop_latency: list[kpi_latency.LoopLatency]  # per version made ready in the range, oldest first
    loop_sla_hours: float = kpi_latency.DEFAULT_LOOP_SLA_HOURS
    definitions: dict[str, str] = field(default_factory=lambda: dict(DEFINITIONS))

    @property
    def judgments(self) -> int:
        return sum(d.judgments for d in self.throughput)

    @property
    def open_items(self) -> int:
        return sum(b.open_items for b in self.backlog)

    @property
    def within_sla_share(self) -> float | None:
        return within_sla_share(self.turnaround)


def within_sla_share(turnarounds: list[Turnaround]) -> float | None:
    """Of every item finished in the range (all queues), the share finished within the SLA (None: none finished)."""
    finished = sum(t.items for t in turnarounds)
    return sum(t.within_sla for t in turnarounds) / finished if finished else None


def default_range(now: datetime | None = None, days: int = DEFAULT_DAYS) -> tuple[datetime, datetime]:
    """The last `days` whole days up to the end of today (UTC)."""
    now = now or utcnow()
    end = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return end - timedelta(days=days), end


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else float(seconds) / 3600


def backlog(session: Session, now: datetime) -> list[Backlog]:
    waiting = and_(WorkItem.open, ~WorkItem.is_gold)
    counts = dict(session.execute(select(WorkItem.queue, func.count()).where(waiting).group_by(WorkItem.queue)).all())
    ages = indexed_percentiles(  # along ix_work_item_backlog
        session,
        select(WorkItem.queue.label("grp"), WorkItem.created_at.label("value")).where(waiting),
        (0.5, 0.95),
        descending=True,
    )
    out = []
    for queue in sorted(set(DEFAULT_K) | set(counts)):
        at = ages.get(queue, {})
        out.append(
            Backlog(
                queue,
                counts.get(queue, 0),
                *(_hours((now - at[q]).total_seconds()) if q in at else None for q in (0.5, 0.95)),
            )
        )
    return out


def _judged_by_day_and_person(session: Session, start: datetime, end: datetime) -> list[tuple[str, str, int, int]]:
    """(day, queue, user id, judgments) over every queue's judgments in the range."""
    parts = [
        select(
            day(session, s.model.created_at).label("day"),
            literal(s.queue).label("queue"),
            s.model.user_id,
            func.count(),
        )
        .where(*s.in_range(start, end))
        .group_by(day(session, s.model.created_at), s.model.user_id)
        for s in SOURCES
    ]
    return [tuple(row) for row in session.execute(union_all(*parts)).all()]


def throughput_and_reviewers(session: Session, start: datetime, end: datetime):
    rows = _judged_by_day_and_person(session, start, end)
    per_day: dict[tuple[str, str], int] = defaultdict(int)
    per_week: dict[str, set[int]] = defaultdict(set)
    for day_text, queue, user_id, n in rows:
        per_day[(day_text, queue)] += n
        per_week[monday_of(day_text)].add(user_id)
    daily = [DailyCount(d, q, n) for (d, q), n in sorted(per_day.items())]
    weekly = [WeeklyReviewers(w, len(users)) for w, users in sorted(per_week.items())]
    return daily, len({user_id for _, _, user_id, _ in rows}), weekly


def _finished_items(session: Session, start: datetime, end: datetime):
    """(queue, hours from arrival to final judgment) of the items finished in the range: work items that got their
    k-th judgment (gold items never finish), and moderation items whose final label was reached."""
    # grouped by an expression: SQLite would otherwise walk a whole index in item order to skip a sort, instead of
    # reading just the range's judgments from ix_assignment_done
    item = (Assignment.work_item_id + literal_column("0")).label("work_item_id")
    last = (
        select(item, func.max(Assignment.updated_at).label("final_at"))
        .where(Assignment.status == "done", Assignment.updated_at >= start)
        .group_by(item)
        .having(func.max(Assignment.updated_at) < end)
        .subquery()
    )
    work = (
        select(
            WorkItem.queue.label("grp"),
            (seconds_between(session, last.c.final_at, WorkItem.created_at) / HOUR).label("value"),
        )
        .select_from(WorkItem)
        .join(last, last.c.work_item_id == WorkItem.id)
        .where(WorkItem.done >= WorkItem.k, ~WorkItem.is_gold)
    )
    touched = union(
        select(ModerationLabel.item_id).where(ModerationLabel.created_at >= start),
        select(Adjudication.item_id).where(Adjudication.created_at >= start),
    )
    decided = final_labels(items=select(touched.subquery().c.item_id))
    moderation = (
        select(
            literal(FINAL_LABEL).label("grp"),
            (seconds_between(session, decided.c.decided_at, ModerationItem.created_at) / HOUR).label("value"),
        )
        .select_from(decided)
        .join(ModerationItem, ModerationItem.id == decided.c.item_id)
        .where(decided.c.decided_at >= start, decided.c.decided_at < end)
    )
    return union_all(work, moderation)


def turnaround(session: Session, start: datetime, end: datetime, sla_hours: float) -> list[Turnaround]:
    finished = _finished_items(session, start, end).subquery()
    found = distributions(session, select(finished.c.grp, finished.c.value), (0.5, 0.95), threshold=sla_hours)
    return [
        Turnaround(queue, d.n, float(d.at[0.5]), float(d.at[0.95]), d.at_most) for queue, d in sorted(found.items())
    ]


def freshness(session: Session, now: datetime) -> list[Freshness]:
    from core.ingest import KINDS

    last = dict(
        session.execute(
            select(ImportRun.kind, func.max(ImportRun.finished_at))
            .where(ImportRun.status == "done")
            .group_by(ImportRun.kind)
        ).all()
    )
    return [
        Freshness(kind, last.get(kind), _hours((now - last[kind]).total_seconds()) if last.get(kind) else None)
        for kind in sorted(set(KINDS) | set(last))
    ]


def data_quality(session: Session, start: datetime, end: datetime) -> list[DataQuality]:
    rows = session.execute(
        select(
            ImportRun.kind,
            func.count(),
            func.count().filter(ImportRun.status == "refused"),
            func.coalesce(func.sum(ImportRun.rows_read), 0),
            func.coalesce(func.sum(ImportRun.rows_refused), 0),
        )
        .where(ImportRun.started_at >= start, ImportRun.started_at < end)
        .group_by(ImportRun.kind)
        .order_by(ImportRun.kind)
    ).all()
    return [DataQuality(kind, n, refused, int(read), int(bad)) for kind, n, refused, read, bad in rows]


def iterations(session: Session, start: datetime, end: datetime) -> tuple[list[MonthCount], list[MonthCount]]:
    """Versions registered and reward-model runs started, per month, in the range."""
    version_month = month(session, ModelVersion.created_at)
    versions = session.execute(
        select(version_month, ModelVersion.kind, func.count())
        .where(ModelVersion.created_at >= start, ModelVersion.created_at < end)
        .group_by(version_month, ModelVersion.kind)
        .order_by(version_month, ModelVersion.kind)
    ).all()
    run_month = month(session, RewardModelRun.started_at)
    runs = session.execute(
        select(run_month, RewardModelRun.status, func.count())
        .where(RewardModelRun.started_at >= start, RewardModelRun.started_at < end)
        .group_by(run_month, RewardModelRun.status)
        .order_by(run_month, RewardModelRun.status)
    ).all()
    return [MonthCount(*row) for row in versions], [MonthCount(*row) for row in runs]


def kpi_report(
    session: Session,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    sla_hours: float = DEFAULT_SLA_HOURS,
    loop_sla_hours: float = kpi_latency.DEFAULT_LOOP_SLA_HOURS,
    now: datetime | None = None,
) -> KpiReport:
    """Every KPI for [start, end) (default: the last 30 days); backlog and freshness as of `now`."""
    now = now or utcnow()
    if start is None or end is None:
        start, end = default_range(now)
    if end <= start:
        raise ValueError("the time range ends before it starts: pick an end after the start")
    if sla_hours <= 0 or loop_sla_hours <= 0:
        raise ValueError("an SLA must be a positive number of hours")
    daily, active, weekly = throughput_and_reviewers(session, start, end)
    versions, runs = iterations(session, start, end)
    return KpiReport(
        start=start,
        end=end,
        sla_hours=sla_hours,
        now=now,
        backlog=backlog(session, now),
        throughput=daily,
        turnaround=turnaround(session, start, end, sla_hours),
        active_reviewers=active,
        reviewers_by_week=weekly,
        freshness=freshness(session, now),
        data_quality=data_quality(session, start, end),
        versions_by_month=versions,
        reward_runs_by_month=runs,
        quality=kpi_quality.quality(session, start, end),
        loop_latency=kpi_latency.loop_latency(session, start, end),
        loop_sla_hours=loop_sla_hours,
    )


def kpi_json(report: KpiReport) -> dict:
    return as_data(report)


def kpi_csv_rows(report: KpiReport):
    """The report as long rows (section, item, metric, value)."""
    yield ("range", "", "start", report.start.isoformat())
    yield ("range", "", "end", report.end.isoformat())
    yield ("range", "", "sla_hours", report.sla_hours)
    yield ("range", "", "loop_sla_hours", report.loop_sla_hours)
    yield ("active_reviewers", "", "reviewers", report.active_reviewers)
    for name in (
        "backlog",
        "throughput",
        "turnaround",
        "reviewers_by_week",
        "freshness",
        "data_quality",
        "versions_by_month",
        "reward_runs_by_month",
        "loop_latency",
    ):
        yield from long_rows(name, getattr(report, name))
    q = report.quality
    for name in ("ratings_by_version", "moderation_f1", "moderation_f1_by_month", "reward_accuracy", "drift"):
        yield from long_rows(name, getattr(q, name))
    if q.win_rate is not None:
        yield from long_rows("win_rate", q.win_rate)
