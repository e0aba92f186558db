"""Claims tested together, corrected together: Holm's method over each family of differences a report tests.

A report that tests five differences at 5% each claims one by chance far more often than 5% of the time. Holm's
step-down method keeps the chance of any false claim in a family at 5%. Each claim's
interval is widened to the Bonferroni level 1 - 0.05/m (m claims in the family), and a difference counts as shown
only when its adjusted p < 0.05 and that interval excludes no difference. A claim without data (p is NaN) is no test
and does not count in its family."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.stats.ab import ALPHA, NAN


class Claim(Protocol):
    """A tested difference: its p-value, its interval at any level, and the value meaning no difference."""

    p_value: float

    @property
    def null(self) -> float: ...

    def interval(self, alpha: float) -> tuple[float, float] | None:
        """The two-sided 1 - alpha interval, or None for a test without one (McNemar's)."""


@dataclass(frozen=True)
class Adjusted:
    """One claim after the correction of its family."""

    p_adjusted: float  # Holm
    tests: int  # claims in the family
    ci_low: float  # the interval at level 1 - ALPHA / tests (NaN for a test without an interval)
    ci_high: float
    null: float = 0.0

    @property
    def shown(self) -> bool:
        if not self.p_adjusted < ALPHA:
            return False
        return math.isnan(self.ci_low) or not self.ci_low <= self.null <= self.ci_high


UNTESTED = Adjusted(NAN, 0, NAN, NAN)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (the i-th smallest of m times m - i + 1, kept monotone, at most 1); NaN stays NaN and is
    not counted. By hand, checked against statsmodels' `multipletests(method="holm")`, which calls gc.collect() on
    every call: 90 ms each in the app's process, seven families a report."""
    tested = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    adjusted = [NAN] * len(p_values)
    if tested:
        p = np.array([p_values[i] for i in tested], dtype=float)
        order = np.argsort(p, kind="stable")
        steps = np.maximum.accumulate(p[order] * np.arange(len(p), 0, -1))
        corrected = np.empty_like(p)
        corrected[order] = np.minimum(steps, 1.0)
        for i, value in zip(tested, corrected, strict=True):
            adjusted[i] = float(value)
    return adjusted


def adjust(families: Sequence[Hashable], claims: Sequence[Claim]) -> list[Adjusted]:
    """Each claim corrected within its family (claims with equal keys form one family), in the order given."""
    members: dict[Hashable, list[int]] = defaultdict(list)
    for i, family in enumerate(families):
        members[family].append(i)
    out = [UNTESTED] * len(claims)
    for indexes in members.values():
        p_adjusted = holm([claims[i].p_value for i in indexes])
        tests = sum(not math.isnan(p) for p in p_adjusted)
        for i, p in zip(indexes, p_adjusted, strict=True):
            if math.isnan(p):
                continue
            interval = claims[i].interval(ALPHA / tests)
            low, high = interval if interval else (NAN, NAN)
            out[i] = Adjusted(p, tests, low, high, claims[i].null)
    return out
