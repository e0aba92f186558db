"""Which pairs of models to compare next so that the Bradley-Terry leaderboard settles with the fewest comparisons.

At the current strengths (core.stats.bradley_terry.fit), one more battle of i and j adds p(1 - p) (e_i - e_j)
(e_i - e_j)^T to the Fisher information, p being the chance that i wins: a pair far apart in strength teaches
little, a pair whose ratings are both settled teaches nothing we need. The ratings' covariance is the information's
inverse on the strengths' sum-zero plane, and a battle changes it by a rank-one update (Sherman-Morrison), whatever
its outcome. So a batch of battles can be planned greedily before any of them is fought: each step takes the pair
that most reduces the sum of the ratings' variances, each weighted by its own variance to the power EMPHASIS - 1
(so the widest intervals, which the leaderboard waits for, count most), then updates the covariance. Chatbot
Arena's active rule (arXiv 2403.04132, section 7.1) samples pairs by the reduction of their win rate's variance;
this one aims at the ratings' intervals themselves."""

from __future__ import annotations

from collections import Counter

import numpy as np

from core.stats.bradley_terry import Battles, fit

EMPHASIS = 3  # how much the widest intervals count over the others (1: every variance alike)
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


def extend(cov: np.ndarray, strengths: np.ndarray, size: int) -> tuple[Counter[tuple[int, int]], np.ndarray]:
    """The greedy batch: `size` battles, one at a time, each the pair (by index) that most reduces the weighted sum
    of variances; and the covariance after them."""
    n = len(strengths)
    first, second = np.triu_indices(n, 1)
    columns = np.arange(len(first))
    p = 1 / (1 + np.exp(strengths[second] - strengths[first]))
    weight = p * (1 - p)
    chosen: Counter[tuple[int, int]] = Counter()
    for _ in range(size):
        focus = np.diag(cov) ** (EMPHASIS - 1)
        d = cov[:, first] - cov[:, second]  # column per pair: cov (e_i - e_j)
        spread = d[first, columns] - d[second, columns]  # (e_i - e_j)^T cov (e_i - e_j)
        gain = weight * (focus[:, None] * d**2).sum(axis=0) / (1 + weight * spread)
        best = int(np.argmax(gain))
        cov = cov - weight[best] * np.outer(d[:, best], d[:, best]) / (1 + weight[best] * spread[best])
        chosen[int(first[best]), int(second[best])] += 1
    return chosen, cov
