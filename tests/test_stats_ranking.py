"""Bradley-Terry against scikit-learn's logistic regression; classifier metrics and McNemar against textbook values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from core.stats.bradley_terry import Battles, fit, standings, to_rating
from core.stats.classification import confusion, mcnemar_test, metrics


def battles_of(rng: np.random.Generator, strengths: list[float], n: int, tie_share: float = 0.15):
    """Random battles between random pairs: rows for Battles.of, and the same battles one row each."""
    rows, battles = [], []
    models = [f"m{i}" for i in range(len(strengths))]
    for _ in range(n):
        i, j = rng.choice(len(strengths), 2, replace=False)
        if rng.random() < tie_share:
            outcome = (0, 0, 1)
        else:
            outcome = (1, 0, 0) if rng.random() < 1 / (1 + math.exp(strengths[j] - strengths[i])) else (0, 1, 0)
        rows.append((models[i], models[j], *outcome))
        battles.append((i, j, outcome))
    return models, rows, battles


def sklearn_strengths(n_models: int, battles) -> np.ndarray:
    """Chatbot Arena's fit: one row per battle (+1 first model, -1 second), no intercept, no penalty; a tie is two
    rows of weight 1/2, one won by each side."""
    x, y, w = [], [], []
    for i, j, (won, _lost, tie) in battles:
        row = np.zeros(n_models)
        row[i], row[j] = 1, -1
        if tie:
            x += [row, row]
            y += [1, 0]
            w += [0.5, 0.5]
        else:
            x.append(row)
            y.append(won)
            w.append(1.0)
    model = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-12, max_iter=10_000)
    strengths = model.fit(np.array(x), np.array(y), sample_weight=np.array(w)).coef_[0]
    return strengths - strengths.mean()  # fixed only up to a constant: centred, as ours


@pytest.mark.parametrize("n", [60, 4000])
def test_bradley_terry_is_the_unpenalised_maximum_likelihood_on_small_and_large_battle_sets(n):
    models, rows, battles = battles_of(np.random.default_rng(3), [-1.0, -0.3, 0.0, 0.4, 1.2], n)
    ours = fit(Battles.of(models, rows).matrix())[0]
    assert ours == pytest.approx(sklearn_strengths(len(models), battles), abs=1e-5)
    assert ours.sum() == pytest.approx(0, abs=1e-9)


def test_few_battles_are_not_shrunk():
    """A beat B 6-2 and split 2-2 with C, B and C split 1-1: the maximum likelihood puts A 158 points above B, as
    scikit-learn's unpenalised fit does (its default penalty, C = 1, which the leaderboard used before, gave 126)."""
    battles = Battles.of(["a", "b", "c"], [("a", "b", 6, 2, 0), ("a", "c", 2, 2, 0), ("b", "c", 1, 1, 0)])
    table = {s.model: s.rating for s in standings(battles, rounds=0, rng=np.random.default_rng(0))}
    expanded = [(0, 1, (1, 0, 0))] * 6 + [(0, 1, (0, 1, 0))] * 2 + [(0, 2, (1, 0, 0))] * 2 + [(0, 2, (0, 1, 0))] * 2
    expanded += [(1, 2, (1, 0, 0)), (1, 2, (0, 1, 0))]
    reference = to_rating(sklearn_strengths(3, expanded))
    assert [table[m] for m in "abc"] == pytest.approx(list(reference), abs=1e-4)
    assert round(table["a"] - table["b"]) == 158


def test_bradley_terry_of_two_models_is_the_log_odds_of_their_wins():
    """Without a penalty the MLE of s1 - s2 is log(wins1 / wins2), ties counted half to each."""
    battles = Battles.of(["a", "b"], [("a", "b", 30, 10, 4), ("b", "a", 2, 6, 0)])  # a: 36 + 2 ties, b: 12 + 2
    a, b = fit(battles.matrix())[0]
    assert a - b == pytest.approx(math.log(38 / 14))
    rating_a, rating_b = to_rating(np.array([a, b]))
    assert rating_a - rating_b == pytest.approx(400 * math.log10(38 / 14))


def test_standings_rank_by_strength_with_intervals_that_narrow_with_more_battles():
    truth = [-0.8, 0.0, 0.8]
    small = standings(Battles.of(*battles_of(np.random.default_rng(5), truth, 300)[:2]), rounds=200,
                      rng=np.random.default_rng(0))  # fmt: skip
    large = standings(Battles.of(*battles_of(np.random.default_rng(5), truth, 6000)[:2]), rounds=200,
                      rng=np.random.default_rng(0))  # fmt: skip
    assert [s.model for s in large] == ["m2", "m1", "m0"]
    for s in large:
        assert s.ci_low < s.rating < s.ci_high
        assert s.battles == s.wins + s.losses + s.ties
    width = {s.model: s.ci_high - s.ci_low for s in small}
    assert all(s.ci_high - s.ci_low < width[s.model] / 2 for s in large)


def test_only_ties_give_equal_ratings_and_self_battles_count_for_nothing():
    table = standings(Battles.of(["a", "b"], [("a", "b", 0, 0, 9), ("a", "a", 5, 0, 0)]), rounds=50,
                      rng=np.random.default_rng(0))  # fmt: skip
    assert [round(s.rating, 6) for s in table] == [1000.0, 1000.0]
    assert {s.model: (s.wins, s.ties) for s in table} == {"a": (0, 9), "b": (0, 9)}


def test_a_version_that_won_every_battle_gets_a_finite_rating_from_one_virtual_tie():
    table = standings(Battles.of(["a", "b"], [("a", "b", 25, 0, 0)]), rounds=100, rng=np.random.default_rng(0))
    assert table[0].model == "a" and math.isfinite(table[0].rating) and table[0].rating > 1100
    # the prior: one virtual tie per model against the pool, here the other model: a 25.5-0.5 record
    assert table[0].rating - table[1].rating == pytest.approx(400 * math.log10(25.5 / 0.5))
    assert all(math.isfinite(s.ci_low) and math.isfinite(s.ci_high) for s in table)


def test_the_bootstrap_intervals_cover_the_true_gap_about_95_times_in_100():
    truth = np.array([-0.5, 0.0, 0.6])
    covered = 0
    for seed in range(100):
        models, rows, _ = battles_of(np.random.default_rng(seed), list(truth), 400, tie_share=0.0)
        table = {s.model: s for s in standings(Battles.of(models, rows), rounds=200, rng=np.random.default_rng(seed))}
        true_ratings = to_rating(truth - truth.mean())
        covered += table["m2"].ci_low <= true_ratings[2] <= table["m2"].ci_high
    assert 88 <= covered <= 99, covered


def test_no_battles_no_standings():
    assert standings(Battles.of([], []), rounds=10, rng=np.random.default_rng(0)) == []


def test_classifier_metrics_from_confusion_counts():
    m = metrics(np.array(8.0), np.array(2.0), np.array(4.0), np.array(86.0))
    assert (m["precision"], m["recall"], m["f1"], m["fpr"]) == pytest.approx((0.8, 2 / 3, 16 / 22, 2 / 88))
    assert math.isnan(metrics(np.array(0.0), np.array(0.0), np.array(3.0), np.array(5.0))["precision"])


def test_bootstrap_of_the_counts_matches_resampling_the_items():
    result = confusion("v", 40, 10, 20, 130, rounds=4000, rng=np.random.default_rng(1))
    items = np.array([0] * 40 + [1] * 10 + [2] * 20 + [3] * 130)  # cell of each item
    rng = np.random.default_rng(2)
    f1 = []
    for _ in range(4000):
        cells = np.bincount(rng.choice(items, len(items)), minlength=4).astype(float)
        f1.append(metrics(*cells)["f1"])
    value, low, high = result.metric("f1")
    assert value == pytest.approx(80 / 110)
    assert (low, high) == pytest.approx(np.percentile(f1, [2.5, 97.5]), abs=0.015)


def test_draws_where_a_metric_is_undefined_are_counted_not_dropped_silently():
    """1 positive prediction in 60 items: a resample without it has no precision. Those draws are counted; the
    interval rests on the others."""
    result = confusion("v", 1, 0, 9, 50, rounds=1000, rng=np.random.default_rng(4))
    expected = 1000 * (59 / 60) ** 60  # P(the one true positive is not drawn) = (59/60)^60
    assert result.undefined_draws["precision"] == pytest.approx(expected, rel=0.25)
    assert result.undefined_draws["recall"] == 0  # 10 positive items: some are always drawn
    assert math.isfinite(result.metric("precision")[1])
    everything_missing = confusion("v", 0, 0, 0, 0, rounds=200, rng=np.random.default_rng(4))
    assert everything_missing.undefined_draws["f1"] == 200


def test_mcnemar_on_a_textbook_table():
    """Agresti, Categorical Data Analysis: presidential approval, 794 / 150 / 86 / 570. Continuity-corrected
    chi-square (|150 - 86| - 1)^2 / (150 + 86) = 16.82."""
    result = mcnemar_test(794, 150, 86, 570)
    assert result.statistic == pytest.approx(63**2 / 236) and not result.exact
    assert result.p_value == pytest.approx(4.1e-5, rel=0.05)


def test_mcnemar_is_exact_with_few_discordant_items():
    result = mcnemar_test(10, 2, 8, 10)
    assert result.exact and result.p_value == pytest.approx(2 * 56 / 1024)


def test_mcnemar_without_discordant_items_shows_no_difference():
    assert mcnemar_test(30, 0, 0, 5).p_value == 1.0
    assert math.isnan(mcnemar_test(0, 0, 0, 0).p_value)
