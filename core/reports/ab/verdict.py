"""The wording of the plain-language verdicts (each report module writes its own from these): which version is better,
on what, by how much, how sure, and whether there is enough data.

A difference is called "shown" only when, corrected for the other claims of its family (core.stats.multiple), its
adjusted p < 0.05 and its widened (Bonferroni) interval excludes no difference; otherwise the verdict says "no
difference shown" and how much more data would detect a difference worth having. The intervals in a verdict are the
widened ones; the tables give the 95% ones beside them."""

from __future__ import annotations

import math

from core.stats.ab import ALPHA
from core.stats.multiple import Adjusted

ADJECTIVES = {"helpfulness": "helpful", "harmlessness": "harmless", "accuracy": "accurate"}


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def adjusted_text(p: float, adjusted: Adjusted) -> str:
    """ "p = 0.028, adjusted p = 0.11" (Holm, within the claim's family)."""
    return f"{p_text(p)}, adjusted {p_text(adjusted.p_adjusted)}"


def family_line(tests: int) -> list[str]:
    """The verdict's last line: how many claims it tested together, and at which level its intervals are."""
    if tests < 2:
        return []
    return [
        f"Adjusted for {tests} tests (Holm's method): a difference is shown when its adjusted p < {ALPHA} and its "
        f"{100 * (1 - ALPHA / tests):.4g}% interval (Bonferroni) excludes none; the intervals above are those."
    ]


def pct(x: float, digits: int = 0) -> str:
    return "n/a" if math.isnan(x) else f"{x:.{digits}%}"


def signed(x: float) -> str:
    return f"{x:+.2f}"


def metric_text(metric: tuple[float, float, float], short: bool = False) -> str:
    """A metric with its 95% interval ("0.81 [0.77, 0.85]"), or alone (short)."""
    value, low, high = metric
    if math.isnan(value):
        return "n/a"
    return f"{value:.2f}" if short else f"{value:.2f} [{low:.2f}, {high:.2f}]"
