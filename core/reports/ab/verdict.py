"""The wording of the plain-language verdicts (each report module writes its own from these): which version is better,
on what, by how much, how sure, and whether there is enough data.

A difference is called "shown" only when its 95% interval excludes no difference and its test rejects at 5%;
otherwise the verdict says "no difference shown" and how much more data would detect a difference worth having."""

from __future__ import annotations

import math

ADJECTIVES = {"helpfulness": "helpful", "harmlessness": "harmless", "accuracy": "accurate"}


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


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
