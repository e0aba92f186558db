"""A/B statistics on aggregated counts: win rates, rating differences, proportions, sample ratio, sample sizes.

Every interval and test is a scipy or statsmodels call; the bootstrap resamples counts (a multinomial draw per
group), which is the same as resampling the judgments themselves, without loading them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import binomtest, chisquare, mannwhitneyu
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)

ALPHA = 0.05
POWER = 0.8
SRM_ALPHA = 0.001  # the usual sample-ratio-mismatch threshold: an alarm must be rare when the split is right
NAN = float("nan")


def percentile_interval(draws: np.ndarray, alpha: float = ALPHA) -> tuple[float, float]:
    """The 1 - alpha percentile interval of bootstrap draws."""
    low, high = np.percentile(draws, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def wilson(successes: int, n: int, alpha: float = ALPHA) -> tuple[float, float]:
    """Wilson 1 - alpha interval of a proportion (95% by default); (nan, nan) without observations."""
    if n == 0:
        return NAN, NAN
    low, high = proportion_confint(successes, n, alpha=alpha, method="wilson")
    return float(low), float(high)


@dataclass(frozen=True)
class WinRate:
    """B's share of the decided comparisons (ties and "both bad" left out, as the sign test leaves them out)."""

    wins_a: int
    wins_b: int
    ties: int
    rate: float
    ci_low: float
    ci_high: float
    p_value: float

    null = 0.5  # no difference: each side wins half

    @property
    def decided(self) -> int:
        return self.wins_a + self.wins_b

    def interval(self, alpha: float) -> tuple[float, float]:
        return wilson(self.wins_b, self.decided, alpha)


def win_rate(wins_a: int, wins_b: int, ties: int) -> WinRate:
    """Win rate of B over A with its Wilson interval and a two-sided sign test (binomial, p = 1/2, ties dropped)."""
    decided = wins_a + wins_b
    if decided == 0:
        return WinRate(wins_a, wins_b, ties, NAN, NAN, NAN, NAN)
    low, high = wilson(wins_b, decided)
    p_value = binomtest(wins_b, decided, 0.5, alternative="two-sided").pvalue
    return WinRate(wins_a, wins_b, ties, wins_b / decided, low, high, float(p_value))


def comparisons_needed(
    decided: int, total: int, difference: float = 0.05, alpha: float = ALPHA, power: float = POWER
) -> int:
    """More comparisons (ties included, at the share seen so far) for a sign test to detect a win rate of
    1/2 + `difference` with this power; 0 when there are enough already."""
    effect = proportion_effectsize(0.5 + difference, 0.5)
    needed = NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power, ratio=0)
    missing = max(0.0, math.ceil(needed) - decided)
    decided_share = decided / total if total else 1.0
    return math.ceil(missing / decided_share) if decided_share else math.ceil(missing)


@dataclass(frozen=True)
class MeanDifference:
    """Mean score of B minus mean score of A on a 1-5 scale."""

    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float  # Mann-Whitney U, two-sided
    draws: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)  # bootstrap B - A
    null = 0.0

    def interval(self, alpha: float) -> tuple[float, float]:
        return percentile_interval(self.draws, alpha)


def mean_difference(
    counts_a: np.ndarray, counts_b: np.ndarray, *, rounds: int, rng: np.random.Generator
) -> MeanDifference:
    """From counts of each score 1..5 per version: the difference of means with a 95% bootstrap interval
    (percentile, multinomial resampling of each version's counts) and a Mann-Whitney U test."""
    scores = np.arange(1, len(counts_a) + 1)
    n_a, n_b = int(counts_a.sum()), int(counts_b.sum())
    mean_a = float(scores @ counts_a / n_a) if n_a else NAN
    mean_b = float(scores @ counts_b / n_b) if n_b else NAN
    if not (n_a and n_b):
        return MeanDifference(n_a, n_b, mean_a, mean_b, NAN, NAN, NAN, NAN)
    boot_a = rng.multinomial(n_a, counts_a / n_a, size=rounds) @ scores / n_a
    boot_b = rng.multinomial(n_b, counts_b / n_b, size=rounds) @ scores / n_b
    draws = boot_b - boot_a
    low, high = percentile_interval(draws)
    sample_a, sample_b = np.repeat(scores, counts_a.astype(int)), np.repeat(scores, counts_b.astype(int))
    single_score = len(np.union1d(sample_a, sample_b)) == 1  # every rating the same: nothing to rank
    p_value = 1.0 if single_score else _mann_whitney(sample_a, sample_b)
    return MeanDifference(n_a, n_b, mean_a, mean_b, mean_b - mean_a, low, high, p_value, draws)


def _mann_whitney(sample_a: np.ndarray, sample_b: np.ndarray) -> float:
    return float(mannwhitneyu(sample_b, sample_a, alternative="two-sided", method="asymptotic").pvalue)


def ratings_needed(
    counts_a: np.ndarray, counts_b: np.ndarray, difference: float, alpha: float = ALPHA, power: float = POWER
) -> int:
    """More ratings per version for a two-sample t-test to detect a mean difference of `difference` points."""
    scores = np.arange(1, len(counts_a) + 1)
    n = counts_a + counts_b
    if n.sum() < 2:
        return 0
    mean = scores @ n / n.sum()
    sd = math.sqrt(float(((scores - mean) ** 2) @ n / (n.sum() - 1))) or 1.0
    needed = TTestIndPower().solve_power(effect_size=difference / sd, alpha=alpha, power=power, ratio=1)
    return max(0, math.ceil(needed) - int(min(counts_a.sum(), counts_b.sum())))


@dataclass(frozen=True)
class Proportions:
    """A rate per variant and the difference B - A with its 95% interval and a two-proportion z-test."""

    count_a: int
    n_a: int
    count_b: int
    n_b: int
    rate_a: float
    rate_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    null = 0.0

    def interval(self, alpha: float) -> tuple[float, float]:
        return _newcomb(self.count_a, self.n_a, self.count_b, self.n_b, alpha)


def _newcomb(count_a: int, n_a: int, count_b: int, n_b: int, alpha: float) -> tuple[float, float]:
    low, high = confint_proportions_2indep(count_b, n_b, count_a, n_a, method="newcomb", compare="diff", alpha=alpha)
    return float(low), float(high)


def two_proportions(count_a: int, n_a: int, count_b: int, n_b: int) -> Proportions:
    """z-test (statsmodels `proportions_ztest`, pooled) and a Newcomb (Wilson score) interval of the difference."""
    rate_a = count_a / n_a if n_a else NAN
    rate_b = count_b / n_b if n_b else NAN
    if not (n_a and n_b):
        return Proportions(count_a, n_a, count_b, n_b, rate_a, rate_b, NAN, NAN, NAN, NAN)
    low, high = _newcomb(count_a, n_a, count_b, n_b, ALPHA)
    if count_a + count_b in (0, n_a + n_b):  # the same rate of 0 or 1 everywhere: nothing to test
        p_value = 1.0
    else:
        p_value = float(proportions_ztest([count_b, count_a], [n_b, n_a], alternative="two-sided")[1])
    return Proportions(count_a, n_a, count_b, n_b, rate_a, rate_b, rate_b - rate_a, low, high, p_value)


@dataclass(frozen=True)
class SampleRatio:
    """Units per variant against the planned split: a chi-square goodness-of-fit test."""

    observed: dict[str, int]
    expected: dict[str, float]
    statistic: float
    p_value: float

    @property
    def alarm(self) -> bool:
        return self.p_value < SRM_ALPHA


def sample_ratio(observed: dict[str, int], planned: dict[str, float]) -> SampleRatio:
    """`planned` maps each variant to its planned share (normalized here); variants without a plan share equally."""
    variants = sorted(set(observed) | set(planned))
    shares = np.array([planned.get(v, 0.0) for v in variants], dtype=float) if planned else np.ones(len(variants))
    counts = np.array([observed.get(v, 0) for v in variants], dtype=float)
    total = counts.sum()
    if total == 0 or len(variants) < 2 or shares.sum() <= 0:
        return SampleRatio(observed, {v: NAN for v in variants}, NAN, NAN)
    expected = total * shares / shares.sum()
    if (counts[expected == 0] > 0).any():  # units in a variant planned to get none
        statistic, p_value = math.inf, 0.0
    else:
        keep = expected > 0
        statistic, p_value = chisquare(counts[keep], expected[keep])
    return SampleRatio(observed, dict(zip(variants, expected.tolist(), strict=True)), float(statistic), float(p_value))
