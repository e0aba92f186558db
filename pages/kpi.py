"""KPIs (product owner, admin): is the feedback loop healthy, and are the models getting better?"""

from datetime import timedelta

import streamlit as st

from app.report_cache import day_range, kpi
from app.session import require_page
from app.widgets import metric_tiles, page_header
from core.reports.home import Count
from core.reports.kpi.latency import DEFAULT_LOOP_SLA_HOURS
from core.reports.kpi.report import DEFAULT_DAYS, DEFAULT_SLA_HOURS, FINAL_LABEL
from core.store.models import utcnow

user = require_page("kpi")
page_header(
    "KPIs",
    "The feedback loop from arrival to decision, and the quality of each model version. Hover a number's "
    "question mark for its definition. Times are UTC; figures are at most a minute old.",
)
NO_DATA = "No data yet"

today = utcnow().date()
left, right, loop_right = st.columns([2, 1, 1], vertical_alignment="bottom")
picked = left.date_input(
    "Time range (days included)",
    value=(today - timedelta(days=DEFAULT_DAYS - 1), today),
    max_value=today,
    key="kpi_range",
)
sla = right.number_input(
    "Turnaround SLA (hours)", min_value=1.0, max_value=24.0 * 60, value=DEFAULT_SLA_HOURS, step=1.0
)
loop_sla = loop_right.number_input(
    "Loop latency SLA (hours)", min_value=1.0, max_value=24.0 * 365, value=DEFAULT_LOOP_SLA_HOURS, step=1.0
)
if not isinstance(picked, tuple) or len(picked) != 2:
    st.info("Pick the last day of the range too.", icon=":material/date_range:")
    st.stop()

with st.spinner("Computing the KPIs…"):
    view = kpi(user, *day_range(*picked), sla, loop_sla)
report, figures, d = view.report, view.charts, view.report.definitions


def chart(name: str) -> None:
    if name in figures:
        st.plotly_chart(figures[name], key=f"chart-{name}")


def hours(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f} h"


def share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def spread(p50: float | None, p95: float | None) -> str:
    """p50 / p95 hours in one cell."""
    return "–" if p50 is None else f"{p50:,.1f} / {p95:,.1f} h"


def meets(value: float | None, target: float) -> str:
    return "–" if value is None else ("yes" if value <= target else "no")


def no_data(what: str) -> None:
    st.caption(f"{NO_DATA}: {what}")


metric_tiles(
    [
        Count("Judgments", report.judgments, d["throughput"]),
        Count("Active reviewers", report.active_reviewers, d["active_reviewers"]),
        Count("Open items", report.open_items, d["backlog"]),
        Count(f"Finished within {sla:g} h", share(report.within_sla_share), d["within_sla"]),
    ]
)
if not report.judgments and not report.open_items:
    st.info(f"{NO_DATA}: no judgments in this range and nothing waiting. Import data or pick another range.")

st.subheader("Backlog and turnaround", anchor=False, help=f"{d['backlog']} {d['backlog_age']}")
backlog_col, turnaround_col = st.columns(2)
with backlog_col:
    st.dataframe(
        [
            {
                "Queue": b.queue,
                "Open items": b.open_items,
                "Age p50": hours(b.age_p50_hours),
                "Age p95": hours(b.age_p95_hours),
            }
            for b in report.backlog
        ],
        hide_index=True,
        column_config={"Age p95": st.column_config.TextColumn(help=d["backlog_age"])},
    )
    chart("backlog")
with turnaround_col:
    if report.turnaround:
        st.dataframe(
            [
                {
                    "Queue": t.queue,
                    "Finished": t.items,
                    "p50": hours(t.p50_hours),
                    "p95": hours(t.p95_hours),
                    "Within SLA": share(t.within_sla_share),
                }
                for t in report.turnaround
            ],
            hide_index=True,
            column_config={"p95": st.column_config.TextColumn(help=d["turnaround"])},
        )
        chart("turnaround")
        st.caption(f"{d['turnaround']} '{FINAL_LABEL}': from a moderation item's arrival to its final label.")
    else:
        no_data("no item reached its final judgment in this range.")

st.subheader("Loop latency per version", anchor=False, help=f"{d['loop_latency']} {d['loop_sla']}")
if report.loop_latency:
    st.dataframe(
        [
            {
                "Version": r.version,
                "Kind": r.kind,
                "Judgments": r.judgments,
                "Arrival → judgment": spread(r.arrival_to_judgment_p50_hours, r.arrival_to_judgment_p95_hours),
                "Judgment → version": spread(r.judgment_to_version_p50_hours, r.judgment_to_version_p95_hours),
                "Arrival → version": spread(r.arrival_to_version_p50_hours, r.arrival_to_version_p95_hours),
                "p95 within SLA": meets(r.arrival_to_version_p95_hours, loop_sla),
            }
            for r in report.loop_latency
        ],
        hide_index=True,
        column_config={
            name: st.column_config.TextColumn(help="p50 / p95, hours")
            for name in ("Arrival → judgment", "Judgment → version", "Arrival → version")
        },
    )
    chart("loop_latency")
    st.caption(f"{d['loop_latency']} SLA: {loop_sla:g} h from arrival to version ready.")
else:
    no_data("no retrained moderation version or finished reward-model run was ready in this range.")

st.subheader("Throughput and reviewers", anchor=False, help=f"{d['throughput']} {d['active_reviewers']}")
if report.throughput:
    daily_col, weekly_col = st.columns([2, 1])
    with daily_col:
        chart("throughput")
    with weekly_col:
        chart("reviewers")
else:
    no_data("no judgments in this range.")

st.subheader("Data", anchor=False, help=f"{d['freshness']} {d['data_quality']}")
fresh_col, quality_col = st.columns(2)
fresh_col.dataframe(
    [
        {
            "Kind": f.kind,
            "Last import (UTC)": f.last_import,
            "Hours since": "never" if f.hours_since is None else f"{f.hours_since:,.1f}",
        }
        for f in report.freshness
    ],
    hide_index=True,
    column_config={
        "Last import (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        "Hours since": st.column_config.TextColumn(help=d["freshness"]),
    },
)
with quality_col:
    if report.data_quality:
        st.dataframe(
            [
                {
                    "Kind": q.kind,
                    "Files": q.files,
                    "Refused files": q.refused_files,
                    "Rows read": q.rows_read,
                    "Rows refused": q.rows_refused,
                    "Refused share": share(q.refused_share),
                }
                for q in report.data_quality
            ],
            hide_index=True,
            column_config={"Refused share": st.column_config.TextColumn(help=d["data_quality"])},
        )
    else:
        no_data("no imports in this range.")

st.subheader("Model iterations", anchor=False, help=f"{d['versions_per_month']} {d['reward_runs']}")
versions_col, runs_col = st.columns(2)
with versions_col:
    if report.versions_by_month:
        chart("versions")
    else:
        no_data("no model version registered in this range.")
with runs_col:
    if report.reward_runs_by_month:
        chart("reward_runs")
    else:
        no_data("no reward-model run in this range.")

q = report.quality
st.subheader("Quality per version", anchor=False, help=d["mean_ratings"])
if q.ratings_by_version:
    chart("mean_ratings")
else:
    no_data("no ratings in this range.")
win_col, f1_col, reward_col = st.columns(3)
with win_col:
    if q.win_rate is not None and q.win_rate.rate is not None:
        w = q.win_rate
        win_col.metric(
            f"{w.newest} against {w.previous}",
            f"{w.rate:.0%}",
            help=f"{d['win_rate']} {w.wins} wins, {w.losses} losses, {w.ties} ties, {w.both_bad} both bad.",
            border=True,
        )
        st.caption(f"95 % interval {w.low:.0%} to {w.high:.0%}")
        chart("win_rate")
    else:
        no_data("no comparisons of the two newest versions in this range.")
with f1_col:
    if q.moderation_f1:
        latest = q.moderation_f1[-1]
        f1_col.metric(f"F1 of {latest.version}", share(latest.f1), help=d["moderation_f1"], border=True)
        chart("moderation_f1")
    else:
        no_data("no moderation version has scored items with a final label.")
with reward_col:
    runs = [r for r in q.reward_accuracy if r.accuracy is not None]
    if runs:
        reward_col.metric(
            f"Reward model, run {runs[-1].run_id}", share(runs[-1].accuracy), help=d["reward_accuracy"], border=True
        )
        chart("reward_accuracy")
    else:
        no_data("no finished reward-model run.")

st.subheader("Moderation score drift", anchor=False, help=d["drift"])
if any(w.psi is not None for w in q.drift):
    chart("drift")
    shifted = [w for w in q.drift if w.band == "major"]
    if shifted:
        st.warning(
            "Major shift: " + ", ".join(f"{w.version} in the week of {w.week} (PSI {w.psi:.2f})" for w in shifted)
        )
    st.caption(d["drift"])
else:
    no_data("fewer than two consecutive weeks of moderation scores in this range.")
