"""Plain-language verdicts: which version is better, on what, by how much, how sure, and whether there is enough data.

A difference is called "shown" only when its 95% interval excludes no difference and its test rejects at 5%;
otherwise the verdict says "no difference shown" and how much more data would detect a difference worth having."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.reports.ab import ChatbotReport
    from core.reports.experiments import ExperimentReport
    from core.reports.moderation_ab import ModerationReport

ADJECTIVES = {"helpfulness": "helpful", "harmlessness": "harmless", "accuracy": "accurate"}


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def pct(x: float, digits: int = 0) -> str:
    return "n/a" if math.isnan(x) else f"{x:.{digits}%}"


def signed(x: float) -> str:
    return f"{x:+.2f}"


def chatbot_verdict(report: ChatbotReport) -> list[str]:
    f, overall = report.filters, report.overall
    win = overall.win
    n_ratings = sum(d.difference.n_a + d.difference.n_b for d in report.dimensions if d.topic == "all topics")
    if win.decided + overall.ties + overall.both_bad == 0 and n_ratings == 0:
        return [f"No comparisons or ratings of {f.a} and {f.b} in this range yet: nothing to decide on."]
    lines = []
    if win.decided == 0:
        lines.append(
            f"No decided comparisons of {f.a} and {f.b} yet ({overall.ties + overall.both_bad} without a winner)."
        )
    else:
        rate = (
            f"{f.b} wins {pct(win.rate)} [{pct(win.ci_low)}, {pct(win.ci_high)}] of {win.decided:,} decided comparisons"
        )
        if win.p_value < 0.05:
            better = f.b if win.rate > 0.5 else f.a
            lines.append(f"{better} wins more often: {rate} ({p_text(win.p_value)}; ties left out).")
        else:
            lines.append(f"Comparisons: no difference shown: {rate} ({p_text(win.p_value)}; ties left out).")
    if not (win.decided and win.p_value < 0.05):
        if report.comparisons_needed:
            lines.append(
                f"About {report.comparisons_needed:,} more comparisons would detect a 5-point win-rate difference."
            )
        else:
            lines.append("There are enough comparisons to detect a 5-point win-rate difference: any is smaller.")
    for d in (d for d in report.dimensions if d.topic == "all topics"):
        diff = d.difference
        if not (diff.n_a and diff.n_b):
            lines.append(f"{d.dimension.capitalize()}: not rated for both versions yet.")
            continue
        interval = f"{signed(diff.difference)} points [{signed(diff.ci_low)}, {signed(diff.ci_high)}]"
        if diff.shown:
            more = "more" if diff.difference > 0 else "less"
            lines.append(f"{f.b} is {more} {ADJECTIVES[d.dimension]}: {interval} ({p_text(diff.p_value)}).")
        else:
            advice = (
                f"; about {d.more_ratings_needed:,} more ratings per version would detect a 0.25-point difference"
                if d.more_ratings_needed
                else ""
            )
            lines.append(f"{d.dimension.capitalize()}: no difference shown ({interval}{advice}).")
    flagged = next((r for r in report.flags if r.flag == "any" and r.topic == "all topics"), None)
    if flagged and flagged.rates.n_a and flagged.rates.n_b:
        rates = f"{pct(flagged.rates.rate_b, 1)} of {f.b}'s ratings against {pct(flagged.rates.rate_a, 1)} of {f.a}'s"
        if flagged.rates.shown:
            direction = "more" if flagged.rates.difference > 0 else "less"
            lines.append(f"{f.b} is flagged {direction} often: {rates} ({p_text(flagged.rates.p_value)}).")
        else:
            lines.append(f"Flags: no difference shown ({rates}).")
    return lines


def moderation_verdict(report: ModerationReport) -> list[str]:
    f, m = report.filters, report.mcnemar
    if report.a.n == 0 and report.b.n == 0:
        return [
            f"No items with a final human label scored by {f.a} or {f.b} in this range: label some "
            "(moderation queue, or import labels) to compare the classifiers."
        ]
    lines = []
    if m.n == 0:
        lines.append(f"No labelled item was scored by both {f.a} and {f.b}: no paired comparison.")
    else:
        counts = f"{f.b} is right where {f.a} is wrong on {m.b_only:,} items, the reverse on {m.a_only:,}"
        if m.p_value < 0.05:
            better = f.b if m.b_only > m.a_only else f.a
            lines.append(f"{better} makes fewer mistakes on the {m.n:,} labelled items both scored: {counts} "
                         f"(McNemar {p_text(m.p_value)}).")  # fmt: skip
        else:
            lines.append(f"Mistakes on the {m.n:,} items both scored: no difference shown ({counts}; "
                         f"McNemar {p_text(m.p_value)}).")  # fmt: skip
    for metric in ("f1", "precision", "recall", "fpr"):
        a, b = report.a.metric(metric), report.b.metric(metric)
        lines.append(
            f"{report.a.label(metric)}: {f.b} {_value(b)} against {f.a} {_value(a)} (95% intervals)."
            if metric == "f1"
            else f"{report.a.label(metric)}: {f.b} {_value(b, short=True)}, {f.a} {_value(a, short=True)}."
        )
    worse = [
        s for s in report.slices if s.mcnemar.n and s.mcnemar.p_value < 0.05 and s.mcnemar.a_only > s.mcnemar.b_only
    ]
    if worse:
        named = ", ".join(f"{s.field} = {s.value}" for s in worse)
        lines.append(f"Slices where {f.b} makes more mistakes than {f.a} (McNemar p < 0.05): {named}.")
    elif report.slices:
        lines.append(f"No slice (by {', '.join(report.fields)}) where {f.b} makes more mistakes than {f.a} is shown.")
    return lines


def _value(metric: tuple[float, float, float], short: bool = False) -> str:
    value, low, high = metric
    if math.isnan(value):
        return "n/a"
    return f"{value:.2f}" if short else f"{value:.2f} [{low:.2f}, {high:.2f}]"


def experiment_verdict(report: ExperimentReport) -> list[str]:
    if not report.metrics:
        return [f"No events of experiment {report.name} yet."]
    lines = []
    units = ", ".join(f"{v}: {n:,}" for v, n in sorted(report.srm.observed.items()))
    if report.srm.alarm:
        lines.append(
            f"Sample ratio mismatch: the units per variant ({units}) do not fit the planned split "
            f"({p_text(report.srm.p_value)}). Find the cause before trusting any result below."
        )
    elif not math.isnan(report.srm.p_value):
        lines.append(f"Units per variant ({units}) fit the planned split ({p_text(report.srm.p_value)}).")
    a, b = report.variant_a, report.variant_b
    for m in report.metrics:
        r = m.rates
        interval = f"{signed(100 * r.difference)} points [{signed(100 * r.ci_low)}, {signed(100 * r.ci_high)}]"
        rates = f"{pct(r.rate_b, 1)} in {b} against {pct(r.rate_a, 1)} in {a}"
        if r.shown:
            direction = "higher" if r.difference > 0 else "lower"
            lines.append(f"{m.metric}: {direction} in {b}: {rates}, {interval} ({p_text(r.p_value)}).")
        else:
            lines.append(f"{m.metric}: no difference shown ({rates}, {interval}).")
    return lines
