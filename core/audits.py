"""What the audit and KPI pages call: one function per action, each its own transaction (reads in a read-only
one). The CLI and the tests reach the same code through the session-level functions these wrap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from core import audit_sample, flags
from core.db import session_scope
from core.reports import agreement, history, kpi, trail
from core.text import NUL


def kpi_report(
    *, start: datetime, end: datetime, sla_hours: float = kpi.DEFAULT_SLA_HOURS, engine: Engine | None = None
) -> kpi.KpiReport:
    with session_scope(engine) as session:
        return kpi.kpi_report(session, start=start, end=end, sla_hours=sla_hours)


def agreement_report(
    *, start: datetime | None = None, end: datetime | None = None, engine: Engine | None = None
) -> agreement.AgreementReport:
    with session_scope(engine) as session:
        return agreement.agreement_report(session, start=start, end=end)


# --- the trail (read only) -----------------------------------------------------------------------------------------


def trail_page(
    filters: trail.TrailFilter, *, after: trail.Cursor | None = None, engine: Engine | None = None
) -> trail.TrailPage:
    with session_scope(engine) as session:
        return trail.trail_page(session, filters, after=after)


def trail_choices(*, engine: Engine | None = None) -> trail.TrailChoices:
    with session_scope(engine) as session:
        return trail.trail_choices(session)


def trail_csv(filters: trail.TrailFilter, *, limit: int, engine: Engine | None = None) -> tuple[str, int]:
    """The matching events, newest first, at most `limit`, as CSV text; and how many it holds."""
    import io

    out = io.StringIO()
    with session_scope(engine) as session:
        written = trail.write_trail_csv(session, out, filters, limit=limit)
    return out.getvalue(), written


def item_history(reference: str, *, engine: Engine | None = None) -> history.ItemHistory | None:
    """The history of the item named by `reference` (an imported id, or entity:id); None if there is none."""
    if NUL in reference:  # no id holds one (importers refuse it); PostgreSQL would refuse the query
        return None
    with session_scope(engine) as session:
        ref = history.find_item(session, reference)
        return None if ref is None else history.item_history(session, ref)


def event_item(entity: str, entity_id: int | None, *, engine: Engine | None = None) -> str | None:
    """A reference to the item an event is about, for item_history (None if it is about no judged item)."""
    with session_scope(engine) as session:
        ref = history.item_of(session, entity, entity_id)
    return None if ref is None else f"{entity}:{entity_id}"


# --- the audit sample ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleView:
    summary: audit_sample.SampleSummary
    rates: audit_sample.PassRates
    next_item: audit_sample.SampleItemView | None  # the next judgment this auditor may re-review
    left: int  # judgments without a verdict that this auditor may re-review
    reviewed: list[audit_sample.SampleItemView]


def list_samples(*, engine: Engine | None = None) -> list[audit_sample.SampleSummary]:
    with session_scope(engine) as session:
        return audit_sample.list_samples(session)


def draw_sample(
    *, month: str, size: int, seed: int | None, actor_id: int | None, engine: Engine | None = None
) -> audit_sample.SampleSummary:
    with session_scope(engine, write=True) as session:
        return audit_sample.draw_sample(session, month=month, size=size, seed=seed, actor_id=actor_id)


def sample_view(sample_id: int, *, auditor: str, engine: Engine | None = None) -> SampleView:
    with session_scope(engine) as session:
        summary = audit_sample.sample_summary(session, sample_id)
        items = audit_sample.sample_items(session, sample_id)
        rates = audit_sample.pass_rates(session, sample_id=sample_id)
    mine = [i for i in items if i.verdict is None and i.reviewer != auditor]
    return SampleView(summary, rates, mine[0] if mine else None, len(mine), [i for i in items if i.verdict])


def review_sampled(item_id: int, *, auditor_id: int, verdict: str, reason: str, engine: Engine | None = None) -> None:
    with session_scope(engine, write=True) as session:
        audit_sample.review(session, item_id=item_id, auditor_id=auditor_id, verdict=verdict, reason=reason)


# --- flags ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlagsView:
    counts: list[flags.FlagCount]
    versions: list[str]
    page: flags.FlagPage


def flags_view(
    *,
    status: str | None,
    flag: str | None,
    version: str | None,
    offset: int = 0,
    engine: Engine | None = None,
) -> FlagsView:
    with session_scope(engine) as session:
        return FlagsView(
            flags.flag_counts(session),
            flags.flagged_versions(session),
            flags.flagged_answers(session, status=status, flag=flag, version=version, offset=offset),
        )


def triage_flag(rating_id: int, *, status: str, note: str, actor_id: int | None, engine: Engine | None = None) -> None:
    with session_scope(engine, write=True) as session:
        flags.triage(session, rating_id=rating_id, status=status, note=note, actor_id=actor_id)
