"""The monthly audit sample: a stratified random sample of a month's judgments, drawn reproducibly from a seed,
stored, and re-reviewed by an expert (agree, or disagree with a reason); its pass rate per queue and reviewer.

Strata are (queue, reviewer). A sample of n is allocated to them in proportion to their size, by largest
remainder, with at least one judgment from every stratum when n allows; within a stratum the judgments are chosen
by a random generator seeded with (seed, queue, reviewer), so a stratum's choice does not depend on the others."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlmodel import Session

from core import audit
from core.oversight.history import ItemRef, judgment_view
from core.reports.judgments import BY_QUEUE, SOURCES
from core.store.models import AUDIT_VERDICTS, AuditSample, AuditSampleItem, Rating, Response, User, utcnow
from core.text import text_problems

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MAX_SIZE = 10_000


class SampleError(Exception):
    """An audit-sample action was refused; nothing was written. The message says why and what to do."""


@dataclass(frozen=True)
class SampleSummary:
    id: int
    month: str
    size: int
    seed: int
    population: int
    drawn: int
    reviewed: int
    agreed: int
    created_at: datetime
    created_by: str | None
    strata: list[dict]  # {"queue", "reviewer_id", "reviewer", "population", "drawn"}


@dataclass(frozen=True)
class SampleItemView:
    id: int
    queue: str
    judgment_id: int
    reviewer: str
    judged_at: datetime
    texts: list[tuple[str, str]]
    values: str
    answers: tuple[int, ...]  # the answers judged (their sources are for leads only)
    item: ItemRef | None  # the item judged (None if the judgment is gone): its comment thread shows beside it
    verdict: str | None
    reason: str
    auditor: str | None
    spans: tuple[str, list[dict]] | None = None  # a rating's answer and its error spans, when it has any


@dataclass(frozen=True)
class PassRate:
    group: str  # a queue or a reviewer
    reviewed: int
    agreed: int
    rate: float | None
    low: float | None  # Wilson 95 % interval
    high: float | None


@dataclass(frozen=True)
class PassRates:
    by_queue: list[PassRate]
    by_reviewer: list[PassRate]


def month_range(month: str) -> tuple[datetime, datetime]:
    """[first moment, first moment of the next month) of 'YYYY-MM', in UTC."""
    match = MONTH.match(month or "")
    if not match:
        raise SampleError(f"month {month!r}: write it as YYYY-MM, for example 2026-03")
    year, number = int(match[1]), int(match[2])
    start = datetime(year, number, 1, tzinfo=UTC)
    return start, datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)


def allocate(sizes: dict[tuple[str, int], int], n: int) -> dict[tuple[str, int], int]:
    """How many to draw from each stratum: proportional, largest remainder, at least one each when n allows."""
    total = sum(sizes.values())
    if n >= total:
        return dict(sizes)
    strata = sorted(sizes)
    floor_one = n >= len(strata)
    shares = {s: n * sizes[s] / total for s in strata}
    given = {s: min(sizes[s], max(int(shares[s]), 1 if floor_one else 0)) for s in strata}
    # hand out what is left by largest remainder (ties: the larger stratum, then the first); take back if over
    order = {s: i for i, s in enumerate(strata)}
    while sum(given.values()) < n:
        open_ = [s for s in strata if given[s] < sizes[s]]
        given[max(open_, key=lambda s: (shares[s] - given[s], sizes[s], -order[s]))] += 1
    while sum(given.values()) > n:
        over = [s for s in strata if given[s] > (1 if floor_one else 0)]
        given[min(over, key=lambda s: (shares[s] - given[s], -sizes[s], order[s]))] -= 1
    return given


def _strata(session: Session, start: datetime, end: datetime) -> dict[tuple[str, int], int]:
    sizes = {}
    for source in SOURCES:
        model = source.model
        rows = session.execute(
            select(model.user_id, func.count()).where(*source.in_range(start, end)).group_by(model.user_id)
        )
        sizes.update({(source.queue, user_id): n for user_id, n in rows})
    return sizes


def default_seed(month: str) -> int:
    """The seed used when none is given: the month as a number (2026-03: 202603)."""
    month_range(month)
    return int(month.replace("-", ""))


def draw_sample(
    session: Session, *, month: str, size: int, seed: int | None = None, actor_id: int | None
) -> SampleSummary:
    """Draw and store the sample of `month` (or return the one drawn before with the same month, size and seed).
    Without a seed, default_seed(month)."""
    if not 1 <= size <= MAX_SIZE:
        raise SampleError(f"size {size}: draw between 1 and {MAX_SIZE:,} judgments")
    start, end = month_range(month)
    seed = default_seed(month) if seed is None else seed
    existing = session.execute(
        select(AuditSample).where(AuditSample.month == month, AuditSample.size == size, AuditSample.seed == seed)
    ).scalar_one_or_none()
    if existing is not None:
        return sample_summary(session, existing.id)
    sizes = _strata(session, start, end)
    if not sizes:
        raise SampleError(f"no judgments were made in {month}: nothing to sample")
    counts = allocate(sizes, size)
    sample = AuditSample(month=month, size=size, seed=seed, population=sum(sizes.values()), created_by=actor_id)
    items = []
    for (queue, user_id), n in sorted(counts.items()):
        if n == 0:
            continue
        model = BY_QUEUE[queue].model
        rows = session.execute(
            select(model.id, model.created_at)
            .where(model.user_id == user_id, *BY_QUEUE[queue].in_range(start, end))
            .order_by(model.id)
        ).all()
        for judgment_id, judged_at in sorted(random.Random(f"{seed}:{queue}:{user_id}").sample(rows, n)):
            items.append(
                AuditSampleItem(queue=queue, judgment_id=judgment_id, reviewer_id=user_id, judged_at=judged_at)
            )
    sample.strata = [
        {
            "queue": queue,
            "reviewer_id": user_id,
            "population": sizes[(queue, user_id)],
            "drawn": counts[(queue, user_id)],
        }
        for queue, user_id in sorted(sizes)
    ]
    session.add(sample)
    session.flush()
    for item in items:
        item.sample_id = sample.id
    session.add_all(items)
    audit.record(
        session,
        actor_id=actor_id,
        action="audit_sample.draw",
        entity="audit_sample",
        entity_id=sample.id,
        after={"month": month, "size": size, "seed": seed, "drawn": len(items), "population": sample.population},
    )
    session.flush()
    return sample_summary(session, sample.id)


def review(session: Session, *, item_id: int, auditor_id: int, verdict: str, reason: str = "") -> None:
    """An expert's verdict on one sampled judgment; a change of verdict is a new audit event, the old one kept."""
    if verdict not in AUDIT_VERDICTS:
        raise SampleError(f"verdict {verdict!r}: choose agree or disagree")
    reason = reason.strip()
    if problems := text_problems("reason", reason):
        raise SampleError(problems[0])
    if verdict == "disagree" and not reason:
        raise SampleError("say why you disagree: a reason is required")
    item = session.get(AuditSampleItem, item_id, with_for_update=True)
    if item is None:
        raise SampleError(f"no sampled judgment {item_id}")
    if item.reviewer_id == auditor_id:
        raise SampleError("this is your own judgment: another expert must audit it")
    before = {"verdict": item.verdict, "reason": item.reason, "auditor_id": item.auditor_id}
    after = {"verdict": verdict, "reason": reason, "auditor_id": auditor_id}
    if before == after:
        return
    item.verdict, item.reason, item.auditor_id, item.reviewed_at = verdict, reason, auditor_id, utcnow()
    session.add(item)
    audit.record(
        session,
        actor_id=auditor_id,
        action="audit_sample.review",
        entity="audit_sample_item",
        entity_id=item.id,
        before=before,
        after=after | {"queue": item.queue, "judgment_id": item.judgment_id},
    )


def _names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(User.id, User.username)).all())


def _summaries(session: Session, where) -> list[SampleSummary]:
    reviewed = func.count(AuditSampleItem.verdict)
    agreed = func.count().filter(AuditSampleItem.verdict == "agree")
    rows = session.execute(
        select(AuditSample, func.count(AuditSampleItem.id), reviewed, agreed)
        .outerjoin(AuditSampleItem, AuditSampleItem.sample_id == AuditSample.id)
        .where(where)
        .group_by(AuditSample.id)
        .order_by(AuditSample.month.desc(), AuditSample.id.desc())
    ).all()
    names = _names(session)
    return [
        SampleSummary(
            s.id,
            s.month,
            s.size,
            s.seed,
            s.population,
            drawn,
            n_reviewed,
            n_agreed,
            s.created_at,
            names.get(s.created_by),
            [{**x, "reviewer": names.get(x["reviewer_id"], "?")} for x in s.strata],
        )
        for s, drawn, n_reviewed, n_agreed in rows
    ]


def sample_summary(session: Session, sample_id: int) -> SampleSummary:
    found = _summaries(session, AuditSample.id == sample_id)
    if not found:
        raise SampleError(f"no audit sample {sample_id}")
    return found[0]


def list_samples(session: Session) -> list[SampleSummary]:
    """Every sample drawn, newest month first."""
    return _summaries(session, True)


def sample_items(session: Session, sample_id: int, *, to_review_only: bool = False) -> list[SampleItemView]:
    """The sampled judgments with what they were about, for re-review."""
    query = select(AuditSampleItem).where(AuditSampleItem.sample_id == sample_id)
    if to_review_only:
        query = query.where(AuditSampleItem.verdict.is_(None))
    names = _names(session)
    views = []
    for item in session.execute(query.order_by(AuditSampleItem.queue, AuditSampleItem.id)).scalars():
        texts, values, ref = judgment_view(session, item.queue, item.judgment_id) or (
            [],
            "(the judgment is gone)",
            None,
        )
        views.append(
            SampleItemView(
                item.id,
                item.queue,
                item.judgment_id,
                names.get(item.reviewer_id, "?"),
                item.judged_at,
                texts,
                values,
                ref.answers if ref else (),
                ref,
                item.verdict,
                item.reason,
                names.get(item.auditor_id),
                _rating_spans(session, item) if item.queue == "rating" else None,
            )
        )
    return views


def _rating_spans(session: Session, item: AuditSampleItem) -> tuple[str, list[dict]] | None:
    rating = session.get(Rating, item.judgment_id)
    if rating is None or not rating.spans:
        return None
    return session.get(Response, rating.response_id).text, list(rating.spans)


def _rate(group: str, reviewed: int, agreed: int) -> PassRate:
    from statsmodels.stats.proportion import proportion_confint  # slow to import: only where it is needed

    if not reviewed:
        return PassRate(group, 0, 0, None, None, None)
    low, high = proportion_confint(agreed, reviewed, alpha=0.05, method="wilson")
    return PassRate(group, reviewed, agreed, agreed / reviewed, float(low), float(high))


def pass_rates(session: Session, *, sample_id: int | None = None, month: str | None = None) -> PassRates:
    """Audit pass rate (agree / reviewed) per queue and per reviewer, of one sample, a month's samples, or all."""
    where = [AuditSampleItem.verdict.is_not(None)]
    if sample_id is not None:
        where.append(AuditSampleItem.sample_id == sample_id)
    if month is not None:
        month_range(month)
        where.append(AuditSampleItem.sample_id.in_(select(AuditSample.id).where(AuditSample.month == month)))
    agreed = func.count().filter(AuditSampleItem.verdict == "agree")
    names = _names(session)

    def grouped(column) -> list[tuple]:
        return session.execute(select(column, func.count(), agreed).where(*where).group_by(column)).all()

    by_queue = [_rate(queue, n, a) for queue, n, a in sorted(grouped(AuditSampleItem.queue))]
    by_reviewer = sorted(
        (_rate(names.get(user_id, "?"), n, a) for user_id, n, a in grouped(AuditSampleItem.reviewer_id)),
        key=lambda r: r.group,
    )
    return PassRates(by_queue, by_reviewer)


def last_month(now: datetime | None = None) -> str:
    """'YYYY-MM' of the month before `now`'s: the month an audit usually looks back on."""
    now = now or utcnow()
    first = now.replace(day=1)
    previous = first.replace(month=first.month - 1) if first.month > 1 else first.replace(year=first.year - 1, month=12)
    return f"{previous:%Y-%m}"
