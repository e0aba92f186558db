"""A/B reports (product owner, admin): two chatbot or moderation versions, a time range, a topic; the verdict,
charts, tables and downloads; and the online experiments."""

import re

import streamlit as st

from app import report_cache, report_widgets
from app.session import require_page
from app.widgets import page_header
from core.reports.ab import export
from core.reports.ab.chatbot import ChatbotReport
from core.reports.filters import Filters, ReportError

KINDS = {"chatbot": "Chatbot versions", "moderation": "Moderation classifiers"}

user = require_page("ab_report")
page_header(
    "A/B reports",
    "Which version is better, on what, by how much and how sure we are, from the experts' judgments and the "
    "annotators' final labels. Results are cached for five minutes.",
)
if st.button("Refresh", icon=":material/refresh:", help="Recompute with the newest judgments"):
    report_cache.clear()
choices = report_cache.choices(user)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "report"


kind = st.segmented_control("Compare", list(KINDS), format_func=KINDS.get, default="chatbot", key="ab_kind")
kind = kind or "chatbot"  # a click on the chosen option clears it
names = choices.chatbots if kind == "chatbot" else choices.classifiers
if len(names) < 2:
    st.info(f"The store holds fewer than two {KINDS[kind].lower()}: import data to compare them.")
else:
    left, right, when, about = st.columns([1, 1, 1.3, 1])
    a = left.selectbox("A (baseline)", names, index=len(names) - 2, key=f"ab_a_{kind}")
    b = right.selectbox("B (candidate)", names, index=len(names) - 1, key=f"ab_b_{kind}")
    days = when.date_input("Days (UTC, both included; empty: all)", value=(), key="ab_days")
    since, until = (*days, None, None)[:2]
    topic = None
    if kind == "chatbot":
        chosen = about.selectbox("Topic", ["All topics", *choices.topics], key="ab_topic")
        topic = None if chosen == "All topics" else chosen
    try:
        with st.spinner("Computing the report…"):
            report = report_cache.version_report(user, Filters(a, b, since, until, topic))
    except ReportError as error:
        st.error(str(error), icon=":material/error:")
    else:
        report_widgets.verdict_box(report.verdict)
        report_widgets.html_download(report, file_name=f"ab-{_slug(a)}-vs-{_slug(b)}.html", key="ab_html")
        figures = export.figures(report)
        tables = export.tables(report)
        if isinstance(report, ChatbotReport):
            st.caption("Ties and both-bad comparisons count for neither version: the win rate is over decided ones.")
            chart_names = ("Win rate", "Ratings", "Leaderboard")
        else:
            st.caption("Against the final human labels (an adjudication, else agreeing labels); toxic is positive.")
            chart_names = ("Classifiers", "Slices")
        for tab, figure in zip(st.tabs(chart_names), figures, strict=True):
            tab.plotly_chart(figure, width="stretch")
        for name, frame in tables.items():
            st.subheader(name.replace("_", " ").capitalize(), anchor=False)
            if name == "dimension_win_rates":
                st.caption(
                    "B's win rate on each rubric dimension, from the comparisons that asked for one (ties left out); "
                    "corrected as one family of their own."
                    if len(frame)
                    else "None yet: turn on *Ask per dimension* for the comparison queue on the Review queues page."
                )
                if not len(frame):
                    continue
            report_widgets.table(name, frame, key="ab")

st.divider()
st.header("Online experiments", anchor=False)
if not choices.experiments:
    st.info("No experiments yet: import their events (kind `experiment-events`) on the Data page or with the CLI.")
else:
    name = st.selectbox("Experiment", choices.experiments, key="ab_experiment")
    try:
        result = report_cache.experiment(user, name)
    except ReportError as error:
        st.error(str(error), icon=":material/error:")
    else:
        if result.srm.alarm:
            st.error("Sample ratio mismatch: see the verdict before reading the results.", icon=":material/warning:")
        report_widgets.verdict_box(result.verdict)
        report_widgets.html_download(result, file_name=f"experiment-{_slug(name)}.html", key="experiment_html")
        st.plotly_chart(export.figures(result)[0], width="stretch")
        for table_name, frame in export.tables(result).items():
            st.subheader(table_name.replace("_", " ").capitalize(), anchor=False)
            report_widgets.table(table_name, frame, key="experiment")
