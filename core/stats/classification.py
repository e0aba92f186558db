"""A classifier against human labels: precision, recall, F1 and false-positive rate from confusion counts, with
bootstrap intervals, and McNemar's test (statsmodels) of two classifiers on the same items.

The bootstrap draws the four confusion counts from a multinomial with the observed shares: the same as resampling the
labelled items one by one (each item falls in exactly one cell), without the items."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from statsmodels.stats.contingency_tables import mcnemar

from core.stats.ab import percentile_interval

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
        low, high = percentile_interval(sampled[name][defined]) if defined.any() else (NAN, NAN)
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
    null = 0.0

    @property
    def n(self) -> int:
        return self.both_right + self.a_only + self.b_only + self.both_wrong

    @staticmethod
    def interval(alpha: float) -> None:
        """A test of counts, without an interval: its claim rests on the test alone."""


def mcnemar_test(both_right: int, a_only: int, b_only: int, both_wrong: int) -> McNemar:
    """Exact binomial test under EXACT_BELOW discordant items, else chi-square with continuity correction."""
    if a_only + b_only == 0:
        return McNemar(both_right, a_only, b_only, both_wrong, NAN, 1.0 if both_right + both_wrong else NAN, True)
    exact = a_only + b_only < EXACT_BELOW
    result = mcnemar([[both_right, a_only], [b_only, both_wrong]], exact=exact, correction=True)
    return McNemar(both_right, a_only, b_only, both_wrong, float(result.statistic), float(result.pvalue), exact)


def joint_cells(predicted_a: str, predicted_b: str, truth: str) -> int:
    """Index of an item in the eight joint cells (A toxic?, B toxic?, truly toxic?), "toxic" being 1."""
    return 4 * (predicted_a == "toxic") + 2 * (predicted_b == "toxic") + (truth == "toxic")


def joint_counts(predicted_a: np.ndarray, predicted_b: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The eight joint cells (joint_cells' order) of items given as three boolean arrays: A and B say toxic, truly
    toxic."""
    cells = (
        4 * np.asarray(predicted_a, dtype=int) + 2 * np.asarray(predicted_b, dtype=int) + np.asarray(truth, dtype=int)
    )
    return np.bincount(cells, minlength=8).astype(float)


def discordance(joint: np.ndarray) -> tuple[int, int, int, int]:
    """McNemar's four counts from the joint cells: both right, only A right, only B right, both wrong."""
    cells = joint.reshape(2, 2, 2)  # [A toxic?][B toxic?][truth toxic?]
    out = [0, 0, 0, 0]
    for a, b, truth in np.ndindex(2, 2, 2):
        right_a, right_b = a == truth, b == truth
        out[(0 if right_b else 1) if right_a else (2 if right_b else 3)] += int(cells[a, b, truth])
    return out[0], out[1], out[2], out[3]


def version_metrics(cells: np.ndarray, version: int) -> dict[str, np.ndarray]:
    """Version A's (0) or B's (1) metrics from joint cells shaped [..., 2, 2, 2] (A toxic?, B toxic?, truth toxic?)."""
    own = cells.sum(axis=-2 - version)  # the other version's axis summed: [..., predicted toxic?, truth toxic?]
    return metrics(own[..., 1, 1], own[..., 1, 0], own[..., 0, 1], own[..., 0, 0])


@dataclass(frozen=True)
class MetricDifference:
    """B's metric minus A's on the labelled items both scored, with a paired bootstrap (both versions' labels of an
    item drawn together) interval and p-value."""

    metric: str
    items: int
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    undefined_draws: int  # draws where the metric was undefined for A or B: left out, and said
    draws: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)
    null = 0.0

    def interval(self, alpha: float) -> tuple[float, float]:
        return percentile_interval(self.draws, alpha)


def metric_differences(joint: np.ndarray, *, rounds: int, rng: np.random.Generator) -> list[MetricDifference]:
    """Each metric's difference B - A from the eight joint cells (joint_cells). The p-value is the bootstrap's
    two-sided one, 2 * min(share of draws <= 0, share >= 0), each share counted as (k + 1) / (draws + 1): it is
    below alpha exactly when the 1 - alpha percentile interval excludes zero (up to that one draw)."""
    n = int(joint.sum())
    if n == 0:
        return [MetricDifference(m, 0, NAN, NAN, NAN, NAN, rounds) for m in METRICS]
    draws = rng.multinomial(n, joint / n, size=rounds).reshape(rounds, 2, 2, 2).astype(float)
    point = joint.reshape(2, 2, 2).astype(float)
    point_a, point_b = version_metrics(point, 0), version_metrics(point, 1)
    sampled_a, sampled_b = version_metrics(draws, 0), version_metrics(draws, 1)
    out = []
    for name in METRICS:
        d = sampled_b[name] - sampled_a[name]
        defined = d[~np.isnan(d)]
        difference = float(point_b[name] - point_a[name])
        if not len(defined) or math.isnan(difference):
            out.append(MetricDifference(name, n, difference, NAN, NAN, NAN, rounds - len(defined), defined))
            continue
        low, high = percentile_interval(defined)
        below, above = int((defined <= 0).sum()), int((defined >= 0).sum())
        p_value = min(1.0, 2 * (min(below, above) + 1) / (len(defined) + 1))
        out.append(MetricDifference(name, n, difference, low, high, p_value, rounds - len(defined), defined))
    return out
