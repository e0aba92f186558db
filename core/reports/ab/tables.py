"""Every table of an A/B report as a DataFrame with script-friendly column names: the same tables feed the page,
the CSV downloads, the JSON and the HTML report. LABELS gives each column a name for people."""

from __future__ import annotations

import pandas as pd

from core.reports.ab.chatbot import ChatbotReport
from core.reports.ab.experiments import ExperimentReport
from core.reports.ab.moderation import ModerationReport
from core.stats.classification import METRICS
from core.stats.multiple import Adjusted

ADJUSTED = "p_adjusted tests adjusted_low adjusted_high shown"

LABELS = {
    "topic": "Topic",
    "wins_a": "A wins",
    "wins_b": "B wins",
    "ties": "Ties",
    "both_bad": "Both bad",
    "win_rate_b": "B's win rate",
    "ci_low": "95% low",
    "ci_high": "95% high",
    "p_value": "p",
    "p_adjusted": "Adjusted p",
    "tests": "Tests in family",
    "adjusted_low": "Adjusted low",
    "adjusted_high": "Adjusted high",
    "shown": "Shown",
    "undefined_draws": "Undefined draws",
    "dimension": "Dimension",
    "n": "Comparisons",
    "n_a": "Ratings of A",
    "n_b": "Ratings of B",
    "mean_a": "Mean of A",
    "mean_b": "Mean of B",
    "difference": "B - A",
    "more_ratings_needed": "More ratings needed",
    "flag": "Flag",
    "flagged_a": "Flagged (A)",
    "flagged_b": "Flagged (B)",
    "rate_a": "Rate of A",
    "rate_b": "Rate of B",
    "rank": "Rank",
    "model": "Model",
    "rating": "Rating",
    "battles": "Battles",
    "wins": "Wins",
    "losses": "Losses",
    "version": "Version",
    "metric": "Metric",
    "value": "Value",
    "items": "Items",
    "tp": "True positives",
    "fp": "False positives",
    "fn": "False negatives",
    "tn": "True negatives",
    "field": "Field",
    "slice": "Slice",
    "both_right": "Both right",
    "only_a_right": "Only A right",
    "only_b_right": "Only B right",
    "both_wrong": "Both wrong",
    "test": "Test",
    "variant": "Variant",
    "units": "Units",
    "planned_share": "Planned share",
    "expected_units": "Expected units",
    "units_a": "Units (A)",
    "units_b": "Units (B)",
}


def chatbot_tables(report: ChatbotReport) -> dict[str, pd.DataFrame]:
    comparisons = [
        {
            "topic": c.topic,
            "wins_a": c.win.wins_a,
            "wins_b": c.win.wins_b,
            "ties": c.ties,
            "both_bad": c.both_bad,
            "win_rate_b": c.win.rate,
            "ci_low": c.win.ci_low,
            "ci_high": c.win.ci_high,
            "p_value": c.win.p_value,
        }
        | adjusted(c.adjusted)
        for c in report.comparisons
    ]
    ratings = [
        {
            "dimension": d.dimension,
            "topic": d.topic,
            "n_a": d.difference.n_a,
            "n_b": d.difference.n_b,
            "mean_a": d.difference.mean_a,
            "mean_b": d.difference.mean_b,
            "difference": d.difference.difference,
            "ci_low": d.difference.ci_low,
            "ci_high": d.difference.ci_high,
            "p_value": d.difference.p_value,
        }
        | adjusted(d.adjusted)
        | {"more_ratings_needed": d.more_ratings_needed}
        for d in report.dimensions
    ]
    flags = [
        {
            "flag": f.flag,
            "topic": f.topic,
            "flagged_a": f.rates.count_a,
            "n_a": f.rates.n_a,
            "rate_a": f.rates.rate_a,
            "flagged_b": f.rates.count_b,
            "n_b": f.rates.n_b,
            "rate_b": f.rates.rate_b,
            "difference": f.rates.difference,
            "ci_low": f.rates.ci_low,
            "ci_high": f.rates.ci_high,
            "p_value": f.rates.p_value,
        }
        | adjusted(f.adjusted)
        for f in report.flags
    ]
    dimension_wins = [
        {
            "dimension": d.dimension,
            "n": d.n,
            "wins_a": d.win.wins_a,
            "wins_b": d.win.wins_b,
            "ties": d.win.ties,
            "win_rate_b": d.win.rate,
            "ci_low": d.win.ci_low,
            "ci_high": d.win.ci_high,
            "p_value": d.win.p_value,
        }
        | adjusted(d.adjusted)
        for d in report.dimension_win_rates
    ]
    leaderboard = [
        {
            "rank": rank,
            "model": s.model,
            "rating": s.rating,
            "ci_low": s.ci_low,
            "ci_high": s.ci_high,
            "battles": s.battles,
            "wins": s.wins,
            "losses": s.losses,
            "ties": s.ties,
        }
        for rank, s in enumerate(report.leaderboard, start=1)
    ]
    return {
        "comparisons": _frame(
            comparisons, f"topic wins_a wins_b ties both_bad win_rate_b ci_low ci_high p_value {ADJUSTED}"
        ),
        "ratings": _frame(
            ratings,
            f"dimension topic n_a n_b mean_a mean_b difference ci_low ci_high p_value {ADJUSTED} more_ratings_needed",
        ),
        "flags": _frame(
            flags, f"flag topic flagged_a n_a rate_a flagged_b n_b rate_b difference ci_low ci_high p_value {ADJUSTED}"
        ),
        "dimension_win_rates": _frame(
            dimension_wins, f"dimension n wins_a wins_b ties win_rate_b ci_low ci_high p_value {ADJUSTED}"
        ),
        "leaderboard": _frame(leaderboard, "rank model rating ci_low ci_high battles wins losses ties"),
    }


def moderation_tables(report: ModerationReport) -> dict[str, pd.DataFrame]:
    overall = [("all items", "", report.a, report.b, report.mcnemar, report.mcnemar_adjusted)]
    groups = overall + [(s.field, s.value, s.a, s.b, s.mcnemar, s.adjusted) for s in report.slices]
    metrics, mcnemar = [], []
    for field, value, a, b, test, corrected in groups:
        for c in (a, b):
            row = {"field": field, "slice": value, "version": c.version, "items": c.n}
            row |= {"tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn}
            for name in METRICS:
                row |= dict(zip((name, f"{name}_low", f"{name}_high"), c.metric(name), strict=True))
                row[f"{name}_undefined_draws"] = c.undefined_draws.get(name, 0)
            metrics.append(row)
        mcnemar.append(
            {
                "field": field,
                "slice": value,
                "items": test.n,
                "both_right": test.both_right,
                "only_a_right": test.a_only,
                "only_b_right": test.b_only,
                "both_wrong": test.both_wrong,
                "p_value": test.p_value,
            }
            | adjusted(corrected)
            | {"test": "exact binomial" if test.exact else "chi-square, continuity-corrected"}
        )
    differences = [
        {
            "metric": d.difference.metric,
            "items": d.difference.items,
            "difference": d.difference.difference,
            "ci_low": d.difference.ci_low,
            "ci_high": d.difference.ci_high,
            "p_value": d.difference.p_value,
        }
        | adjusted(d.adjusted)
        | {"undefined_draws": d.difference.undefined_draws}
        for d in report.differences
    ]
    return {
        "classifiers": pd.DataFrame(metrics),
        "differences": _frame(
            differences, f"metric items difference ci_low ci_high p_value {ADJUSTED} undefined_draws"
        ),
        "mcnemar": pd.DataFrame(mcnemar),
    }


def experiment_tables(report: ExperimentReport) -> dict[str, pd.DataFrame]:
    metrics = [
        {
            "metric": m.metric,
            "units_a": m.rates.n_a,
            "rate_a": m.rates.rate_a,
            "units_b": m.rates.n_b,
            "rate_b": m.rates.rate_b,
            "difference": m.rates.difference,
            "ci_low": m.rates.ci_low,
            "ci_high": m.rates.ci_high,
            "p_value": m.rates.p_value,
        }
        | adjusted(m.adjusted)
        for m in report.metrics
    ]
    split = [
        {
            "variant": v,
            "units": report.srm.observed.get(v, 0),
            "planned_share": report.planned_split.get(v, 0.0),
            "expected_units": report.srm.expected.get(v),
        }
        for v in sorted(set(report.srm.observed) | set(report.planned_split))
    ]
    return {
        "metrics": _frame(
            metrics, f"metric units_a rate_a units_b rate_b difference ci_low ci_high p_value {ADJUSTED}"
        ),
        "sample_ratio": _frame(split, "variant units planned_share expected_units"),
    }


def adjusted(claim: Adjusted) -> dict:
    """The columns of a claim corrected within its family: Holm's p, the family's size, the widened interval, and
    whether the difference is shown (all empty for an untested claim)."""
    return {
        "p_adjusted": claim.p_adjusted,
        "tests": claim.tests,
        "adjusted_low": claim.ci_low,
        "adjusted_high": claim.ci_high,
        "shown": claim.shown,
    }


def _frame(rows: list[dict], columns: str) -> pd.DataFrame:
    """A table that keeps its columns when it has no rows."""
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns.split())
