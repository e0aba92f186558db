"""Inter-rater agreement from count tables: Krippendorff's alpha (the `krippendorff` package), Fleiss' kappa
(statsmodels) and Cohen's kappa (scikit-learn).

The reports aggregate judgments in SQL into the tables these take, so no judgment row reaches Python:
- value counts: one row per item, one column per value, how many reviewers gave the item that value (what
  Krippendorff's `value_counts` and Fleiss' table are); items with the same counts are summed up in SQL into
  (pattern, multiplicity) and expanded here;
- a confusion table per pair of reviewers: how often reviewer A gave value i where B gave value j on the same item."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Sequence

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as _fleiss_kappa


def expand(patterns: Iterable[tuple[Sequence[int], int]], n_values: int) -> np.ndarray:
    """(counts per value, how many items have them) -> the value-counts table, one row per item."""
    patterns = list(patterns)
    if not patterns:
        return np.zeros((0, n_values), dtype=np.int64)
    rows = np.array([counts for counts, _ in patterns], dtype=np.int64).reshape(len(patterns), n_values)
    return np.repeat(rows, [times for _, times in patterns], axis=0)


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def krippendorff_alpha(value_counts: np.ndarray, level: str) -> float | None:
    """Alpha over the items judged at least twice; `level` is "nominal" or "ordinal" (columns in the values'
    order). None where it is undefined (fewer than two such items, or a single value used throughout)."""
    pairable = value_counts[value_counts.sum(axis=1) >= 2]
    if len(pairable) < 2 or np.count_nonzero(pairable.sum(axis=0)) < 2:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        return _finite(krippendorff.alpha(value_counts=pairable, level_of_measurement=level))


def fleiss_rows(value_counts: np.ndarray) -> np.ndarray:
    """The rows Fleiss' kappa can use: it needs the same number of ratings per item, so the items with the most
    common number (at least 2; the larger on a tie) are kept and the others left out."""
    totals = value_counts.sum(axis=1)
    counts = Counter(int(t) for t in totals if t >= 2)
    if not counts:
        return value_counts[:0]
    raters = max(counts, key=lambda total: (counts[total], total))
    return value_counts[totals == raters]


def fleiss_kappa(value_counts: np.ndarray) -> tuple[float | None, int]:
    """(Fleiss' kappa, items it rests on), on fleiss_rows(value_counts)."""
    rows = fleiss_rows(value_counts)
    if len(rows) < 2 or np.count_nonzero(rows.sum(axis=0)) < 2:
        return None, len(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _finite(_fleiss_kappa(rows, method="fleiss")), len(rows)


def cohen_kappa(confusion: np.ndarray, *, weights: str | None = None) -> float | None:
    """Cohen's kappa of two reviewers from their confusion table (square, values in order); `weights` as in
    scikit-learn ("quadratic" for ordinal scales). None where undefined (both used one and the same value)."""
    confusion = np.asarray(confusion, dtype=np.int64)
    if confusion.sum() < 2:
        return None
    cells = np.argwhere(confusion > 0)
    times = confusion[confusion > 0]
    first, second = np.repeat(cells[:, 0], times), np.repeat(cells[:, 1], times)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")  # undefined kappas are reported as None, below
        value = cohen_kappa_score(first, second, labels=list(range(len(confusion))), weights=weights)
    return _finite(value)
