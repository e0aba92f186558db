"""What a reward model must beat on the same held-out pairs, as Chatbot Arena controls for style: "pick the longer
answer", and a bag-of-words classifier trained on the same training pairs (scikit-learn). A model that learned only
length or wording does no better than they do; its accuracy on the pairs where they are wrong shows what else it
learned."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.reward.evaluate import share

BASELINES = {"longer_answer": "pick the longer answer", "bag_of_words": "bag-of-words classifier"}


def longer_answer(pairs: Sequence[dict[str, Any]]) -> list[bool]:
    """Right where the chosen answer is the longer one (in characters); a tie in length counts as wrong."""
    return [len(p["chosen_text"]) > len(p["rejected_text"]) for p in pairs]


def bag_of_words(train: Sequence[dict[str, Any]], held_out: Sequence[dict[str, Any]]) -> list[bool]:
    """Logistic regression on the difference of the two answers' word and word-pair counts, trained on the training
    pairs in both orders (so that which answer comes first tells nothing); right where the chosen answer scores
    higher."""
    import numpy as np
    from scipy.sparse import vstack
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    if not train or not held_out:
        return [False] * len(held_out)
    words = CountVectorizer(ngram_range=(1, 2), min_df=2, binary=True)
    words.fit([p[side] for p in train for side in ("chosen_text", "rejected_text")])

    def differences(pairs: Sequence[dict[str, Any]]) -> Any:
        return words.transform([p["chosen_text"] for p in pairs]) - words.transform([p["rejected_text"] for p in pairs])

    x = differences(train)
    classifier = LogisticRegression(max_iter=2000, fit_intercept=False)
    classifier.fit(vstack([x, -x]), np.r_[np.ones(x.shape[0]), np.zeros(x.shape[0])])
    return [bool(score > 0) for score in classifier.decision_function(differences(held_out))]


def against_baselines(
    train: Sequence[dict[str, Any]], held_out: Sequence[dict[str, Any]], model_right: Sequence[bool]
) -> dict[str, Any]:
    """Each baseline's accuracy (with its Wilson interval) on the held-out pairs, and the model's accuracy on the
    pairs where that baseline is wrong."""
    found = {"longer_answer": longer_answer(held_out), "bag_of_words": bag_of_words(train, held_out)}
    baselines, where_wrong = {}, {}
    for name, right in found.items():
        baselines[name] = share(sum(right), len(right))
        missed = [ok for ok, baseline in zip(model_right, right, strict=True) if not baseline]
        where_wrong[name] = share(sum(missed), len(missed))
    return {"baselines": baselines, "where_baselines_wrong": where_wrong}


def beats_baselines(metrics: dict[str, Any]) -> bool:
    """The model beats each baseline: a higher accuracy, and the lower bound of its interval above the baseline's."""
    low, found = (metrics.get("accuracy_ci") or [None])[0], metrics.get("baselines") or {}
    if low is None or not found:
        return False
    return all(metrics["accuracy"] > b["accuracy"] and low > b["ci"][0] for b in found.values() if b["ci"])


def baseline_lines(metrics: dict[str, Any]) -> list[str]:
    """One plain line per baseline, for the CLI, the run page and the model card."""
    lines = []
    for name, label in BASELINES.items():
        baseline = (metrics.get("baselines") or {}).get(name)
        if not baseline or baseline["accuracy"] is None:
            continue
        missed = metrics["where_baselines_wrong"][name]
        model = "n/a" if missed["accuracy"] is None else f"{missed['accuracy']:.1%}"
        lines.append(
            f"{label}: {baseline['accuracy']:.1%} (95% CI {baseline['ci'][0]:.1%}-{baseline['ci'][1]:.1%}); "
            f"the model is right on {model} of the {missed['n']} pairs it gets wrong"
        )
    return lines
