"""Population stability index (PSI): how far one histogram of scores has moved from another.

PSI = sum over bins of (a - e) * ln(a / e), where e and a are the shares of the earlier and the later period in a bin.
No library we use computes it, so it is written here and tested against a computation by hand. An empty bin would
make the logarithm infinite; shares are floored at FLOOR (a common convention), which caps one bin's term."""

from __future__ import annotations

import math
from collections.abc import Sequence

FLOOR = 1e-4
# The usual reading of a PSI: below 0.1 stable, 0.1 to 0.25 a moderate shift worth a look, above 0.25 a major shift.
BANDS = (0.1, 0.25)


def psi(expected: Sequence[float], actual: Sequence[float]) -> float | None:
    """PSI of `actual` against `expected`, both counts (or shares) per bin; None if either is empty."""
    if len(expected) != len(actual):
        raise ValueError("the two histograms need the same bins")
    total_e, total_a = sum(expected), sum(actual)
    if total_e <= 0 or total_a <= 0:
        return None
    value = 0.0
    for e_count, a_count in zip(expected, actual, strict=True):
        e, a = max(e_count / total_e, FLOOR), max(a_count / total_a, FLOOR)
        value += (a - e) * math.log(a / e)
    return value


def band(value: float | None) -> str:
    """ "stable" (< 0.1), "moderate" (0.1 to 0.25) or "major" (> 0.25); "" when there is no value."""
    if value is None:
        return ""
    if value < BANDS[0]:
        return "stable"
    return "moderate" if value <= BANDS[1] else "major"
