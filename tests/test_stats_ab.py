"""A/B statistics against textbook formulas and values, and the count-based bootstrap against resampling rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, norm
from statsmodels.stats.power import TTestIndPower

from core.stats.ab import (
    comparisons_needed,
    mean_difference,
    ratings_needed,
    sample_ratio,
    two_proportions,
    wilson,
    win_rate,
)

Z = norm.ppf(0.975)


def wilson_by_hand(x: int, n: int) -> tuple[float, float]:
    """Wilson (1927): (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    p = x / n
    centre = p + Z**2 / (2 * n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return (centre - half) / (1 + Z**2 / n), (centre + half) / (1 + Z**2 / n)


@pytest.mark.parametrize(("x", "n"), [(81, 263), (8, 10), (0, 12), (12, 12)])
def test_wilson_interval_is_the_textbook_formula(x, n):
    assert wilson(x, n) == pytest.approx(wilson_by_hand(x, n), abs=1e-9)


def test_wilson_interval_of_newcombes_example():
    """Newcombe (1998), Statistics in Medicine 17:857, table I: 81 of 263, Wilson score interval 0.2553 to 0.3662."""
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_sign_test_drops_ties_and_is_the_exact_binomial():
    result = win_rate(wins_a=2, wins_b=8, ties=5)
    assert result.rate == 0.8 and result.decided == 10
    # P(X >= 8) + P(X <= 2) for X ~ Bin(10, 1/2): 2 * (45 + 10 + 1) / 1024
    assert result.p_value == pytest.approx(2 * 56 / 1024)
    assert (result.ci_low, result.ci_high) == pytest.approx(wilson_by_hand(8, 10))
    assert win_rate(2, 8, 500).p_value == result.p_value  # ties change nothing


def test_win_rate_without_a_decided_comparison_is_undefined_not_an_error():
    result = win_rate(0, 0, 7)
    assert math.isnan(result.rate) and math.isnan(result.p_value) and result.ties == 7


def test_comparisons_needed_follows_cohens_h_for_a_five_point_difference():
    h = 2 * math.asin(math.sqrt(0.55)) - 2 * math.asin(math.sqrt(0.5))
    n = math.ceil(((Z + norm.ppf(0.8)) / h) ** 2)  # one-sample normal approximation
    assert 770 <= n <= 790
    assert comparisons_needed(0, 0) == n
    assert comparisons_needed(n - 120, n - 120) == 120
    assert comparisons_needed(n - 120, 2 * (n - 120)) == 240  # half the comparisons are ties: twice as many
    assert comparisons_needed(5000, 6000) == 0


def test_mean_difference_from_counts_matches_resampling_the_ratings_themselves():
    counts_a, counts_b = np.array([5, 20, 40, 25, 10]), np.array([2, 10, 35, 35, 18])
    result = mean_difference(counts_a, counts_b, rounds=4000, rng=np.random.default_rng(1))
    scores = np.arange(1, 6)
    raw_a, raw_b = np.repeat(scores, counts_a), np.repeat(scores, counts_b)
    assert result.difference == pytest.approx(raw_b.mean() - raw_a.mean())
    rng = np.random.default_rng(2)
    rows = [rng.choice(raw_b, len(raw_b)).mean() - rng.choice(raw_a, len(raw_a)).mean() for _ in range(4000)]
    assert (result.ci_low, result.ci_high) == pytest.approx(np.percentile(rows, [2.5, 97.5]), abs=0.03)
    assert result.p_value == pytest.approx(mannwhitneyu(raw_b, raw_a, alternative="two-sided").pvalue, rel=1e-6)
    assert result.ci_low > 0 and result.interval(0.05) == (result.ci_low, result.ci_high)
    wider = result.interval(0.01)  # the draws kept for an interval at another level
    assert wider[0] < result.ci_low and wider[1] > result.ci_high


def test_a_difference_inside_the_noise_is_not_shown():
    same = np.array([10, 10, 10, 10, 10])
    result = mean_difference(same, same + np.array([0, 0, 1, 0, 0]), rounds=1000, rng=np.random.default_rng(0))
    assert result.ci_low < 0 < result.ci_high and result.p_value > 0.5


def test_identical_ratings_everywhere_give_no_difference_and_p_one():
    only_fives = np.array([0, 0, 0, 0, 30])
    result = mean_difference(only_fives, only_fives, rounds=200, rng=np.random.default_rng(0))
    assert (result.difference, result.ci_low, result.ci_high, result.p_value) == (0, 0, 0, 1.0)


def test_ratings_needed_is_the_two_sample_t_test_sample_size():
    assert TTestIndPower().solve_power(effect_size=0.5, alpha=0.05, power=0.8) == pytest.approx(63.77, abs=0.01)
    counts = np.array([0, 0, 5, 5, 0])  # scores 3 and 4: sample sd over both versions 0.5 * sqrt(20/19)
    d = 0.25 / (0.5 * math.sqrt(20 / 19))
    per_group = TTestIndPower().solve_power(effect_size=d, alpha=0.05, power=0.8)
    assert ratings_needed(counts, counts, 0.25) == math.ceil(per_group) - 10


def test_two_proportions_is_the_pooled_z_test_with_newcombes_interval():
    """Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 against 48/80."""
    result = two_proportions(48, 80, 56, 70)  # A: 48/80, B: 56/70
    pooled = 104 / 150
    z = (56 / 70 - 48 / 80) / math.sqrt(pooled * (1 - pooled) * (1 / 70 + 1 / 80))
    assert result.p_value == pytest.approx(2 * norm.sf(z))
    (l1, u1), (l2, u2) = wilson_by_hand(56, 70), wilson_by_hand(48, 80)
    d = 56 / 70 - 48 / 80
    low = d - math.sqrt((56 / 70 - l1) ** 2 + (u2 - 48 / 80) ** 2)
    high = d + math.sqrt((u1 - 56 / 70) ** 2 + (48 / 80 - l2) ** 2)
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high))
    assert (round(result.ci_low, 4), round(result.ci_high, 4)) == (0.0524, 0.3339)


def test_two_proportions_without_units_or_without_variation():
    assert math.isnan(two_proportions(0, 0, 3, 10).difference)
    assert two_proportions(0, 50, 0, 60).p_value == 1.0


def test_sample_ratio_mismatch_is_flagged_on_a_skewed_split_and_not_on_a_fair_one():
    skewed = sample_ratio({"control": 5250, "treatment": 4750}, {})
    assert skewed.statistic == pytest.approx(250**2 / 5000 * 2)  # sum (o - e)^2 / e = 25
    assert skewed.alarm and skewed.p_value < 1e-6
    fair = sample_ratio({"control": 5020, "treatment": 4980}, {})
    assert not fair.alarm and fair.p_value > 0.5


def test_sample_ratio_against_a_planned_uneven_split():
    planned = {"control": 0.9, "treatment": 0.1}
    assert not sample_ratio({"control": 9030, "treatment": 970}, planned).alarm
    assert sample_ratio({"control": 5000, "treatment": 5000}, planned).alarm
    assert sample_ratio({"control": 900, "treatment": 90, "ghost": 10}, planned).alarm  # an unplanned variant


def test_sample_ratio_without_units_raises_no_alarm():
    assert not sample_ratio({}, {}).alarm
