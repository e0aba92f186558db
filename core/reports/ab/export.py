"""A/B reports out of the product: JSON, CSV (safe to open in a spreadsheet) and a self-contained HTML file."""

from __future__ import annotations

import html
import io
import json
from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from core.reports.ab import charts
from core.reports.ab.chatbot import TIES_RULE, ChatbotReport
from core.reports.ab.experiments import ExperimentReport
from core.reports.ab.moderation import ModerationReport
from core.reports.ab.tables import LABELS, chatbot_tables, experiment_tables, moderation_tables
from core.reports.csv_safe import LINE_END, escape_cell
from core.reports.filters import plain

Report = ChatbotReport | ModerationReport | ExperimentReport
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.verdict { background: #eef5ff; border-left: 4px solid #1f77b4; padding: 0.5rem 1rem; }
.muted { color: #666; font-size: 0.85rem; }
"""


def tables(report: Report) -> dict[str, pd.DataFrame]:
    if isinstance(report, ChatbotReport):
        return chatbot_tables(report)
    if isinstance(report, ModerationReport):
        return moderation_tables(report)
    return experiment_tables(report)


def figures(report: Report) -> list[go.Figure]:
    if isinstance(report, ChatbotReport):
        return [charts.win_rate_chart(report), charts.forest_chart(report), charts.leaderboard_chart(report)]
    if isinstance(report, ModerationReport):
        return [charts.moderation_chart(report), charts.slice_chart(report)]
    return [charts.experiment_chart(report)]


def title(report: Report) -> str:
    if isinstance(report, ExperimentReport):
        return f"Experiment {report.name}: {report.variant_b} against {report.variant_a}"
    return f"A/B report: {report.filters.b} against {report.filters.a}"


def to_json(report: Report) -> dict:
    """The report as plain data; NaN (no data) becomes null."""
    found = {name: table.to_dict("records") for name, table in tables(report).items()}
    if isinstance(report, ExperimentReport):
        head = {
            "kind": "experiment",
            "experiment": report.name,
            "variant_a": report.variant_a,
            "variant_b": report.variant_b,
            "srm_p_value": report.srm.p_value,
            "srm_alarm": report.srm.alarm,
        }
    else:
        f = report.filters
        kind = "chatbot" if isinstance(report, ChatbotReport) else "moderation"
        head = {"kind": kind, "a": f.a, "b": f.b, "since": f.since, "until": f.until, "topic": f.topic}
    if isinstance(report, ChatbotReport):
        win = report.overall.win
        head |= {
            "wins_a": win.wins_a,
            "wins_b": win.wins_b,
            "ties": report.overall.ties,
            "both_bad": report.overall.both_bad,
            "win_rate_b": win.rate,
            "ci_low": win.ci_low,
            "ci_high": win.ci_high,
            "p_value": win.p_value,
            "p_adjusted": report.overall.adjusted.p_adjusted,
            "tests": report.overall.adjusted.tests,
            "ties_rule": TIES_RULE,
            "comparisons_needed": report.comparisons_needed,
        }
    return plain(head | {"verdict": report.verdict} | found)


def csv_bytes(table: pd.DataFrame) -> bytes:
    safe = table.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(escape_cell)
    buffer = io.StringIO()
    safe.to_csv(buffer, index=False, lineterminator=LINE_END)
    return buffer.getvalue().encode("utf-8")


def to_csv(report: Report) -> bytes:
    """Every table in one CSV, a `table` column first naming the table each row belongs to."""
    parts = [
        t.assign(table=name)[["table", *t.columns]].convert_dtypes()  # whole numbers stay whole next to blanks
        for name, t in tables(report).items()
        if len(t)
    ]
    return csv_bytes(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["table"]))


def to_html(report: Report) -> str:
    """One file that opens anywhere, offline: verdict, charts (plotly.js inlined once) and every table, all text
    escaped."""
    e = html.escape
    subtitle = report.filters.describe() if not isinstance(report, ExperimentReport) else _experiment_line(report)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(title(report))}</title><style>{STYLE}</style>",
        f"<script>{get_plotlyjs()}</script></head><body>",
        f"<h1>{e(title(report))}</h1><p class='muted'>{e(subtitle)}. Made {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.</p>",
        "<h2>Verdict</h2><div class='verdict'><ul>",
        *[f"<li>{e(line)}</li>" for line in report.verdict],
        "</ul></div>",
        *[fig.to_html(full_html=False, include_plotlyjs=False) for fig in figures(report)],
    ]
    for name, table in tables(report).items():
        parts.append(f"<h2>{e(name.replace('_', ' ').capitalize())}</h2>")
        shown = table.rename(columns=lambda c: LABELS.get(c, c.replace("_", " ")))
        parts.append(shown.to_html(index=False, escape=True, na_rep="–", float_format=lambda x: f"{x:.4g}"))
    parts.append("</body></html>")
    return "\n".join(parts)


def _experiment_line(report: ExperimentReport) -> str:
    ran = f"{report.started_at:%Y-%m-%d} to {report.ended_at:%Y-%m-%d}" if report.started_at and report.ended_at else ""
    return f"A = {report.variant_a}, B = {report.variant_b}" + (f"; events from {ran}" if ran else "")


def dumps(report: Report) -> str:
    return json.dumps(to_json(report), indent=2, ensure_ascii=False)
