"""Inter-rater agreement: Krippendorff's alpha (the `krippendorff` package), Fleiss' kappa and Cohen's kappa
(statsmodels), from count tables, and the count tables from judgments given as arrays.

The judgments of a queue come as parallel arrays, one entry per judgment, sorted by item: the item's index
(0, 1, ... in order), the reviewer, and per dimension the index of the value given (-1: none). From them:
- value counts: one row per item, one column per value, how many reviewers gave the item that value (what
  Krippendorff's `value_counts` and Fleiss' table are);
- the pairs of judgments of one item by two reviewers, and per pair of reviewers a confusion table: how often
  reviewer A gave value i where B gave value j on the same item;
- per judgment, whether it agrees with the consensus of the item's other judgments."""

from __future__ import annotations

import krippendorff
import numpy as np
from statsmodels.stats.inter_rater import cohens_kappa as _cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as _fleiss_kappa


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def value_counts(items: np.ndarray, values: np.ndarray, n_items: int, n_values: int) -> np.ndarray:
    """The value-counts table (n_items x n_values) of judgments given as item and value indexes (-1: no value)."""
    given = values >= 0
    flat = np.bincount(items[given] * n_values + values[given], minlength=n_items * n_values)
    return flat.reshape(n_items, n_values)


def consensus(table: np.ndarray, items: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per judgment (item and value indexes, `table` their value counts): (compared, agrees). A judgment is compared
    where the item's other judgments have a single most common value, and agrees where its own value is that one.

    Taking the judgment out lowers its own value's count by one, so the outcome follows from the item's largest
    count m1, how many values have it (k1) and the next largest count m2: a judgment of a value counted m1 times
    agrees if k1 = 1 and m1 - 1 > m2, is compared and disagrees if k1 = 2, and is not compared otherwise (a tie, or
    no other judgment); a judgment of a value counted less than m1 is compared, and disagrees, if k1 = 1."""
    ordered = np.sort(table, axis=1)
    m1 = ordered[:, -1][items]
    m2 = (ordered[:, -2] if table.shape[1] > 1 else np.zeros(len(table), dtype=table.dtype))[items]
    k1 = (table == ordered[:, -1:]).sum(axis=1)[items]
    given = values >= 0
    own = table.ravel()[items * table.shape[1] + np.where(given, values, 0)]
    top = given & (own == m1)
    leads = top & (k1 == 1) & (m1 - 1 > m2)
    compared = leads | (top & (k1 == 2)) | (given & ~top & (k1 == 1))
    return compared, leads


def judgment_pairs(items: np.ndarray, reviewers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of judgments of one item by two different reviewers, as (positions of the lower reviewer's
    judgments, positions of the higher's); `items` sorted. The work is proportional to the pairs found."""
    firsts, seconds = [], []
    at, step = np.arange(max(len(items) - 1, 0)), 1
    while len(at):
        at = at[items[at + step] == items[at]]
        other = at + step
        lower = reviewers[at] < reviewers[other]
        differ = reviewers[at] != reviewers[other]
        firsts.append(np.where(lower, at, other)[differ])
        seconds.append(np.where(lower, other, at)[differ])
        step += 1
        at = at[at + step < len(items)]
    if not firsts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def confusion_tables(
    pair: np.ndarray, first: np.ndarray, second: np.ndarray, n_pairs: int, n_values: int
) -> np.ndarray:
    """(n_pairs x n_values x n_values): per pair of reviewers (index `pair` of each pair of judgments), how often
    the lower reviewer gave value i where the higher gave value j (value indexes; -1: none, left out)."""
    given = (first >= 0) & (second >= 0)
    cells = (pair[given] * n_values + first[given]) * n_values + second[given]
    return np.bincount(cells, minlength=n_pairs * n_values * n_values).reshape(n_pairs, n_values, n_values)


# Krippendorff's reading of alpha (Content Analysis, 2004, 241): rely on data at 0.800 or more, draw only tentative
# conclusions from 0.667 to 0.800, and none below.
RELIABLE, TENTATIVE = 0.800, 0.667
BANDS_RULE = (
    "Krippendorff's bands: alpha ≥ 0.800 reliable; 0.667 to 0.800 tentative (draw only tentative conclusions); "
    "below 0.667 not reliable."
)


def alpha_band(alpha: float | None) -> str:
    if alpha is None:
        return "undefined"
    return "reliable" if alpha >= RELIABLE else "tentative" if alpha >= TENTATIVE else "not reliable"


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
    items = np.bincount(totals)[2:] if len(totals) else np.zeros(0, dtype=np.int64)
    if not items.any():
        return value_counts[:0]
    raters = 2 + len(items) - 1 - int(np.argmax(items[::-1]))  # the most items; the larger number on a tie
    return value_counts[totals == raters]


def fleiss_kappa(value_counts: np.ndarray) -> tuple[float | None, int]:
    """(Fleiss' kappa, items it rests on), on fleiss_rows(value_counts)."""
    rows = fleiss_rows(value_counts)
    if len(rows) < 2 or np.count_nonzero(rows.sum(axis=0)) < 2:
        return None, len(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _finite(_fleiss_kappa(rows, method="fleiss")), len(rows)


def cohen_kappa(confusion: np.ndarray, *, weights: str | None = None) -> float | None:
    """Cohen's kappa of two reviewers from their confusion table (square, values in order); `weights` None,
    "linear" or "quadratic" (for ordinal scales), as scikit-learn's cohen_kappa_score names them. None where
    undefined (both used one and the same value)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    if confusion.sum() < 2:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        return _finite(_cohens_kappa(confusion, wt=weights, return_results=False))
