"""What the report pages and `python -m core report` call: one function per report, each checked against the rule
table and read in its own transaction (planning an experiment's split is the one write).

The reports' modules are imported by the function that needs them: they pull in pandas, scipy, statsmodels and
scikit-learn (over a second), which the home page and every command would otherwise pay at start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from core.auth import UserPublic, guarded, may
from core.oversight.comments import Mention, mentions_of
from core.reports.filters import Filters
from core.reports.home import Count, home_counts
from core.review.assignee_progress import AssignedToYou, assigned_to
from core.store.db import session_scope
from core.store.inventory import ImportLine, recent_imports

if TYPE_CHECKING:
    from core.reports.ab.chatbot import ChatbotReport, ReportChoices
    from core.reports.ab.experiments import ExperimentReport
    from core.reports.ab.moderation import ModerationReport
    from core.reports.audit.agreement import AgreementReport
    from core.reports.audit.report import AuditReport
    from core.reports.kpi.report import KpiReport


@dataclass(frozen=True)
class Home:
    counts: list[Count]
    imports: list[ImportLine]  # the last imports, for those who may see the store's contents
    mentions: list[Mention]  # the latest comments that mention the actor, newest first
    assigned: AssignedToYou | None = None  # the items a lead assigned to the actor, standing now


@guarded("home.read")
def home(*, actor: UserPublic, engine: Engine | None = None) -> Home:
    """The numbers that matter to the actor's role on their home page, and the comments that mention them."""
    with session_scope(engine) as session:
        imports = recent_imports(session, limit=5) if may(actor, "data.read") else []
        return Home(home_counts(session, actor), imports, mentions_of(session, actor), assigned_to(session, actor.id))


@guarded("report.ab")
def report_choices(*, actor: UserPublic, engine: Engine | None = None) -> ReportChoices:
    """The versions, topics and experiments a report can be asked for."""
    from core.reports.ab import chatbot

    with session_scope(engine) as session:
        return chatbot.report_choices(session)


@guarded("report.ab")
def ab_report(*, actor: UserPublic, filters: Filters, engine: Engine | None = None) -> ChatbotReport | ModerationReport:
    """Two chatbot or two moderation versions compared; raises ReportError when the filters cannot make a report."""
    from core.reports.ab import chatbot

    with session_scope(engine) as session:
        return chatbot.compare_versions(session, filters)


@guarded("report.ab")
def experiment_report(*, actor: UserPublic, name: str, engine: Engine | None = None) -> ExperimentReport:
    from core.reports.ab import experiments

    with session_scope(engine) as session:
        return experiments.experiment_report(session, name)


@guarded("experiment.plan")
def plan_experiment(
    *, actor: UserPublic, name: str, split: dict[str, float], engine: Engine | None = None
) -> dict[str, float]:
    """Set the planned share of units per variant (normalized), audited as the actor; returns the split stored."""
    from core.reports.ab import experiments

    with session_scope(engine, write=True) as session:
        return experiments.plan_split(session, name=name, split=split, actor_id=actor.id)


@guarded("report.kpi")
def kpi(
    *,
    actor: UserPublic,
    start: datetime | None = None,
    end: datetime | None = None,
    sla_hours: float | None = None,
    loop_sla_hours: float | None = None,
    engine: Engine | None = None,
) -> KpiReport:
    """The KPIs over [start, end) (by default the last DEFAULT_DAYS days), against the turnaround target
    (DEFAULT_SLA_HOURS unless given) and the loop-latency target (DEFAULT_LOOP_SLA_HOURS unless given)."""
    from core.reports.kpi import latency
    from core.reports.kpi import report as kpis

    if start is None or end is None:
        default_start, default_end = kpis.default_range()
        start, end = start or default_start, end or default_end
    with session_scope(engine) as session:
        return kpis.kpi_report(
            session,
            start=start,
            end=end,
            sla_hours=sla_hours or kpis.DEFAULT_SLA_HOURS,
            loop_sla_hours=loop_sla_hours or latency.DEFAULT_LOOP_SLA_HOURS,
        )


@guarded("report.agreement")
def agreement(
    *, actor: UserPublic, start: datetime | None = None, end: datetime | None = None, engine: Engine | None = None
) -> AgreementReport:
    """Agreement on the judgments made in [start, end) (all of them by default)."""
    from core.reports.audit import agreement as agreements

    with session_scope(engine) as session:
        return agreements.agreement_report(session, start=start, end=end)


@guarded("report.agreement")
def audit_report(
    *, actor: UserPublic, start: datetime | None = None, end: datetime | None = None, engine: Engine | None = None
) -> AuditReport:
    """Agreement in the range, every audit sample with its pass rates, and the flags' triage counts."""
    from core.reports.audit import report as audits

    with session_scope(engine) as session:
        return audits.audit_report(session, start=start, end=end)
