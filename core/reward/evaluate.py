"""Held-out metrics of a reward model: pairwise accuracy with a Wilson 95% interval, per topic and per source, and
the share of single expert votes from the app that it agrees with."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any


def wilson(correct: int, n: int) -> list[float] | None:
    """The Wilson score 95% interval of a proportion, or None without observations."""
    if n == 0:
        return None
    from statsmodels.stats.proportion import proportion_confint  # a second to import: only when needed

    low, high = proportion_confint(correct, n, alpha=0.05, method="wilson")
    return [round(float(low), 4), round(float(high), 4)]


def share(correct: int, n: int) -> dict[str, Any]:
    return {"accuracy": round(correct / n, 4) if n else None, "ci": wilson(correct, n), "n": n, "correct": correct}


def pair_metrics(rows: Sequence[dict[str, Any]], chosen: Sequence[float], rejected: Sequence[float]) -> dict[str, Any]:
    """Accuracy over held-out pairs (a pair counts as right when the chosen answer gets the higher reward),
    overall and per topic and source. The keys "accuracy", "accuracy_ci" and "n_eval_pairs" are read by reports."""
    right = [c > r for c, r in zip(chosen, rejected, strict=True)]
    overall = share(sum(right), len(right))
    groups: dict[str, dict[str, list[bool]]] = {"topic": defaultdict(list), "source": defaultdict(list)}
    for row, ok in zip(rows, right, strict=True):
        for key, group in groups.items():
            group[row[key]].append(ok)
    margins = [c - r for c, r in zip(chosen, rejected, strict=True)]
    return {
        "accuracy": overall["accuracy"],
        "accuracy_ci": overall["ci"],
        "n_eval_pairs": len(right),
        "correct": sum(right),
        "mean_margin": round(sum(margins) / len(margins), 4) if margins else None,
        "by_topic": {name: share(sum(oks), len(oks)) for name, oks in sorted(groups["topic"].items())},
        "by_source": {name: share(sum(oks), len(oks)) for name, oks in sorted(groups["source"].items())},
    }


def vote_agreement(chosen: Sequence[float], rejected: Sequence[float]) -> dict[str, Any]:
    """The share of single expert votes (each with its own winner) whose winner the model also ranks higher."""
    agree = sum(c > r for c, r in zip(chosen, rejected, strict=True))
    result = share(agree, len(chosen))
    return {"share": result["accuracy"], "ci": result["ci"], "n": result["n"], "agree": agree}
