"""Plotly figures of the KPI report: drawing only, from the report's rows (no numbers computed here).

Built with plotly.graph_objects rather than plotly.express: express goes through pandas and costs 20-70 ms a
figure, graph objects a few."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import plotly.graph_objects as go
from plotly.colors import qualitative

from core.reports.audit.agreement import MonthAgreement, TimeSpread
from core.reports.kpi.latency import LoopLatency
from core.reports.kpi.quality import DriftWeek, ModerationF1, RewardAccuracy, VersionRatings, WinRate
from core.reports.kpi.report import Backlog, DailyCount, KpiReport, MonthCount, Turnaround, WeeklyReviewers
from core.stats.agreement import RELIABLE, TENTATIVE
from core.stats.drift import BANDS
from core.store.versions import natural_key

HEIGHT = 320
RUBRIC = ("helpfulness", "harmlessness", "accuracy")
PALETTE = qualitative.Plotly


def version_colours(names: Iterable[str]) -> dict[str, str]:
    """One colour per version for every chart of a page, so that each legend matches its lines (plotly would
    colour each trace by its place in its figure)."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(set(names), key=natural_key))}


def _line(name: str, x: list, y: list, colour: str, **options) -> go.Scatter:
    return go.Scatter(
        name=name, x=x, y=y, mode="lines+markers", line={"color": colour}, marker={"color": colour}, **options
    )


def _figure(
    traces: Iterable[go.BaseTraceType], *, y: str, barmode: str | None = None, months: bool = False, **layout
) -> go.Figure:
    """`months`: the x values are 'YYYY-MM' labels, shown as they are (plotly would read them as dates)."""
    fig = go.Figure(list(traces))
    fig.update_layout(height=HEIGHT, margin={"l": 10, "r": 10, "t": 30, "b": 10}, barmode=barmode, **layout)
    fig.update_yaxes(title_text=y)
    if months:
        fig.update_xaxes(type="category")
    return fig


def _series(rows: Iterable[tuple[str, str, float | None]]) -> dict[str, tuple[list, list]]:
    """(series, x, y) rows -> series -> (xs, ys), in the order first seen."""
    out: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for name, x, y in rows:
        out[name][0].append(x)
        out[name][1].append(y)
    return out


def throughput(daily: Sequence[DailyCount]) -> go.Figure:
    series = _series((d.queue, d.day, d.judgments) for d in daily)
    return _figure((go.Bar(name=q, x=x, y=y) for q, (x, y) in series.items()), y="judgments per day", barmode="stack")


def backlog(rows: Sequence[Backlog]) -> go.Figure:
    queues = [b.queue for b in rows]
    return _figure(
        [
            go.Bar(name="p50", x=queues, y=[b.age_p50_hours for b in rows]),
            go.Bar(name="p95", x=queues, y=[b.age_p95_hours for b in rows]),
        ],
        y="age of open items (h)",
        barmode="group",
    )


def _against_sla(x: list, p50: list, p95: list, *, y: str, sla_hours: float) -> go.Figure:
    """p50 and p95 bars side by side under a dashed red SLA line."""
    fig = _figure([go.Bar(name="p50", x=x, y=p50), go.Bar(name="p95", x=x, y=p95)], y=y, barmode="group")
    fig.add_hline(y=sla_hours, line_dash="dash", line_color="red", annotation_text=f"SLA {sla_hours:g} h")
    return fig


def turnaround(rows: Sequence[Turnaround], sla_hours: float) -> go.Figure:
    return _against_sla(
        [t.queue for t in rows],
        [t.p50_hours for t in rows],
        [t.p95_hours for t in rows],
        y="hours from arrival to final judgment",
        sla_hours=sla_hours,
    )


def loop_latency(rows: Sequence[LoopLatency], sla_hours: float) -> go.Figure:
    """Arrival to version ready, p50 and p95, per version in the order they were ready, against the SLA line."""
    fig = _against_sla(
        [r.version for r in rows],
        [r.arrival_to_version_p50_hours for r in rows],
        [r.arrival_to_version_p95_hours for r in rows],
        y="hours from arrival to version ready",
        sla_hours=sla_hours,
    )
    return fig.update_xaxes(type="category")  # version names as they are (plotly would read a dated name as a date)


def reviewers(weekly: Sequence[WeeklyReviewers]) -> go.Figure:
    return _figure([go.Bar(x=[w.week for w in weekly], y=[w.reviewers for w in weekly])], y="active reviewers (week)")


def per_month(rows: Sequence[MonthCount], *, y: str) -> go.Figure:
    series = _series((m.kind, m.month, m.count) for m in rows)
    return _figure((go.Bar(name=k, x=x, y=v) for k, (x, v) in series.items()), y=y, barmode="stack", months=True)


def mean_ratings(rows: Sequence[VersionRatings], colours: dict[str, str]) -> go.Figure:
    """One panel per rubric dimension, a line per version over the months."""
    traces = []
    for i, dimension in enumerate(RUBRIC, start=1):
        for version, (x, y) in _series((r.version, r.month, getattr(r, dimension)) for r in rows).items():
            traces.append(
                _line(
                    version,
                    x,
                    y,
                    colours[version],
                    xaxis=f"x{i}",
                    yaxis=f"y{i}",
                    legendgroup=version,
                    showlegend=i == 1,
                )
            )
    axes = {}
    for i, dimension in enumerate(RUBRIC, start=1):
        axes[f"xaxis{i if i > 1 else ''}"] = {
            "domain": [(i - 1) / 3 + 0.02, i / 3 - 0.02],
            "anchor": f"y{i}",
            "title": {"text": dimension},
            "type": "category",
        }
        axes[f"yaxis{i if i > 1 else ''}"] = {"range": [1, 5.2], "anchor": f"x{i}"}
    fig = go.Figure(traces)
    fig.update_layout(height=HEIGHT, margin={"l": 10, "r": 10, "t": 30, "b": 10}, **axes)
    return fig


def win_rate(win: WinRate) -> go.Figure:
    months = [(m, w / (w + lost)) for m, w, lost in win.by_month if w + lost]
    fig = _figure(
        [go.Bar(x=[m for m, _ in months], y=[r for _, r in months])],
        y=f"{win.newest} wins",
        yaxis_range=[0, 1],
        months=True,
    )
    fig.add_hline(y=0.5, line_dash="dot", annotation_text="even")
    return fig


def moderation_f1(rows: Sequence[ModerationF1], colours: dict[str, str]) -> go.Figure:
    series = _series((r.version, r.month, r.f1) for r in rows)
    return _figure(
        (_line(v, x, y, colours[v]) for v, (x, y) in series.items()),
        y="F1 against final labels",
        yaxis_range=[0, 1.05],
        months=True,
    )


def reward_accuracy(rows: Sequence[RewardAccuracy]) -> go.Figure:
    above = [(r.accuracy_ci[1] - r.accuracy) if r.accuracy_ci else 0 for r in rows]
    below = [(r.accuracy - r.accuracy_ci[0]) if r.accuracy_ci else 0 for r in rows]
    return _figure(
        [
            go.Scatter(
                x=[r.finished_at for r in rows],
                y=[r.accuracy for r in rows],
                mode="lines+markers",
                text=[f"run {r.run_id}" for r in rows],
                error_y={"type": "data", "array": above, "arrayminus": below, "symmetric": False},
            )
        ],
        y="held-out accuracy",
        yaxis_range=[0, 1],
    )


def drift(rows: Sequence[DriftWeek], colours: dict[str, str]) -> go.Figure:
    series = _series((d.version, d.week, d.psi) for d in rows if d.psi is not None)
    fig = _figure(
        (_line(v, x, y, colours[v]) for v, (x, y) in series.items()),
        y="PSI against the week before",
    )
    top = max([BANDS[1] * 1.6, *(y for _, ys in series.values() for y in ys)])
    for low, high, color in ((0, BANDS[0], "green"), (BANDS[0], BANDS[1], "orange"), (BANDS[1], top, "red")):
        fig.add_hrect(y0=low, y1=high, fillcolor=color, opacity=0.08, line_width=0)
    return fig


def agreement_over_time(rows: Sequence[MonthAgreement]) -> go.Figure:
    """One queue's alpha per month, a line per dimension, over Krippendorff's bands."""
    series = _series((r.dimension, r.month, r.krippendorff_alpha) for r in rows)
    fig = _figure(
        (go.Scatter(name=d, x=x, y=y, mode="lines+markers") for d, (x, y) in series.items()),
        y="Krippendorff's alpha",
        months=True,
    )
    low = min([0.0, *(y for _, ys in series.values() for y in ys if y is not None)])
    for bottom, top, colour in ((low, TENTATIVE, "red"), (TENTATIVE, RELIABLE, "orange"), (RELIABLE, 1.0, "green")):
        fig.add_hrect(y0=bottom, y1=top, fillcolor=colour, opacity=0.08, line_width=0)
    return fig.update_yaxes(range=[low, 1.02])


def time_per_item(spreads: Sequence[tuple[str, TimeSpread]]) -> go.Figure:
    """One queue's active seconds per item: a box per reviewer (p25 to p75, the median inside, whiskers from p10 to
    p90) beside the queue's own, first."""
    names = [name for name, _ in spreads]
    fig = _figure(
        [
            go.Box(
                x=names,
                q1=[t.p25 for _, t in spreads],
                median=[t.median for _, t in spreads],
                q3=[t.p75 for _, t in spreads],
                lowerfence=[t.p10 for _, t in spreads],
                upperfence=[t.p90 for _, t in spreads],
                name="seconds per item",
                showlegend=False,
            )
        ],
        y="seconds per item",
    )
    return fig.update_xaxes(type="category")


def kpi_charts(report: KpiReport) -> dict[str, go.Figure]:
    """Every figure the KPI page can show for a report (those with nothing to draw are left out)."""
    q = report.quality
    figures = {}
    colours = version_colours(
        [r.version for r in q.ratings_by_version]
        + [r.version for r in q.moderation_f1_by_month]
        + [d.version for d in q.drift]
    )
    if any(b.age_p50_hours is not None for b in report.backlog):
        figures["backlog"] = backlog(report.backlog)
    if report.turnaround:
        figures["turnaround"] = turnaround(report.turnaround, report.sla_hours)
    if report.throughput:
        figures["throughput"] = throughput(report.throughput)
        figures["reviewers"] = reviewers(report.reviewers_by_week)
    if report.versions_by_month:
        figures["versions"] = per_month(report.versions_by_month, y="versions registered")
    if any(r.judgments for r in report.loop_latency):
        figures["loop_latency"] = loop_latency(report.loop_latency, report.loop_sla_hours)
    if report.reward_runs_by_month:
        figures["reward_runs"] = per_month(report.reward_runs_by_month, y="reward-model runs")
    if q.ratings_by_version:
        figures["mean_ratings"] = mean_ratings(q.ratings_by_version, colours)
    if q.win_rate is not None and q.win_rate.by_month:
        figures["win_rate"] = win_rate(q.win_rate)
    if q.moderation_f1_by_month:
        figures["moderation_f1"] = moderation_f1(q.moderation_f1_by_month, colours)
    runs = [r for r in q.reward_accuracy if r.accuracy is not None]
    if runs:
        figures["reward_accuracy"] = reward_accuracy(runs)
    if any(d.psi is not None for d in q.drift):
        figures["drift"] = drift(q.drift, colours)
    return figures
