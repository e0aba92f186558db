"""The reports' charts as plotly figures: drawn by the page and embedded in the HTML report (one drawing for both)."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from core.reports.ab.chatbot import ALL, ChatbotReport
from core.reports.ab.experiments import ExperimentReport
from core.reports.ab.moderation import ModerationReport
from core.stats.classification import METRICS

BLUE, GREY, ORANGE = "#1f77b4", "#7f7f7f", "#ff7f0e"


def _errors(values: list[float], lows: list[float], highs: list[float]) -> dict:
    """Asymmetric error bars (plotly wants distances from the value; NaN draws none)."""
    return {
        "type": "data",
        "symmetric": False,
        "array": [h - v if not math.isnan(h - v) else 0 for v, h in zip(values, highs, strict=True)],
        "arrayminus": [v - lo if not math.isnan(v - lo) else 0 for v, lo in zip(values, lows, strict=True)],
    }


MIN_HEIGHT = 220  # the title, the x axis's ticks and title, and room to plot, even for a chart of one or no rows


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    """Margins grow to fit the tick labels and axis titles (automargin): the app's theme does that, a downloaded
    report would cut them."""
    height = max(height, MIN_HEIGHT)
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 50, "b": 10}, showlegend=False)
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def win_rate_chart(report: ChatbotReport) -> go.Figure:
    rows = [c for c in report.comparisons if c.win.decided]
    rates = [c.win.rate for c in rows]
    fig = go.Figure(
        go.Bar(
            x=rates,
            y=[c.topic for c in rows],
            orientation="h",
            marker_color=[BLUE if c.topic == ALL else GREY for c in rows],
            error_x=_errors(rates, [c.win.ci_low for c in rows], [c.win.ci_high for c in rows]),
            customdata=[c.win.decided for c in rows],
            hovertemplate="%{y}: %{x:.0%} of %{customdata} decided comparisons<extra></extra>",
        )
    )
    fig.add_vline(x=0.5, line_dash="dash", line_color=ORANGE)
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title=f"{report.filters.b}'s win rate against {report.filters.a}")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "Win rate of B, with 95% Wilson intervals (ties left out)", 120 + 28 * len(rows))


def forest_chart(report: ChatbotReport) -> go.Figure:
    rows = [d for d in report.dimensions if d.difference.n_a and d.difference.n_b]
    values = [d.difference.difference for d in rows]
    fig = go.Figure(
        go.Scatter(
            x=values,
            y=[f"{d.dimension} · {d.topic}" for d in rows],
            mode="markers",
            marker={"color": [BLUE if d.topic == ALL else GREY for d in rows], "size": 9},
            error_x=_errors(values, [d.difference.ci_low for d in rows], [d.difference.ci_high for d in rows]),
            hovertemplate="%{y}: %{x:+.2f} points<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_dash="dash", line_color=ORANGE)
    fig.update_xaxes(title=f"mean score of {report.filters.b} minus {report.filters.a} (points, 1-5 scale)")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "Rating differences per dimension, with 95% bootstrap intervals", 120 + 22 * len(rows))


def leaderboard_chart(report: ChatbotReport) -> go.Figure:
    rows = report.leaderboard
    ratings = [s.rating for s in rows]
    chosen = {report.filters.a, report.filters.b}
    fig = go.Figure(
        go.Scatter(
            x=ratings,
            y=[s.model for s in rows],
            mode="markers",
            marker={"color": [ORANGE if s.model in chosen else BLUE for s in rows], "size": 10},
            error_x=_errors(ratings, [s.ci_low for s in rows], [s.ci_high for s in rows]),
            customdata=[s.battles for s in rows],
            hovertemplate="%{y}: %{x:.0f} (%{customdata} battles)<extra></extra>",
        )
    )
    fig.update_xaxes(title="Bradley-Terry rating (Elo scale: +400 = ten-to-one odds)")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "Leaderboard of every chatbot version, with 95% bootstrap intervals", 120 + 26 * len(rows))


def moderation_chart(report: ModerationReport) -> go.Figure:
    fig = go.Figure()
    for confusion, colour in ((report.a, GREY), (report.b, BLUE)):
        values = [confusion.metric(m)[0] for m in METRICS]
        fig.add_bar(
            name=confusion.version,
            x=list(METRICS.values()),
            y=values,
            marker_color=colour,
            error_y=_errors(
                values, [confusion.metric(m)[1] for m in METRICS], [confusion.metric(m)[2] for m in METRICS]
            ),
        )
    fig.update_yaxes(range=[0, 1])
    fig = _layout(fig, "Against the human final labels, with 95% bootstrap intervals", 380)
    return fig.update_layout(barmode="group", showlegend=True)


def slice_chart(report: ModerationReport) -> go.Figure:
    fig = go.Figure()
    labels = [f"{s.field} = {s.value}" for s in report.slices]
    for side, colour in (("a", GREY), ("b", BLUE)):
        values = [getattr(s, side).metric("f1") for s in report.slices]
        f1 = [v[0] for v in values]
        fig.add_bar(
            name=getattr(report.filters, side),
            x=f1,
            y=labels,
            orientation="h",
            marker_color=colour,
            error_x=_errors(f1, [v[1] for v in values], [v[2] for v in values]),
        )
    fig.update_xaxes(range=[0, 1], title="F1 against the final labels")
    fig.update_yaxes(autorange="reversed")
    fig = _layout(fig, "F1 per slice of the items' metadata (the fairness view)", 140 + 40 * len(labels))
    return fig.update_layout(barmode="group", showlegend=True)


def experiment_chart(report: ExperimentReport) -> go.Figure:
    rows = [m for m in report.metrics if not math.isnan(m.rates.difference)]
    values = [100 * m.rates.difference for m in rows]
    fig = go.Figure(
        go.Scatter(
            x=values,
            y=[m.metric for m in rows],
            mode="markers",
            marker={"color": BLUE, "size": 10},
            error_x=_errors(values, [100 * m.rates.ci_low for m in rows], [100 * m.rates.ci_high for m in rows]),
            hovertemplate="%{y}: %{x:+.1f} points<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_dash="dash", line_color=ORANGE)
    fig.update_xaxes(title=f"rate in {report.variant_b} minus rate in {report.variant_a} (percentage points)")
    return _layout(fig, "Difference per metric, with 95% intervals", 140 + 30 * len(rows))
