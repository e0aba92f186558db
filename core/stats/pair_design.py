"""Which pairs of models to compare next so that the Bradley-Terry leaderboard settles with the fewest comparisons.

At the current strengths (core.stats.bradley_terry.fit), one more battle of i and j adds p(1 - p) (e_i - e_j)
(e_i - e_j)^T to the Fisher information, p being the chance that i wins: a pair far apart in strength teaches
little, a pair whose ratings are both settled teaches nothing we need. The ratings' covariance is the information's
inverse on the strengths' sum-zero plane, and a battle changes it by a rank-one update (Sherman-Morrison), whatever
its outcome. So a batch of battles can be planned greedily before any of them is fought: each step takes the pair
that most reduces the sum of the ratings' variances, each weighted by its own variance to the power EMPHASIS - 1
(so the widest intervals, which the leaderboard waits for, count most), plus the variance of the difference of each
two neighbours in the current ranking, weighted alike and by the chance that their order is wrong (the normal
approximation): the leaderboard also waits for the order, and two close versions need far more battles of their own
than 1 in every pair's share. Then it updates the covariance. Chatbot Arena's active rule (arXiv 2403.04132, section
7.1) samples pairs by the reduction of their win rate's variance; this one aims at what the leaderboard waits for."""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.special import ndtr

from core.stats.bradley_terry import Battles, fit

EMPHASIS = 3  # how much the widest intervals count over the others (1: every variance alike)
ORDER = 1.0  # weight of the neighbours' order against the intervals (0: intervals only)
PRIOR_GAMES = 1.0  # per model against the pool, at p = 1/2: keeps the covariance finite before any battle


def covariance(battles: Battles, strengths: np.ndarray) -> np.ndarray:
    """The strengths' covariance (natural-log scale) from the battles' Fisher information at `strengths`."""
    n = len(battles.models)
    games = battles.matrix()[0]
    games = games + games.T
    p = 1 / (1 + np.exp(strengths[None, :] - strengths[:, None]))
    weight = games * p * (1 - p) + PRIOR_GAMES / 4 / max(n - 1, 1)
    np.fill_diagonal(weight, 0)
    laplacian = np.diag(weight.sum(axis=1)) - weight
    return np.linalg.inv(laplacian + 1 / n) - 1 / n  # the inverse on the sum-zero plane (the pseudo-inverse)


def plan(battles: Battles, size: int) -> Counter[tuple[str, str]]:
    """How many of the next `size` battles each pair of models (a, b; a before b in `battles.models`) should get."""
    if len(battles.models) < 2:
        return Counter()
    strengths = fit(battles.matrix())[0]
    chosen, _ = extend(covariance(battles, strengths), strengths, size)
    return Counter({(battles.models[i], battles.models[j]): count for (i, j), count in chosen.items()})


def extend(
    cov: np.ndarray, strengths: np.ndarray, size: int, order: float = ORDER
) -> tuple[Counter[tuple[int, int]], np.ndarray]:
    """The greedy batch: `size` battles, one at a time, each the pair (by index) that most reduces the weighted sum
    of variances (the neighbours' order weighted by `order`); and the covariance after them."""
    n = len(strengths)
    first, second = np.triu_indices(n, 1)
    columns = np.arange(len(first))
    p = 1 / (1 + np.exp(strengths[second] - strengths[first]))
    weight = p * (1 - p)
    ranked = np.argsort(-strengths)
    upper, lower = ranked[:-1], ranked[1:]  # neighbours in the current ranking
    gap = strengths[upper] - strengths[lower]
    chosen: Counter[tuple[int, int]] = Counter()
    for _ in range(size):
        focus = np.diag(cov) ** (EMPHASIS - 1)
        d = cov[:, first] - cov[:, second]  # column per pair: cov (e_i - e_j)
        spread = d[first, columns] - d[second, columns]  # (e_i - e_j)^T cov (e_i - e_j)
        apart = cov[upper, upper] + cov[lower, lower] - 2 * cov[upper, lower]  # variance of neighbours' difference
        unsure = order * ndtr(-gap / np.sqrt(apart)) * apart ** (EMPHASIS - 1)  # by the chance their order is wrong
        reduced = (focus[:, None] * d**2).sum(axis=0) + (unsure[:, None] * (d[upper] - d[lower]) ** 2).sum(axis=0)
        gain = weight * reduced / (1 + weight * spread)
        best = int(np.argmax(gain))
        cov = cov - weight[best] * np.outer(d[:, best], d[:, best]) / (1 + weight[best] * spread[best])
        chosen[int(first[best]), int(second[best])] += 1
    return chosen, cov
