"""Bradley-Terry strengths from pairwise battles, with bootstrap intervals, as Chatbot Arena ranks models.

The fit is the unpenalised maximum-likelihood Bradley-Terry model, as Chatbot Arena's `fit_bt` computes it (one
battle per row, ties half a win each way, no intercept, no penalty). The maximum likelihood is finite only where
the battles' win graph is strongly connected (every model beat, or tied, a model that leads back to it); where it is
not (a version that won or lost every battle, or a group that never lost to the others), and only there, each model
is given one virtual tie against the pool, shared evenly over the other models: the smallest prior that keeps every
rating finite. It changes no rating where the plain fit exists, and is applied per bootstrap round where a
resample breaks the graph. It works on aggregated counts (a matrix of wins), as a batched Newton solve so that 200
bootstrap rounds cost milliseconds; tests check it against `sklearn.linear_model.LogisticRegression(C=np.inf)`
on the expanded battles.

Strengths are on the natural-log scale and sum to zero; `to_rating` puts them on an Elo-like scale (400 points:
ten-to-one odds) around 1000."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import connected_components

SCALE = 400 / math.log(10)
CENTRE = 1000.0
VIRTUAL_TIES = 1.0  # per model, against the pool, where the plain maximum likelihood is infinite
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


def with_prior(wins: np.ndarray) -> np.ndarray:
    """The win matrices, plus VIRTUAL_TIES per model against the pool in the rounds whose maximum likelihood is
    infinite (a win graph that is not strongly connected)."""
    n = wins.shape[1]
    if n < 2:
        return wins
    prior = np.full((n, n), VIRTUAL_TIES / 2 / (n - 1))
    np.fill_diagonal(prior, 0)
    beaten = wins > 0
    beaten[:, np.arange(n), np.arange(n)] = True
    out = wins.copy()
    for r in np.flatnonzero(~beaten.all(axis=(1, 2))):  # every pair won both ways: connected, nothing to check
        components, _ = connected_components(beaten[r], directed=True, connection="strong")
        if components > 1:
            out[r] += prior
    return out


def fit(wins: np.ndarray) -> np.ndarray:
    """Strengths (rounds, n) on the natural-log scale, summing to zero, from win matrices (rounds, n, n): the
    maximum likelihood, with the virtual ties of `with_prior` where it would be infinite.

    Newton's method on the log-loss: gradient sum_j n_ij p_ij - w_i, Hessian the Laplacian of n_ij p_ij (1 - p_ij),
    made regular by adding the all-ones matrix / n (the strengths are fixed only up to a constant: this pins their
    sum, which the gradient never moves)."""
    wins = with_prior(wins)
    games = wins + wins.transpose(0, 2, 1)
    won = wins.sum(axis=2)
    rounds, n = wins.shape[:2]
    diagonal = np.arange(n)
    strengths = np.zeros((rounds, n))
    for _ in range(MAX_STEPS):
        p = 1 / (1 + np.exp(strengths[:, None, :] - strengths[:, :, None]))  # p[r, i, j]: i beats j
        gradient = (games * p).sum(axis=2) - won
        weight = games * p * (1 - p)
        hessian = 1 / n - weight
        hessian[:, diagonal, diagonal] += weight.sum(axis=2)
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

    def among_present(wins: np.ndarray) -> np.ndarray:  # a model without battles would break the win graph
        return wins[:, present][:, :, present]

    rating = dict(zip(present, to_rating(fit(among_present(battles.matrix())))[0], strict=True))
    cells = np.concatenate([battles.wins_first, battles.wins_second, battles.ties])
    draws = rng.multinomial(battles.total, cells / cells.sum(), size=rounds) if rounds else cells[None]
    sampled = to_rating(fit(among_present(battles.matrix(draws))))
    low, high = (dict(zip(present, bound, strict=True)) for bound in np.percentile(sampled, [2.5, 97.5], axis=0))
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
