"""A classifier against human labels: precision, recall, F1 and false-positive rate from confusion counts, with
bootstrap intervals, and McNemar's test (statsmodels) of two classifiers on the same items.

The bootstrap draws the four confusion counts from a multinomial with the observed shares: the same as resampling the
labelled items one by one (each item falls in exactly one cell), without the items."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from statsmodels.stats.contingency_tables import mcnemar

METRICS = {"precision": "Precision", "recall": "Recall", "f1": "F1", "fpr": "False-positive rate"}
EXACT_BELOW = 25  # discordant pairs under which McNemar's exact binomial test is used instead of chi-square
NAN = float("nan")


def metrics(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> dict[str, np.ndarray]:
    """Each metric from arrays of counts (NaN where undefined: no positive prediction, no positive item, ...)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
        fpr = np.where(fp + tn > 0, fp / (fp + tn), np.nan)
    return {"precision": precision, "recall": recall, "f1": f1, "fpr": fpr}


@dataclass(frozen=True)
class Confusion:
    """One classifier version on the labelled items it scored ("toxic" is the positive class)."""

    version: str
    tp: int
    fp: int
    fn: int
    tn: int
    values: dict[str, tuple[float, float, float]]  # metric -> (value, 95% low, 95% high)
    # metric -> bootstrap draws where it was undefined (no positive prediction, ...): left out of its interval, and
    # said beside it
    undefined_draws: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def metric(self, name: str) -> tuple[float, float, float]:
        return self.values[name]

    @staticmethod
    def label(name: str) -> str:
        return METRICS[name]


def confusion(version: str, tp: int, fp: int, fn: int, tn: int, *, rounds: int, rng: np.random.Generator) -> Confusion:
    counts = np.array([tp, fp, fn, tn], dtype=float)
    point = metrics(*counts)
    if counts.sum() == 0:
        return Confusion(version, tp, fp, fn, tn, {m: (NAN, NAN, NAN) for m in METRICS}, {m: rounds for m in METRICS})
    draws = rng.multinomial(int(counts.sum()), counts / counts.sum(), size=rounds).T.astype(float)
    sampled = metrics(*draws)
    values, undefined = {}, {}
    for name in METRICS:
        defined = ~np.isnan(sampled[name])
        low, high = np.percentile(sampled[name][defined], [2.5, 97.5]) if defined.any() else (NAN, NAN)
        values[name] = (float(point[name]), float(low), float(high))
        undefined[name] = int((~defined).sum())
    return Confusion(version, tp, fp, fn, tn, values, undefined)


@dataclass(frozen=True)
class McNemar:
    """Items both versions scored: both right, only A right, only B right, both wrong."""

    both_right: int
    a_only: int
    b_only: int
    both_wrong: int
    statistic: float
    p_value: float
    exact: bool

    @property
    def n(self) -> int:
        return self.both_right + self.a_only + self.b_only + self.both_wrong


def mcnemar_test(both_right: int, a_only: int, b_only: int, both_wrong: int) -> McNemar:
    """Exact binomial test under EXACT_BELOW discordant items, else chi-square with continuity correction."""
    if a_only + b_only == 0:
        return McNemar(both_right, a_only, b_only, both_wrong, NAN, 1.0 if both_right + both_wrong else NAN, True)
    exact = a_only + b_only < EXACT_BELOW
    result = mcnemar([[both_right, a_only], [b_only, both_wrong]], exact=exact, correction=True)
    return McNemar(both_right, a_only, b_only, both_wrong, float(result.statistic), float(result.pvalue), exact)
