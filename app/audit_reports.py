"""Report results for the audit and KPI pages (the A/B pages have theirs in app.reports), cached per filter for a
short time (keyed on the store's URL and the filters) and cleared after every write made from these pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import plotly.graph_objects as go
import streamlit as st

from app import charts
from app.session import engine
from core import audits
from core.config import get_settings
from core.reports.agreement import AgreementReport
from core.reports.kpi import KpiReport
from core.reports.trail import TrailChoices

TTL_SECONDS = 60
AGREEMENT_TTL_SECONDS = 600  # agreement moves slowly and costs seconds at a million judgments


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """[first day 00:00 UTC, the day after the last 00:00 UTC): a date picker's range, both days included."""
    return datetime.combine(first, time(), tzinfo=UTC), datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)


@dataclass(frozen=True)
class KpiView:
    report: KpiReport
    charts: dict[str, go.Figure]


# The KPI view is kept as it is (st.cache_resource), not copied on every read as st.cache_data would: a plotly
# figure takes about 20 ms to unpickle, which alone would spend the warm page's budget. Nothing changes it.
@st.cache_resource(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def _kpi(url: str, start: datetime, end: datetime, sla_hours: float) -> KpiView:
    report = audits.kpi_report(start=start, end=end, sla_hours=sla_hours, engine=engine())
    return KpiView(report, charts.kpi_charts(report))


def kpi(start: datetime, end: datetime, sla_hours: float) -> KpiView:
    return _kpi(get_settings().database_url, start, end, sla_hours)


@st.cache_data(ttl=AGREEMENT_TTL_SECONDS, show_spinner=False)
def _agreement(url: str, start: datetime | None, end: datetime | None) -> AgreementReport:
    return audits.agreement_report(start=start, end=end, engine=engine())


def agreement(start: datetime | None, end: datetime | None) -> AgreementReport:
    return _agreement(get_settings().database_url, start, end)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _trail_choices(url: str) -> TrailChoices:
    return audits.trail_choices(engine=engine())


def trail_choices() -> TrailChoices:
    return _trail_choices(get_settings().database_url)


def clear() -> None:
    """After a write (a sample drawn, a verdict, a triage): the next read recomputes."""
    for cached in (_kpi, _agreement, _trail_choices):  # one cache_resource, two cache_data
        cached.clear()
