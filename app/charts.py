"""Plotly figures of the KPI report: drawing only, from the report's plain rows (no numbers computed here)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core.reports.kpi import Backlog, DailyCount, MonthCount, Turnaround, WeeklyReviewers
from core.reports.kpi_quality import DriftWeek, ModerationF1, RewardAccuracy, VersionRatings, WinRate
from core.stats.drift import BANDS

HEIGHT = 320


def _layout(fig: go.Figure, *, y: str, x: str = "") -> go.Figure:
    fig.update_layout(height=HEIGHT, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend_title_text="")
    fig.update_yaxes(title_text=y)
    fig.update_xaxes(title_text=x)
    return fig


def throughput(daily: Sequence[DailyCount]) -> go.Figure:
    frame = pd.DataFrame([{"Day": d.day, "Queue": d.queue, "Judgments": d.judgments} for d in daily])
    return _layout(px.bar(frame, x="Day", y="Judgments", color="Queue"), y="judgments per day")


def backlog(rows: Sequence[Backlog]) -> go.Figure:
    frame = pd.DataFrame(
        [
            {"Queue": b.queue, "Age": label, "Hours": value}
            for b in rows
            for label, value in (("p50", b.age_p50_hours), ("p95", b.age_p95_hours))
            if value is not None
        ]
    )
    return _layout(px.bar(frame, x="Queue", y="Hours", color="Age", barmode="group"), y="age of open items (h)")


def turnaround(rows: Sequence[Turnaround], sla_hours: float) -> go.Figure:
    frame = pd.DataFrame(
        [
            {"Queue": t.queue, "Percentile": label, "Hours": value}
            for t in rows
            for label, value in (("p50", t.p50_hours), ("p95", t.p95_hours))
        ]
    )
    fig = px.bar(frame, x="Queue", y="Hours", color="Percentile", barmode="group")
    fig.add_hline(y=sla_hours, line_dash="dash", line_color="red", annotation_text=f"SLA {sla_hours:g} h")
    return _layout(fig, y="hours from arrival to final judgment")


def reviewers(weekly: Sequence[WeeklyReviewers]) -> go.Figure:
    frame = pd.DataFrame([{"Week of": w.week, "Reviewers": w.reviewers} for w in weekly])
    return _layout(px.bar(frame, x="Week of", y="Reviewers"), y="active reviewers")


def per_month(rows: Sequence[MonthCount], *, y: str) -> go.Figure:
    frame = pd.DataFrame([{"Month": m.month, "Kind": m.kind, "Count": m.count} for m in rows])
    return _layout(px.bar(frame, x="Month", y="Count", color="Kind"), y=y)


def mean_ratings(rows: Sequence[VersionRatings]) -> go.Figure:
    frame = pd.DataFrame(
        [
            {"Month": r.month, "Version": r.version, "Dimension": dim, "Mean": getattr(r, dim)}
            for r in rows
            for dim in ("helpfulness", "harmlessness", "accuracy")
        ]
    )
    fig = px.line(frame, x="Month", y="Mean", color="Version", facet_col="Dimension", markers=True, range_y=[1, 5])
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    return _layout(fig, y="mean score (1-5)")


def win_rate(win: WinRate) -> go.Figure:
    frame = pd.DataFrame(
        [{"Month": m, "Win rate": w / (w + lost)} for m, w, lost in win.by_month if w + lost],
    )
    fig = px.bar(frame, x="Month", y="Win rate", range_y=[0, 1])
    fig.add_hline(y=0.5, line_dash="dot", annotation_text="even")
    return _layout(fig, y=f"{win.newest} wins against {win.previous}")


def moderation_f1(rows: Sequence[ModerationF1]) -> go.Figure:
    frame = pd.DataFrame([{"Registered": r.registered, "Version": r.version, "F1": r.f1} for r in rows])
    fig = px.line(frame, x="Registered", y="F1", text="Version", markers=True, range_y=[0, 1])
    fig.update_traces(textposition="top center")
    return _layout(fig, y="F1 against final labels")


def reward_accuracy(rows: Sequence[RewardAccuracy]) -> go.Figure:
    frame = pd.DataFrame(
        [
            {
                "Finished": r.finished_at,
                "Accuracy": r.accuracy,
                "above": (r.accuracy_ci[1] - r.accuracy) if r.accuracy_ci else 0,
                "below": (r.accuracy - r.accuracy_ci[0]) if r.accuracy_ci else 0,
                "Run": f"run {r.run_id}",
            }
            for r in rows
            if r.accuracy is not None
        ]
    )
    fig = px.line(
        frame,
        x="Finished",
        y="Accuracy",
        error_y="above",
        error_y_minus="below",
        markers=True,
        hover_name="Run",
        range_y=[0, 1],
    )
    return _layout(fig, y="held-out accuracy")


def drift(rows: Sequence[DriftWeek]) -> go.Figure:
    frame = pd.DataFrame([{"Week of": d.week, "Version": d.version, "PSI": d.psi} for d in rows if d.psi is not None])
    fig = px.line(frame, x="Week of", y="PSI", color="Version", markers=True)
    top = max([BANDS[1] * 1.6, *(frame["PSI"] if len(frame) else [])])
    for low, high, color in ((0, BANDS[0], "green"), (BANDS[0], BANDS[1], "orange"), (BANDS[1], top, "red")):
        fig.add_hrect(y0=low, y1=high, fillcolor=color, opacity=0.08, line_width=0)
    return _layout(fig, y="PSI against the week before")
