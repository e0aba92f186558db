"""Report results for the pages, cached per filter for a few minutes (st.cache_data), and the widgets that show
them: verdict, tables with their CSV download, the HTML download."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from app.widgets import escape_markdown
from core.config import get_settings
from core.db import get_engine, session_scope
from core.reports import export
from core.reports.ab import ChatbotReport, ReportChoices, compare_versions, report_choices
from core.reports.experiments import ExperimentReport, experiment_report
from core.reports.filters import Filters
from core.reports.moderation_ab import ModerationReport
from core.reports.tables import LABELS

TTL_SECONDS = 300  # new judgments show up in a report within five minutes (or at once with Refresh)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, max_entries=128)
def _versions(url: str, a: str, b: str, since: date | None, until: date | None, topic: str | None):
    with session_scope(get_engine(url)) as session:
        return compare_versions(session, Filters(a, b, since, until, topic))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, max_entries=32)
def _experiment(url: str, name: str) -> ExperimentReport:
    with session_scope(get_engine(url)) as session:
        return experiment_report(session, name)


@st.cache_data(ttl=60, show_spinner=False, max_entries=8)
def _choices(url: str) -> ReportChoices:
    with session_scope(get_engine(url)) as session:
        return report_choices(session)


def version_report(filters: Filters) -> ChatbotReport | ModerationReport:
    """Raises ReportError (not cached) when the filters cannot make a report."""
    return _versions(get_settings().database_url, filters.a, filters.b, filters.since, filters.until, filters.topic)


def experiment(name: str) -> ExperimentReport:
    return _experiment(get_settings().database_url, name)


def choices() -> ReportChoices:
    return _choices(get_settings().database_url)


def refresh() -> None:
    for cached in (_versions, _experiment, _choices):
        cached.clear()


def verdict_box(lines: list[str]) -> None:
    with st.container(border=True):
        st.markdown("**Verdict**\n\n" + "\n".join(f"- {escape_markdown(line)}" for line in lines))


def table(name: str, frame: pd.DataFrame, *, key: str) -> None:
    """The table as the person reads it (column names, rounded numbers) and its CSV download (raw numbers)."""
    shown = frame.rename(columns=lambda c: LABELS.get(c, c.replace("_", " ")))
    formats = {
        column: st.column_config.NumberColumn(format="%.3g")
        for column in shown.columns
        if pd.api.types.is_float_dtype(shown[column])
    }
    st.dataframe(shown, hide_index=True, column_config=formats)
    st.download_button(
        f"{name}.csv",
        data=lambda: export.csv_bytes(frame),
        file_name=f"{name}.csv",
        mime="text/csv",
        icon=":material/download:",
        key=f"{key}-{name}-csv",
    )


def html_download(report, *, file_name: str, key: str) -> None:
    st.download_button(
        "Download the report (HTML)",
        data=lambda: export.to_html(report),
        file_name=file_name,
        mime="text/html",
        icon=":material/description:",
        type="primary",
        key=key,
    )
