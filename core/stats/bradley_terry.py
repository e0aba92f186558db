"""Bradley-Terry strengths from pairwise battles, with bootstrap intervals, as Chatbot Arena ranks models.

The fit is the logistic regression Chatbot Arena runs (one row per battle, +1 for one model, -1 for the other, no
intercept), with scikit-learn's default L2 penalty (C = 1), which is negligible at thousands of battles and keeps
a version that won or lost every battle finite. It works on aggregated counts (a matrix of wins), and is written as
a batched Newton solve so that 200 bootstrap rounds cost milliseconds; tests check it against
`sklearn.linear_model.LogisticRegression` on the expanded battles. Ties count as half a win each way.

Strengths are on the natural-log scale and sum to zero; `to_rating` puts them on an Elo-like scale (400 points:
ten-to-one odds) around 1000."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SCALE = 400 / math.log(10)
CENTRE = 1000.0
L2 = 1.0  # the penalty of scikit-learn's LogisticRegression(C=1.0)
MAX_STEPS = 100
TOLERANCE = 1e-10


@dataclass(frozen=True)
class Standing:
    model: str
    rating: float
    ci_low: float
    ci_high: float
    battles: int
    wins: int
    losses: int
    ties: int


@dataclass(frozen=True)
class Battles:
    """Aggregated battles: per pair of models (first < second by index), how often each won and how often they tied."""

    models: list[str]
    first: np.ndarray
    second: np.ndarray
    wins_first: np.ndarray
    wins_second: np.ndarray
    ties: np.ndarray

    @classmethod
    def of(cls, models: list[str], outcomes: list[tuple[str, str, int, int, int]]) -> Battles:
        """From rows of (model a, model b, wins of a, wins of b, ties), in any order and repetition. Battles of a
        model with itself carry no information and are left out."""
        index = {m: k for k, m in enumerate(models)}
        pairs: dict[tuple[int, int], np.ndarray] = {}
        for a, b, wins_a, wins_b, ties in outcomes:
            i, j = index[a], index[b]
            if i == j:
                continue
            key, counts = ((i, j), (wins_a, wins_b, ties)) if i < j else ((j, i), (wins_b, wins_a, ties))
            pairs[key] = pairs.get(key, np.zeros(3)) + counts
        keys = sorted(pairs)
        cells = np.array([pairs[k] for k in keys]).reshape(-1, 3)
        first = np.array([i for i, _ in keys], dtype=int)
        second = np.array([j for _, j in keys], dtype=int)
        return cls(models, first, second, cells[:, 0], cells[:, 1], cells[:, 2])

    @property
    def total(self) -> int:
        return int(self.wins_first.sum() + self.wins_second.sum() + self.ties.sum())

    def matrix(self, cells: np.ndarray | None = None) -> np.ndarray:
        """wins[..., i, j]: battles i won against j, ties half to each. `cells` (rounds, 3 * pairs) are resampled
        counts laid out as (wins of first, wins of second, ties); default: the observed ones."""
        k = len(self.first)
        if cells is None:
            cells = np.concatenate([self.wins_first, self.wins_second, self.ties])[None]
        n = len(self.models)
        wins = np.zeros((cells.shape[0], n, n))
        wins[:, self.first, self.second] = cells[:, :k] + cells[:, 2 * k :] / 2
        wins[:, self.second, self.first] = cells[:, k : 2 * k] + cells[:, 2 * k :] / 2
        return wins


def fit(wins: np.ndarray, l2: float = L2) -> np.ndarray:
    """Strengths (rounds, n) on the natural-log scale, summing to zero, from win matrices (rounds, n, n).

    Newton's method on the penalized log-loss: gradient sum_j n_ij p_ij - w_i + l2 s_i, Hessian the Laplacian of
    n_ij p_ij (1 - p_ij) plus l2 I."""
    games = wins + wins.transpose(0, 2, 1)
    won = wins.sum(axis=2)
    rounds, n = wins.shape[:2]
    diagonal = np.arange(n)
    strengths = np.zeros((rounds, n))
    for _ in range(MAX_STEPS):
        p = 1 / (1 + np.exp(strengths[:, None, :] - strengths[:, :, None]))  # p[r, i, j]: i beats j
        gradient = (games * p).sum(axis=2) - won + l2 * strengths
        weight = games * p * (1 - p)
        hessian = -weight
        hessian[:, diagonal, diagonal] += weight.sum(axis=2) + l2
        step = np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]
        step = np.clip(step, -2.0, 2.0)  # the log-loss is convex, but a first step from 0 can overshoot
        strengths -= step
        if np.abs(step).max() < TOLERANCE:
            break
    return strengths


def to_rating(strengths: np.ndarray) -> np.ndarray:
    return CENTRE + SCALE * strengths


def standings(battles: Battles, *, rounds: int, rng: np.random.Generator) -> list[Standing]:
    """Every model that fought at least one battle, best first, with its rating and 95% bootstrap interval.

    The bootstrap resamples the N battles with replacement: a multinomial draw over the distinct (pair, outcome)
    cells, the same as resampling battle rows without a million of them in memory."""
    present = sorted(set(battles.first) | set(battles.second))
    if not present:
        return []
    rating = to_rating(fit(battles.matrix()))[0]
    cells = np.concatenate([battles.wins_first, battles.wins_second, battles.ties])
    draws = rng.multinomial(battles.total, cells / cells.sum(), size=rounds) if rounds else cells[None]
    sampled = to_rating(fit(battles.matrix(draws)))
    low, high = np.percentile(sampled, [2.5, 97.5], axis=0)
    table = []
    for k in present:
        as_first, as_second = battles.first == k, battles.second == k
        wins = int(battles.wins_first[as_first].sum() + battles.wins_second[as_second].sum())
        losses = int(battles.wins_second[as_first].sum() + battles.wins_first[as_second].sum())
        ties = int(battles.ties[as_first | as_second].sum())
        table.append(
            Standing(battles.models[k], float(rating[k]), float(low[k]), float(high[k]), wins + losses + ties, wins,
                     losses, ties)
        )  # fmt: skip
    return sorted(table, key=lambda s: -s.rating)
