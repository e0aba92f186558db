"""Report results for the pages, cached for a short time and cleared after every write made from the report pages.

A cached result is keyed on the store, the reader's role and the filters, and is computed by the reports service as
the first reader of that role: a reader whose role may not read the report never reaches a result another computed
(the service refuses them, and nothing of another role is shared)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import plotly.graph_objects as go
import streamlit as st

from app import charts
from core.auth import UserPublic
from core.config import get_settings
from core.reports import service as reports
from core.reports.ab.chatbot import ChatbotReport, ReportChoices
from core.reports.ab.experiments import ExperimentReport
from core.reports.ab.moderation import ModerationReport
from core.reports.audit.agreement import AgreementReport
from core.reports.filters import Filters
from core.reports.kpi.report import KpiReport

TTL_SECONDS = 60
AB_TTL_SECONDS = 300  # new judgments show up in an A/B report within five minutes (or at once with Refresh)
AGREEMENT_TTL_SECONDS = 600  # agreement moves slowly


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """[first day 00:00 UTC, the day after the last 00:00 UTC): a date picker's range, both days included."""
    return datetime.combine(first, time(), tzinfo=UTC), datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)


def _url() -> str:
    return get_settings().database_url


@dataclass(frozen=True)
class KpiView:
    report: KpiReport
    charts: dict[str, go.Figure]


# The KPI view is kept as it is (st.cache_resource), not copied on every read as st.cache_data would: a plotly
# figure takes about 20 ms to unpickle, which alone would spend the warm page's budget. Nothing changes it.
@st.cache_resource(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def _kpi(
    url: str, role: str, start: datetime, end: datetime, sla_hours: float, loop_sla_hours: float, _actor: UserPublic
) -> KpiView:
    report = reports.kpi(actor=_actor, start=start, end=end, sla_hours=sla_hours, loop_sla_hours=loop_sla_hours)
    return KpiView(report, charts.kpi_charts(report))


def kpi(actor: UserPublic, start: datetime, end: datetime, sla_hours: float, loop_sla_hours: float) -> KpiView:
    return _kpi(_url(), actor.role, start, end, sla_hours, loop_sla_hours, actor)


@st.cache_data(ttl=AGREEMENT_TTL_SECONDS, show_spinner=False)
def _agreement(
    url: str, role: str, start: datetime | None, end: datetime | None, _actor: UserPublic
) -> AgreementReport:
    return reports.agreement(actor=_actor, start=start, end=end)


def agreement(actor: UserPublic, start: datetime | None, end: datetime | None) -> AgreementReport:
    return _agreement(_url(), actor.role, start, end, actor)


@st.cache_data(ttl=AB_TTL_SECONDS, show_spinner=False, max_entries=128)
def _versions(url: str, role: str, filters: Filters, _actor: UserPublic) -> ChatbotReport | ModerationReport:
    return reports.ab_report(actor=_actor, filters=filters)


def version_report(actor: UserPublic, filters: Filters) -> ChatbotReport | ModerationReport:
    """Raises ReportError (not cached) when the filters cannot make a report."""
    return _versions(_url(), actor.role, filters, actor)


@st.cache_data(ttl=AB_TTL_SECONDS, show_spinner=False, max_entries=32)
def _experiment(url: str, role: str, name: str, _actor: UserPublic) -> ExperimentReport:
    return reports.experiment_report(actor=_actor, name=name)


def experiment(actor: UserPublic, name: str) -> ExperimentReport:
    return _experiment(_url(), actor.role, name, actor)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, max_entries=8)
def _choices(url: str, role: str, _actor: UserPublic) -> ReportChoices:
    return reports.report_choices(actor=_actor)


def choices(actor: UserPublic) -> ReportChoices:
    return _choices(_url(), actor.role, actor)


def clear() -> None:
    """After a write (a sample drawn, a verdict, a triage) or a Refresh: the next read recomputes."""
    for cached in (_kpi, _agreement, _versions, _experiment, _choices):
        cached.clear()
